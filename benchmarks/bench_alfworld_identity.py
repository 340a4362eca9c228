"""Identity benchmark: the native ALFWorld engine against the TextWorld engine, live, side by side.

Episode ``k`` plays the generated game ``(split, task type, seed)`` = ``(SPLITS[k // 6 % 3], TASK_TYPES[k % 6],
seed0 + k)`` under grammar ``new`` for even ``k`` and ``old`` for odd ``k``, with the seeded command mix of
:mod:`sdar_envs.alfworld.native.differential` (admissible commands, invalid text, the native expert's commands),
up to ``--max-steps`` commands or until won. At every step the observation, the sorted admissible commands without
``help`` and ``won`` are compared; the first mismatch of an episode is printed and counted.

    python benchmarks/bench_alfworld_identity.py --episodes 2000 --workers 2   # the full run (about an hour, 2 cores)
    python benchmarks/bench_alfworld_identity.py --episodes 60 --save-traces tests/data/alfworld_native_traces.json.gz

``--save-traces`` writes the TextWorld engine's answers as reference traces, which the default test run replays on
the native engine (``tests/test_alfworld_native_identity.py``). ``--max-minutes`` stops early and reports what ran.
``--workers N`` plays episodes in N processes (the result is the same set of episodes, in any order).
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

from sdar_envs.alfworld.native.differential import Mismatch, Step, play_generated_episode, save_traces


def _play(k: int, seed0: int, max_steps: int) -> tuple[int, dict[str, Any], list[Step], Mismatch | None]:
    meta, steps, mismatch = play_generated_episode(k, seed0, max_steps=max_steps)
    return k, meta, steps, mismatch


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--episodes", type=int, default=2000)
    parser.add_argument("--first-episode", type=int, default=0, help="play episodes k = first .. first+episodes-1")
    parser.add_argument("--max-steps", type=int, default=50)
    parser.add_argument("--seed0", type=int, default=100_000, help="generator seed of episode 0")
    parser.add_argument("--max-minutes", type=float, default=None, help="stop starting episodes after this long")
    parser.add_argument("--workers", type=int, default=1, help="processes playing episodes side by side")
    parser.add_argument("--save-traces", type=Path, default=None, help="write the reference traces here")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    episodes = steps = mismatches = won = 0
    recorded: dict[int, tuple[dict[str, Any], list[Step]]] = {}
    pending: set[Future] = set()
    next_k = args.first_episode
    last_k = args.first_episode + args.episodes
    stopped = False
    # Each TextWorld engine maps a private copy of libdownward.so (33 MB) from a deleted temporary file and never
    # unloads it, so a long-lived process fills the disk (about 30 GB per 1,000 episodes); workers are replaced
    # every 100 episodes to give the space back.
    with ProcessPoolExecutor(max_workers=max(1, args.workers), max_tasks_per_child=100) as pool:
        while pending or (next_k < last_k and not stopped):
            while not stopped and next_k < last_k and len(pending) < 2 * max(1, args.workers):
                if args.max_minutes is not None and time.perf_counter() - start > 60 * args.max_minutes:
                    print(f"stopped starting episodes after {args.max_minutes} min", flush=True)
                    stopped = True
                    break
                pending.add(pool.submit(_play, next_k, args.seed0, args.max_steps))
                next_k += 1
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                k, meta, trace, mismatch = future.result()
                episodes += 1
                steps += len(trace) - 1
                won += trace[-1].won
                if mismatch is not None:
                    mismatches += 1
                    print(
                        f"MISMATCH episode {k} {meta['split']} {meta['task_type']} seed={meta['seed']} "
                        f"grammar={meta['grammar']}: {mismatch}",
                        flush=True,
                    )
                if args.save_traces is not None:
                    recorded[k] = (meta, trace)
                if episodes % 20 == 0:
                    rate = (time.perf_counter() - start) / episodes
                    print(
                        f"{episodes} episodes, {steps} steps, {mismatches} mismatching, {rate:.2f} s/episode (wall)",
                        flush=True,
                    )
    if args.save_traces is not None:
        save_traces(args.save_traces, [recorded[k] for k in sorted(recorded)])
    minutes = (time.perf_counter() - start) / 60
    print(
        f"episodes={episodes} (k={args.first_episode}..{next_k - 1}) steps={steps} won={won} "
        f"episodes_with_mismatch={mismatches} max_steps={args.max_steps} workers={args.workers} minutes={minutes:.1f}",
        flush=True,
    )
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
