"""Speed and expert benchmark of sdar/ALFWorld-v0 on the TextWorld engine (the baseline for a faster engine).

For each split, ``--per-type`` games of every task type are played by the hand-coded expert through the env
(``expert_action`` each step). It records reset and step latency per task type (median, p95), the expert's success
rate per split, the manifest's acceptance rate (share of drawn games the expert solved at build time) and a cProfile
of one episode grouped by package. Writes Markdown::

    .venv/bin/python benchmarks/bench_alfworld.py --per-type 3 --out benchmarks/results/alfworld.md
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import statistics
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import gymnasium as gym

import sdar_envs  # noqa: F401
from sdar_envs.alfworld.games import SPLITS, TASK_TYPES
from sdar_envs.alfworld.manifest import manifest_path, manifest_stats


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _play(env: gym.Env, task_id: str) -> tuple[float, list[float], bool]:
    start = time.perf_counter()
    _, info = env.reset(options={"task_id": task_id})
    reset_s = time.perf_counter() - start
    steps = []
    while not info["won"] and info["expert_action"] is not None and len(steps) < 50:
        start = time.perf_counter()
        _, _, _, _, info = env.step(info["expert_action"])
        steps.append(time.perf_counter() - start)
    return reset_s, steps, bool(info["won"])


def _machine() -> str:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next((line.split(":", 1)[1].strip() for line in lscpu.splitlines() if "Model name" in line), "?")
    except (OSError, subprocess.CalledProcessError):
        model = platform.processor() or "?"
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return f"{model}, {nproc} cores (nproc), Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-type", type=int, default=3, help="games per task type and split")
    parser.add_argument("--out", default="benchmarks/results/alfworld.md")
    args = parser.parse_args()

    cache = tempfile.mkdtemp(prefix="sdar-alfworld-bench-")
    load_before = os.getloadavg()[0]
    resets: dict[str, list[float]] = defaultdict(list)
    steps: dict[str, list[float]] = defaultdict(list)
    success: dict[str, list[bool]] = defaultdict(list)
    acceptance: dict[str, tuple[int, int]] = {}
    first_reset: dict[str, float] = {}
    for split in SPLITS:
        if not manifest_path(split).exists():
            continue
        stats = manifest_stats(split)
        acceptance[split] = (stats["games"], stats["drawn"])
        start = time.perf_counter()
        env = gym.make("sdar/ALFWorld-v0", split=split, cache_dir=cache, engine="textworld")
        env.reset(seed=0)
        first_reset[split] = time.perf_counter() - start
        ids = env.unwrapped.task_ids()
        for task_type in TASK_TYPES:
            chosen = [i for i in ids if i.startswith(task_type + "-")][: args.per_type]
            for task_id in chosen:
                reset_s, step_s, won = _play(env, task_id)
                resets[task_type].append(reset_s)
                steps[task_type].extend(step_s)
                success[split].append(won)
                print(f"{split} {task_id}: reset {reset_s:.2f}s, {len(step_s)} steps, won={won}", flush=True)
        env.close()

    env = gym.make("sdar/ALFWorld-v0", split="eval_out_of_distribution", cache_dir=cache, engine="textworld")
    task_id = next(i for i in env.unwrapped.task_ids() if i.startswith("pick_heat_then_place_in_recep-"))
    profiler = cProfile.Profile()
    profiler.enable()
    _play(env, task_id)
    profiler.disable()
    env.close()
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    stats.sort_stats("cumulative").print_stats(25)
    by_package: dict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        parts = Path(filename).parts
        package = next((parts[i + 1] for i, p in enumerate(parts) if p == "site-packages" and i + 1 < len(parts)), "")
        if not package:
            package = "builtins (C)" if filename == "~" else "python stdlib" if "python3" in filename else filename
        by_package[package] += tottime
    total = sum(by_package.values())

    lines = [
        "# ALFWorld on the TextWorld engine: speed and expert baseline",
        "",
        f"Command: `.venv/bin/python benchmarks/bench_alfworld.py --per-type {args.per_type} --out {args.out}`",
        "",
        f"Machine: {_machine()}. 1-minute load average {load_before:.1f} at the start and "
        f"{os.getloadavg()[0]:.1f} at the end: the machine was shared with other jobs, so absolute times are",
        "upper bounds; compare engines only within one run (cProfile adds its own overhead to the profile).",
        "",
        "## Latency per task type (expert episodes through `gym.make('sdar/ALFWorld-v0')`, all splits)",
        "",
        "| task type | resets | reset median (s) | reset p95 (s) | steps | step median (ms) | step p95 (ms) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for task_type in TASK_TYPES:
        r, s = resets[task_type], steps[task_type]
        if not r:
            continue
        lines.append(
            f"| {task_type} | {len(r)} | {statistics.median(r):.2f} | {_pct(r, 0.95):.2f} | {len(s)} | "
            f"{1000 * statistics.median(s):.0f} | {1000 * _pct(s, 0.95):.0f} |"
        )
    all_r = [x for v in resets.values() for x in v]
    all_s = [x for v in steps.values() for x in v]
    lines.append(
        f"| **all** | {len(all_r)} | {statistics.median(all_r):.2f} | {_pct(all_r, 0.95):.2f} | {len(all_s)} | "
        f"{1000 * statistics.median(all_s):.0f} | {1000 * _pct(all_s, 0.95):.0f} |"
    )
    lines += [
        "",
        "A reset on the game already loaded skips the engine's `load` (one of its two PDDL translations); the resets",
        "above all switch games, as a training loop does.",
        "",
        "## Expert success",
        "",
        "| split | games in manifest | expert success (sampled episodes, via the env) | build-time acceptance |"
        " first `make`+`reset` (s, cold cache) |",
        "|---|---:|---:|---:|---:|",
    ]
    for split in SPLITS:
        if split not in acceptance:
            continue
        won = success[split]
        kept, drawn = acceptance[split]
        lines.append(
            f"| {split} | {kept} | {sum(won)}/{len(won)} = {sum(won) / max(1, len(won)):.0%} | "
            f"{kept}/{drawn} = {kept / max(1, drawn):.1%} | {first_reset[split]:.1f} |"
        )
    lines += [
        "",
        "Build-time acceptance: the share of drawn games that alfworld's hand-coded expert solved within 50 commands",
        "(the others are dropped, as `alfworld-generate` drops unsolvable games).",
        "",
        f"## Where the time goes (cProfile of one pick_heat episode: `{task_id}`)",
        "",
        "Own time by package:",
        "",
        "| package | own time (s) | share |",
        "|---|---:|---:|",
    ]
    for package, seconds in sorted(by_package.items(), key=lambda kv: -kv[1])[:12]:
        lines.append(f"| {package} | {seconds:.2f} | {seconds / total:.0%} |")
    lines += ["", "Top entries by cumulative time:", "", "```"]
    text = stream.getvalue().strip().splitlines()
    start_idx = next((i for i, line in enumerate(text) if line.strip().startswith("ncalls")), 0)
    lines += [line.replace(str(Path.cwd()) + "/", "") for line in text[start_idx : start_idx + 26]]
    lines += ["```", ""]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
