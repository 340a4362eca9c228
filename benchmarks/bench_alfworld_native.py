"""Speed and memory of the native ALFWorld engine beside the TextWorld engine, on the same generated games.

For game ``k`` (task type ``TASK_TYPES[k % 6]``, split ``SPLITS[k // 6 % 3]``, seed ``seed0 + k``, grammar ``new``):

* **load**: reading and preparing the game file (TextWorld: ``PddlEnv.load``, Fast Downward translation included;
  native: parsing the problem, building the world and command tables);
* **reset**: ``engine.reset()`` on the loaded game;
* **step**: ``engine.step(command)`` over a seeded episode of up to ``--steps`` commands mixing admissible commands,
  invalid text and the native expert's commands (:mod:`sdar_envs.alfworld.native.differential`); both engines get
  the same commands.

Wall-clock time is what a caller waits; CPU time (``time.thread_time``) is what the engine itself costs, without the
time the process waits for a core on a shared machine. Memory per env: for the native engine, the bytes Python
allocates for one loaded and reset engine (``tracemalloc``); for the TextWorld engine, the growth of the process's
resident set while one engine is loaded and reset (it allocates in C++ too). Run::

    python benchmarks/bench_alfworld_native.py --games 12 --native-games 240 --steps 50
"""

from __future__ import annotations

import argparse
import gc
import random
import resource
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

from sdar_envs.alfworld.engine import TextWorldEngine
from sdar_envs.alfworld.games import SPLITS, TASK_TYPES, sample_game, write_game
from sdar_envs.alfworld.native.differential import draw_command
from sdar_envs.alfworld.native.engine import NativeEngine
from sdar_envs.alfworld.native.expert import NativeExpert


def _quantiles(values: list[float]) -> tuple[float, float]:
    values = sorted(values)
    p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
    return statistics.median(values), p95


def _commands(gamefile: Path, seed: int, steps: int) -> list[str]:
    """The seeded command sequence of one episode, drawn while playing the native engine."""
    engine = NativeEngine("new")
    engine.load(gamefile)
    state = engine.reset()
    expert = NativeExpert(engine)
    rng = random.Random(seed)
    commands = []
    for _ in range(steps):
        if state["won"]:
            break
        command = draw_command(rng, [c for c in state["admissible_commands"] if c != "help"], expert.next_command())
        commands.append(command)
        state = engine.step(command)
    return commands


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.thread_time()


def _since(start: tuple[float, float]) -> tuple[float, float]:
    wall, cpu = _clock()
    return wall - start[0], cpu - start[1]


def _time_engine(make, gamefile: Path, commands: list[str]):
    """``(load, reset, [step, ...])``, each a ``(wall seconds, CPU seconds of this thread)`` pair."""
    engine = make()
    t = _clock()
    engine.load(gamefile)
    load = _since(t)
    t = _clock()
    engine.reset()
    reset = _since(t)
    steps = []
    for command in commands:
        t = _clock()
        engine.step(command)
        steps.append(_since(t))
    engine.close()
    return load, reset, steps


def _rss_kib() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() // 1024


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--games", type=int, default=12, help="games played on both engines")
    parser.add_argument("--native-games", type=int, default=240, help="games played on the native engine alone")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--seed0", type=int, default=500_000)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as root:
        games = []
        for k in range(max(args.games, args.native_games)):
            spec = sample_game(SPLITS[k // 6 % 3], TASK_TYPES[k % 6], args.seed0 + k)
            gamefile = write_game(spec, root)
            games.append((gamefile, _commands(gamefile, k, args.steps)))

        results = {}
        for name, make, count in (
            ("native", lambda: NativeEngine("new"), args.native_games),
            ("native (same games as TextWorld)", lambda: NativeEngine("new"), args.games),
            ("textworld", lambda: TextWorldEngine("new"), args.games),
        ):
            loads, resets, steps = [], [], []
            for gamefile, commands in games[:count]:
                load, reset, step = _time_engine(make, gamefile, commands)
                loads.append(load)
                resets.append(reset)
                steps.extend(step)
            results[name] = (count, len(steps), loads, resets, steps)

        gamefile = games[0][0]
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        native = NativeEngine("new")
        native.load(gamefile)
        native.reset()
        native_bytes = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        rss0 = _rss_kib()
        textworld = TextWorldEngine("new")
        textworld.load(gamefile)
        textworld.reset()
        textworld_kib = _rss_kib() - rss0

    print("Wall-clock / CPU time (ms), median and p95 over games (load, reset) or steps (step):")
    print()
    print("| engine | games | steps | load wall | load CPU | reset wall | reset CPU | step wall | step CPU |")
    print("|---|---|---|---|---|---|---|---|---|")
    medians = {}
    for name, (count, nsteps, loads, resets, steps) in results.items():
        cells = []
        for phase, values in (("load", loads), ("reset", resets), ("step", steps)):
            for which in (0, 1):
                median, p95 = _quantiles([v[which] for v in values])
                medians[name, phase, which] = median
                cells.append(f"{1e3 * median:.3f} / {1e3 * p95:.3f}")
        print(f"| {name} | {count} | {nsteps} | " + " | ".join(cells) + " |")
    tw, nat = "textworld", "native (same games as TextWorld)"
    print()
    for phase in ("load", "reset", "step"):
        wall = medians[tw, phase, 0] / medians[nat, phase, 0]
        cpu = medians[tw, phase, 1] / medians[nat, phase, 1]
        print(f"median {phase} speed-up on the same games: {wall:.0f}x wall-clock, {cpu:.0f}x CPU time")
    print(f"memory per env: native {native_bytes / 1024:.0f} KiB (tracemalloc), ", end="")
    print(f"textworld {textworld_kib} KiB (RSS growth)")
    textworld.close()


if __name__ == "__main__":
    main()
