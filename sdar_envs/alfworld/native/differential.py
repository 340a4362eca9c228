"""Differential testing of the native engine against the TextWorld engine.

Both engines play the same game with the same seeded command sequence; at every step (and after reset) the
observation string, the sorted admissible commands without ``help`` and ``won`` must be identical.

Command sequences mix, from a ``random.Random(seed)``: admissible commands (half of those drawn among the commands
other than ``go to``, so episodes open, take, put, heat, clean, cool, slice and use things), invalid text (wrong
instance numbers, other case, unknown words, empty strings, padding) and, when an expert is given, the expert's next
command (so episodes also reach ``won``).

Reference traces (what the TextWorld engine said at every step of such episodes) are stored as gzipped JSON so the
default test run checks identity without running the slow engine; ``benchmarks/bench_alfworld_identity.py`` runs the
two engines live side by side. Trace file: ``{"version", "episodes": [{"split", "task_type", "seed", "grammar",
"policy_seed", "game_sha1", "steps": [{"command", "feedback", "admissible_sha1", "won"}]}]}``; the first step has
command ``None`` (the reset).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

__all__ = [
    "Engine",
    "Mismatch",
    "Step",
    "admissible_digest",
    "compare",
    "draw_command",
    "episode_game",
    "game_digest",
    "load_traces",
    "play_generated_episode",
    "play_side_by_side",
    "save_traces",
    "view",
]

TRACE_VERSION = 1

_INVALID_WORDS = ("", "   ", "jump", "go to moon 1", "take everything", "open sesame", "LOOK", "Inventory", "help me")


class Engine(Protocol):
    """What the harness needs of an engine: ``reset()`` and ``step(command)`` returning ``feedback``,
    ``admissible_commands`` and ``won``."""

    def reset(self) -> Mapping[str, Any]: ...

    def step(self, command: str) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class Step:
    """One compared step: the command (``None`` for the reset) and what the engine answered."""

    command: str | None
    feedback: str
    admissible: tuple[str, ...]
    won: bool


@dataclass(frozen=True)
class Mismatch:
    """The first step at which two engines disagreed: ``field`` is ``feedback``, ``admissible`` or ``won``."""

    step: int
    command: str | None
    field: str
    reference: Any
    native: Any


def view(command: str | None, state: Mapping[str, Any]) -> Step:
    """The compared view of an engine answer: admissible commands sorted, without ``help``."""
    admissible = tuple(sorted(c for c in state["admissible_commands"] if c != "help"))
    return Step(command, str(state["feedback"]), admissible, bool(state["won"]))


def admissible_digest(admissible: Sequence[str]) -> str:
    return hashlib.sha1("\n".join(admissible).encode()).hexdigest()


def compare(index: int, reference: Step, native: Step) -> Mismatch | None:
    """The first difference between two views of one step, if any."""
    if reference.feedback != native.feedback:
        return Mismatch(index, reference.command, "feedback", reference.feedback, native.feedback)
    if reference.admissible != native.admissible:
        ref, nat = set(reference.admissible), set(native.admissible)
        return Mismatch(index, reference.command, "admissible", sorted(ref - nat), sorted(nat - ref))
    if reference.won != native.won:
        return Mismatch(index, reference.command, "won", reference.won, native.won)
    return None


def draw_command(rng: random.Random, admissible: Sequence[str], expert_command: str | None) -> str:
    """One command of the seeded mix described in the module docstring."""
    roll = rng.random()
    if expert_command is not None and roll < 0.35:
        return expert_command
    if roll < 0.50:
        not_goto = [c for c in admissible if not c.startswith("go to ")]
        if not_goto:
            return rng.choice(not_goto)
    if roll < 0.85 and admissible:
        return rng.choice(list(admissible))
    kind = rng.randrange(4)
    if kind == 0 and admissible:  # a near miss: another instance number
        words = rng.choice(list(admissible)).split()
        return " ".join(str(int(w) + rng.randint(1, 3)) if w.isdigit() else w for w in words)
    if kind == 1 and admissible:  # padding and case
        command = rng.choice(list(admissible))
        return rng.choice([f"  {command}  ", command.upper(), command.capitalize(), command + "."])
    return rng.choice(_INVALID_WORDS)


def play_side_by_side(
    reference: Engine,
    native: Engine,
    *,
    policy_seed: int,
    max_steps: int = 50,
    expert: Callable[[], str | None] | None = None,
) -> tuple[list[Step], Mismatch | None]:
    """Reset both engines and play up to ``max_steps`` seeded commands (stopping early once won).

    ``expert()`` (optional) gives the native expert's next command for the native engine's current state. Returns the
    reference steps and the first mismatch (``None`` if the engines agreed throughout).
    """
    rng = random.Random(policy_seed)
    ref_step = view(None, reference.reset())
    nat_step = view(None, native.reset())
    steps = [ref_step]
    mismatch = compare(0, ref_step, nat_step)
    for i in range(1, max_steps + 1):
        if mismatch is not None or ref_step.won:
            break
        command = draw_command(rng, ref_step.admissible, expert() if expert else None)
        ref_step = view(command, reference.step(command))
        nat_step = view(command, native.step(command))
        steps.append(ref_step)
        mismatch = compare(i, ref_step, nat_step)
    return steps, mismatch


def episode_game(k: int, seed0: int) -> tuple[str, str, int, str]:
    """``(split, task_type, seed, grammar)`` of differential episode ``k``: task type ``TASK_TYPES[k % 6]``, split
    ``SPLITS[k // 6 % 3]``, generator seed ``seed0 + k``, grammar ``new`` for even ``k`` and ``old`` for odd ``k``."""
    from sdar_envs.alfworld.games import SPLITS, TASK_TYPES

    return SPLITS[k // 6 % 3], TASK_TYPES[k % 6], seed0 + k, "new" if k % 2 == 0 else "old"


def play_generated_episode(
    k: int, seed0: int, root: str | Path | None = None, max_steps: int = 50
) -> tuple[dict[str, Any], list[Step], Mismatch | None]:
    """Episode ``k`` (see :func:`episode_game`) played live on both engines with policy seed ``k`` and the native
    expert mixed in; the game file is written under ``root`` (a temporary directory when None). Returns ``(meta,
    reference steps, first mismatch)``; all of it pickles, so process pools can run episodes."""
    if root is None:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="sdar-alfworld-diff-") as tmp:
            return play_generated_episode(k, seed0, tmp, max_steps)
    from sdar_envs.alfworld.engine import TextWorldEngine
    from sdar_envs.alfworld.games import sample_game, write_game
    from sdar_envs.alfworld.native.engine import NativeEngine
    from sdar_envs.alfworld.native.expert import NativeExpert

    split, task_type, seed, grammar = episode_game(k, seed0)
    gamefile = write_game(sample_game(split, task_type, seed), root)
    reference = TextWorldEngine(grammar)
    try:
        reference.load(gamefile)
        native = NativeEngine(grammar)
        native.load(gamefile)
        steps, mismatch = play_side_by_side(
            reference, native, policy_seed=k, max_steps=max_steps, expert=NativeExpert(native).next_command
        )
    finally:
        reference.close()
    meta = {
        "split": split,
        "task_type": task_type,
        "seed": seed,
        "grammar": grammar,
        "policy_seed": k,
        "game_sha1": game_digest(gamefile),
    }
    return meta, steps, mismatch


def game_digest(path: str | Path) -> str:
    """sha1 of a game file's bytes, so a trace is only replayed on the exact game it was recorded on."""
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def save_traces(path: str | Path, episodes: Sequence[tuple[Mapping[str, Any], Sequence[Step]]]) -> None:
    """Write reference traces (see the module docstring); deterministic bytes for the same content."""
    data = {
        "version": TRACE_VERSION,
        "episodes": [
            {
                **meta,
                "steps": [
                    {
                        "command": s.command,
                        "feedback": s.feedback,
                        "admissible_sha1": admissible_digest(s.admissible),
                        "won": s.won,
                    }
                    for s in steps
                ],
            }
            for meta, steps in episodes
        ],
    }
    raw = json.dumps(data, indent=None, separators=(",", ":"), sort_keys=True).encode()
    Path(path).write_bytes(gzip.compress(raw, mtime=0))


def load_traces(path: str | Path) -> list[dict[str, Any]]:
    """Read traces written by :func:`save_traces`."""
    data = json.loads(gzip.decompress(Path(path).read_bytes()))
    if data.get("version") != TRACE_VERSION:
        raise ValueError(f"trace file {path} has version {data.get('version')}, expected {TRACE_VERSION}")
    return data["episodes"]
