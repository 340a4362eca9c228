"""Identity of the native ALFWorld engine with the TextWorld engine.

``tests/data/alfworld_native_traces.json.gz`` holds what the TextWorld engine answered at every step of 60 seeded
episodes (10 per task type, over the three splits, both grammars, up to 50 commands mixing admissible commands,
invalid text and expert commands), recorded by ``benchmarks/bench_alfworld_identity.py --episodes 60 --save-traces``.
The native engine replays every episode and must give the same observation, the same sorted admissible commands
(without ``help``) and the same ``won`` at every step. A scripted episode through the quirks of a hand-written kitchen
is played live on both engines in both grammars; generated games are played live by the ``slow`` tests and the
benchmark.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sdar_envs.alfworld.games import SPLITS, TASK_TYPES, sample_game, write_game
from sdar_envs.alfworld.native.differential import admissible_digest, game_digest, load_traces, play_side_by_side, view
from sdar_envs.alfworld.native.engine import NativeEngine
from sdar_envs.alfworld.native.expert import NativeExpert

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


@pytest.mark.slow
@pytest.mark.parametrize(
    ("task_type", "grammar"), [("pick_heat_then_place_in_recep", "new"), ("pick_two_obj_and_place", "old")]
)
def test_native_and_textworld_engines_agree_live(tmp_path: Path, task_type: str, grammar: str) -> None:
    from sdar_envs.alfworld.engine import TextWorldEngine

    gamefile = write_game(sample_game("eval_out_of_distribution", task_type, 7), tmp_path)
    reference, native = TextWorldEngine(grammar), NativeEngine(grammar)
    reference.load(gamefile)
    native.load(gamefile)
    steps, mismatch = play_side_by_side(
        reference, native, policy_seed=3, max_steps=15, expert=NativeExpert(native).next_command
    )
    assert mismatch is None
    assert len(steps) >= 2


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
