"""Step time of SDAR against GRPO in the same run, with the breakdown rollout / teacher / update.

For each env, a GRPO trainer and an SDAR trainer start from the same random-init weights and play the same tasks
with the same seeds (at lr 1e-6 the two policies stay close, so the rollouts match token for token or nearly);
their steps are interleaved (GRPO step 1, SDAR step 1, GRPO step 2, ...) so that load on the machine hits both
alike. The first step of each is a warm-up and is not counted. Reported per method (median over the counted steps):

* ``rollout``: generation, env steps and the old-log-prob pass;
* ``teacher``: building the teacher prompts (skill retrieval, templating, tokenising) and the teacher scoring pass;
* ``reference``: the frozen-reference scoring pass (KL term), identical for both methods;
* ``update``: the loss, backward and optimizer steps (``time/update`` minus the two scoring passes);
* ``step``: the whole step; the ratio SDAR / GRPO of this is the figure the target (<= 1.35) is about.

    python benchmarks/bench_sdar_step.py --out benchmarks/results/sdar_step.md            # CPU, tiny model
    python benchmarks/bench_sdar_step.py --shape qwen2.5-0.5b --tasks 16 --group 8 \\
        --max-response-tokens 128 --out benchmarks/results/sdar_step_gpu.md               # GPU, 0.5B shapes
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from gpu_check_trainer import build_policy  # noqa: E402

from sdar_agent.config import TrainConfig  # noqa: E402
from sdar_agent.trainer import Trainer  # noqa: E402

PARTS = ("rollout", "teacher", "reference", "update", "step")
ENV_PACKAGES = {"searchqa": "sdar_envs.searchqa", "webshop": "sdar_envs.webshop", "alfworld": "sdar_envs.alfworld"}


def available_envs() -> list[str]:
    """The product envs whose modules exist here (ALFWorld only once it has been merged)."""
    return [
        env
        for env, package in ENV_PACKAGES.items()
        if importlib.util.find_spec(package) is not None and importlib.util.find_spec(package + ".env") is not None
    ]


def _parts(metrics: dict) -> dict[str, float]:
    update = metrics["time/update"] - metrics["time/teacher"] - metrics["time/reference"]
    return {
        "rollout": metrics["time/rollout"],
        "teacher": metrics["time/teacher"],
        "reference": metrics["time/reference"],
        "update": update,
        "step": metrics["time/step"],
    }


def bench_env(env: str, args: argparse.Namespace, dtype: torch.dtype) -> dict:
    policy = build_policy(args.shape, dtype, seed=0)
    trainers = {}
    for method in ("grpo", "sdar"):
        config = TrainConfig(
            env=env,
            method=method,
            model=f"random {args.shape}",
            dtype=args.dtype,
            steps=args.steps,
            tasks_per_step=args.tasks,
            group_size=args.group,
            max_turns=args.max_turns,
            max_response_tokens=args.max_response_tokens,
            max_prompt_tokens=args.max_prompt_tokens,
            micro_batch_size=args.micro_batch,
            mini_batch_size=args.mini_batch,
            skill_strategy=args.skill_strategy,
            skill_k=args.skill_k,
            torch_threads=args.threads,
            teacher_prefix_cache=not args.no_prefix_cache,
            output_dir=str(Path(args.output_dir) / f"{env}-{method}"),
            progress=False,
        )
        trainers[method] = Trainer(config, policy=copy.deepcopy(policy))
    runs: dict[str, list[dict]] = {"grpo": [], "sdar": []}
    try:
        for _ in range(args.steps):
            for method, trainer in trainers.items():
                runs[method].append(trainer.train_step())
    finally:
        for trainer in trainers.values():
            trainer.close()
    out: dict = {"env": env}
    for method, history in runs.items():
        counted = history[1:] if len(history) > 1 else history
        out[method] = {part: statistics.median(_parts(m)[part] for m in counted) for part in PARTS}
        out[method]["samples"] = statistics.mean(m["samples"] for m in counted)
        out[method]["response_length"] = statistics.mean(m["response_length"] for m in counted)
        out[method]["prompt_tokens"] = statistics.mean(m["prompt_tokens"] for m in counted)
        if method == "sdar":
            out[method]["teacher_prompt_tokens"] = statistics.mean(m["teacher/prompt_tokens"] for m in counted)
            out[method]["teacher_truncated_frac"] = statistics.mean(m["teacher/truncated_frac"] for m in counted)
            out[method]["skills_per_episode"] = statistics.mean(m["skills/per_episode"] for m in counted)
    out["ratio"] = out["sdar"]["step"] / out["grpo"]["step"]
    return out


def _machine() -> str:
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
            if line.startswith("Model name")
        )
    except (StopIteration, OSError):
        model = platform.processor() or "unknown CPU"
    return f"{model}, {os.cpu_count()} CPUs (nproc), load average {os.getloadavg()[0]:.1f} at the end"


def main(argv: Sequence[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", choices=("tiny", "qwen2.5-0.5b"), default="tiny")
    parser.add_argument("--envs", default=",".join(available_envs()), help="comma-separated env short names")
    parser.add_argument("--tasks", type=int, default=4, help="tasks per step")
    parser.add_argument("--group", type=int, default=4, help="rollouts per task")
    parser.add_argument("--steps", type=int, default=4, help="steps per method (the first is a warm-up)")
    parser.add_argument("--max-turns", type=int, default=3)
    parser.add_argument("--max-response-tokens", type=int, default=32)
    parser.add_argument("--max-prompt-tokens", type=int, default=4096)
    parser.add_argument("--micro-batch", type=int, default=8)
    parser.add_argument("--mini-batch", type=int, default=64)
    parser.add_argument("--skill-strategy", default="keyword")
    parser.add_argument("--skill-k", type=int, default=None)
    parser.add_argument(
        "--no-prefix-cache", action="store_true", help="score every teacher prompt whole (no shared-prefix KV cache)"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--dtype", default="bfloat16" if torch.cuda.is_available() else "float32")
    parser.add_argument("--output-dir", default="/tmp/sdar_bench_step")
    parser.add_argument("--out", default=None, help="append the result table (Markdown) to this file")
    args = parser.parse_args(argv)
    dtype = {"bfloat16": torch.bfloat16, "float32": torch.float32, "float16": torch.float16}[args.dtype]
    envs = [e for e in args.envs.split(",") if e]
    if not envs:
        raise SystemExit("no env available: install the package (make install) or pass --envs")
    started = time.perf_counter()
    results = []
    for env in envs:
        results.append(bench_env(env, args, dtype))
        print(json.dumps(results[-1]), flush=True)  # each env as it finishes, in case the run is cut short
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else _machine()
    if args.out:
        command = "python benchmarks/bench_sdar_step.py " + " ".join(argv if argv is not None else sys.argv[1:])
        lines = [
            f"### {args.shape}, skills `{args.skill_strategy}` k={args.skill_k}, teacher prefix cache "
            f"{'off' if args.no_prefix_cache else 'on'}",
            "",
            f"Command: `{command}`",
            "",
            f"Device: {device}; torch {torch.__version__}; {args.dtype}; {args.tasks} tasks x {args.group} rollouts, "
            f"<= {args.max_turns} turns of <= {args.max_response_tokens} reply tokens, prompts <= "
            f"{args.max_prompt_tokens} tokens; medians over steps 2..{args.steps}; "
            f"total {time.perf_counter() - started:.0f} s.",
            "",
            "| env | method | step s | rollout s | teacher s | reference s | update s | samples | prompt tok | "
            "teacher prompt tok | SDAR/GRPO |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in results:
            for method in ("grpo", "sdar"):
                m = r[method]
                teacher_tokens = f"{m['teacher_prompt_tokens']:.0f}" if method == "sdar" else "-"
                ratio = f"**{r['ratio']:.2f}x**" if method == "sdar" else ""
                lines.append(
                    f"| {r['env']} | {method} | {m['step']:.2f} | {m['rollout']:.2f} | {m['teacher']:.2f} | "
                    f"{m['reference']:.2f} | {m['update']:.2f} | {m['samples']:.0f} | {m['prompt_tokens']:.0f} | "
                    f"{teacher_tokens} | {ratio} |"
                )
        with Path(args.out).open("a") as handle:
            handle.write("\n".join(lines) + "\n\n")
    return results


if __name__ == "__main__":
    main()
