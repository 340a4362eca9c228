"""Identity of the native ALFWorld engine with the TextWorld engine.

``tests/data/alfworld_native_traces.json.gz`` holds what the TextWorld engine answered at every step of 60 seeded
episodes (10 per task type, over the three splits, both grammars, up to 50 commands mixing admissible commands,
invalid text and expert commands), recorded by ``benchmarks/bench_alfworld_identity.py --episodes 60 --save-traces``.
The native engine replays every episode and must give the same observation, the same sorted admissible commands
(without ``help``) and the same ``won`` at every step. A scripted episode through the quirks of a hand-written kitchen
is played live on both engines in both grammars, and 60 more generated episodes are played live on both engines
side by side by a ``slow`` test (in ``make test`` and CI; ``make test-fast`` leaves it out). The benchmark runs
2,000.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sdar_envs.alfworld.games import SPLITS, TASK_TYPES, sample_game, write_game
from sdar_envs.alfworld.native.differential import (
    admissible_digest,
    game_digest,
    load_traces,
    play_generated_episode,
    view,
)
from sdar_envs.alfworld.native.engine import NativeEngine

TRACES = Path(__file__).parent / "data" / "alfworld_native_traces.json.gz"


def _episodes() -> list[dict]:
    return load_traces(TRACES)


def test_traces_cover_every_task_type_split_and_grammar_with_at_least_60_episodes() -> None:
    episodes = _episodes()
    assert len(episodes) >= 60
    assert {e["task_type"] for e in episodes} == set(TASK_TYPES)
    assert {e["split"] for e in episodes} == set(SPLITS)
    assert {e["grammar"] for e in episodes} == {"new", "old"}
    assert any(e["steps"][-1]["won"] for e in episodes)
    assert any(s["feedback"] == "Nothing happens." for e in episodes for s in e["steps"])


def test_native_engine_replays_every_reference_trace_identically(tmp_path: Path) -> None:
    for episode in _episodes():
        gamefile = write_game(sample_game(episode["split"], episode["task_type"], episode["seed"]), tmp_path)
        assert game_digest(gamefile) == episode["game_sha1"], "the generator no longer draws the recorded game"
        engine = NativeEngine(episode["grammar"])
        engine.load(gamefile)
        for i, recorded in enumerate(episode["steps"]):
            command = recorded["command"]
            step = view(command, engine.reset() if command is None else engine.step(command))
            where = f"{episode['task_type']} seed={episode['seed']} {episode['grammar']} step {i} ({command!r})"
            assert step.feedback == recorded["feedback"], where
            assert admissible_digest(step.admissible) == recorded["admissible_sha1"], where
            assert step.won == recorded["won"], where


LIVE_EPISODES = 60
LIVE_SEED0 = 300_000  # other games than the recorded traces (seed0 100000) and the benchmark run (200000)


@pytest.mark.slow
def test_native_and_textworld_engines_agree_live_on_60_episodes() -> None:
    """Both engines side by side, live: 60 episodes of up to 50 seeded commands (10 per task type, all splits, both
    grammars), in two processes. Every step's observation, admissible list and ``won`` must agree."""
    from concurrent.futures import ProcessPoolExecutor
    from functools import partial

    play = partial(play_generated_episode, seed0=LIVE_SEED0, max_steps=50)
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(play, range(LIVE_EPISODES)))
    mismatches = [f"{meta['task_type']} seed={meta['seed']} {meta['grammar']}: {m}" for meta, _, m in results if m]
    assert not mismatches, "\n".join(mismatches)
    assert {meta["task_type"] for meta, _, _ in results} == set(TASK_TYPES)
    assert {meta["split"] for meta, _, _ in results} == set(SPLITS)
    assert {meta["grammar"] for meta, _, _ in results} == {"new", "old"}
    assert sum(len(steps) - 1 for _, steps, _ in results) >= 10 * LIVE_EPISODES
    assert sum(steps[-1].won for _, steps, _ in results) >= LIVE_EPISODES // 2


QUIRK_SCRIPT = [
    "look",
    "go to cabinet 2",
    "go to cabinet 1",
    "open cabinet 1",
    "open cabinet 2",
    "take mug 1 from cabinet 1",
    "examine mug 1",
    "move mug 1 to cabinet 2",
    "put mug 1 in/on cabinet 2",
    "look",
    "take mug 1 from cabinet 2",
    "go to microwave 1",
    "heat mug 1 with microwave 1",
    "examine mug 1",
    "go to sidetable 1",
    "use desklamp 1",
    "use desklamp 1",
    "go to countertop 1",
    "move mug 1 to countertop 1",
    "put mug 1 in/on countertop 1",
    "take knife 1 from countertop 1",
    "slice apple 1 with knife 1",
    "inventory",
    "help",
]


@pytest.mark.parametrize("grammar", ["new", "old"])
def test_quirks_on_a_hand_written_kitchen_match_the_textworld_engine(tmp_path: Path, grammar: str) -> None:
    from test_alfworld_native import write_problem

    from sdar_envs.alfworld.engine import TextWorldEngine

    gamefile = write_problem(tmp_path)
    reference, native = TextWorldEngine(grammar), NativeEngine(grammar)
    reference.load(gamefile)
    native.load(gamefile)
    assert view(None, native.reset()) == view(None, reference.reset())
    for command in QUIRK_SCRIPT:
        assert view(command, native.step(command)) == view(command, reference.step(command)), command
