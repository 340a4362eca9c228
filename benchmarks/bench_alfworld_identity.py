"""Identity benchmark: the native ALFWorld engine against the TextWorld engine, live, side by side.

Episode ``k`` plays the generated game ``(split, task type, seed)`` = ``(SPLITS[k // 6 % 3], TASK_TYPES[k % 6],
seed0 + k)`` under grammar ``new`` for even ``k`` and ``old`` for odd ``k``, with the seeded command mix of
:mod:`sdar_envs.alfworld.native.differential` (admissible commands, invalid text, the native expert's commands),
up to ``--max-steps`` commands or until won. At every step the observation, the sorted admissible commands without
``help`` and ``won`` are compared; the first mismatch of an episode is printed and counted.

    python benchmarks/bench_alfworld_identity.py --episodes 2000            # the full run (hours on 2 cores)
    python benchmarks/bench_alfworld_identity.py --episodes 60 --save-traces tests/data/alfworld_native_traces.json.gz

``--save-traces`` writes the TextWorld engine's answers as reference traces, which the default test run replays on
the native engine (``tests/test_alfworld_native_identity.py``). ``--max-minutes`` stops early and reports what ran.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from sdar_envs.alfworld.engine import TextWorldEngine
from sdar_envs.alfworld.games import SPLITS, TASK_TYPES, sample_game, write_game
from sdar_envs.alfworld.native.differential import game_digest, play_side_by_side, save_traces
from sdar_envs.alfworld.native.engine import NativeEngine
from sdar_envs.alfworld.native.expert import NativeExpert


def episode_game(k: int, seed0: int) -> tuple[str, str, int, str]:
    """``(split, task_type, seed, grammar)`` of episode ``k``."""
    return SPLITS[k // 6 % 3], TASK_TYPES[k % 6], seed0 + k, "new" if k % 2 == 0 else "old"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=2000)
    parser.add_argument("--max-steps", type=int, default=50)
    parser.add_argument("--seed0", type=int, default=100_000, help="generator seed of episode 0")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop after this much time")
    parser.add_argument("--save-traces", type=Path, default=None, help="write the reference traces here")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    episodes = steps = mismatches = won = 0
    recorded = []
    with tempfile.TemporaryDirectory() as root:
        for k in range(args.episodes):
            if args.max_minutes is not None and time.perf_counter() - start > 60 * args.max_minutes:
                print(f"stopped after {args.max_minutes} min", flush=True)
                break
            split, task_type, seed, grammar = episode_game(k, args.seed0)
            gamefile = write_game(sample_game(split, task_type, seed), root)
            reference = TextWorldEngine(grammar)
            reference.load(gamefile)
            native = NativeEngine(grammar)
            native.load(gamefile)
            expert = NativeExpert(native)
            trace, mismatch = play_side_by_side(
                reference, native, policy_seed=k, max_steps=args.max_steps, expert=expert.next_command
            )
            reference.close()
            episodes += 1
            steps += len(trace) - 1
            won += trace[-1].won
            if mismatch is not None:
                mismatches += 1
                print(f"MISMATCH episode {k} {split} {task_type} seed={seed} grammar={grammar}: {mismatch}", flush=True)
            meta = {"split": split, "task_type": task_type, "seed": seed, "grammar": grammar, "policy_seed": k}
            if args.save_traces is not None:
                recorded.append(({**meta, "game_sha1": game_digest(gamefile)}, trace))
            if episodes % 20 == 0:
                rate = (time.perf_counter() - start) / episodes
                print(f"{episodes} episodes, {steps} steps, {mismatches} mismatching, {rate:.1f} s/episode", flush=True)
    if args.save_traces is not None:
        save_traces(args.save_traces, recorded)
    minutes = (time.perf_counter() - start) / 60
    print(
        f"episodes={episodes} steps={steps} won={won} episodes_with_mismatch={mismatches} "
        f"max_steps={args.max_steps} minutes={minutes:.1f}",
        flush=True,
    )
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
