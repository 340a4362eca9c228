"""One full GRPO training step (rollout + update) with the HF engine vs the colocated vLLM engine, on each env.

``--model`` (the tiny model by default; any policy source, e.g. the shipped 5.5M-parameter ALFWorld warm start
``sdar_agent/warm_start/alfworld-small-sft``), ``--tasks`` tasks x ``--group`` rollouts per step, replies up to
``--max-response-tokens`` (a random-init model rarely ends its turn, so its replies run to the limit), episodes cut
at ``--max-turns``. Per env and
engine it runs ``--steps`` steps; the first includes the engine's warm-up and is not counted: the table gives the mean
of the others for the step and its parts (``time/generate`` inside the engine, ``time/old_logp``, the rest of the
rollout = prompt rendering and env steps, ``time/update``, ``time/sync``), and the ratio HF / vLLM of the step time.
Engines alternate per env, so a load change on a shared machine hits both; the load average is recorded.

    python benchmarks/bench_engine_step.py --out benchmarks/results/engine_step.md
    python benchmarks/bench_engine_step.py --model sdar_agent/warm_start/alfworld-small-sft --envs alfworld searchqa
    python benchmarks/bench_engine_step.py --quick     # CI: Search-QA, 2 tasks x 2, 2 steps of 8-token replies
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sdar_agent.config import TrainConfig  # noqa: E402
from sdar_agent.engines import shutdown_engines  # noqa: E402
from sdar_agent.trainer import Trainer  # noqa: E402

ENVS = ("searchqa", "alfworld", "webshop")
PARTS = ("time/step", "time/rollout", "time/generate", "time/old_logp", "time/update", "time/sync")


def run(env: str, engine: str, args: argparse.Namespace, directory: Path) -> dict[str, float]:
    """Mean metrics of steps 2.. of a fresh run of ``env`` with ``engine``."""
    config = TrainConfig(
        env=env,
        model=args.model,
        steps=args.steps,
        tasks_per_step=args.tasks,
        group_size=args.group,
        max_turns=args.max_turns,
        max_response_tokens=args.max_response_tokens,
        lr=1e-4,
        output_dir=str(directory / f"{env}-{engine}"),
        progress=False,
        rollout_engine=engine,
        torch_threads=args.torch_threads,
    )
    trainer = Trainer(config)
    parameters = sum(p.numel() for p in trainer.policy.model.parameters())
    try:
        history = [trainer.train_step() for _ in range(args.steps)]
    finally:
        trainer.close()
        shutdown_engines()
    counted = history[1:] or history
    out = {key: statistics.mean(m[key] for m in counted) for key in PARTS}
    out["samples"] = statistics.mean(m["samples"] for m in counted)
    out["reply_tokens"] = statistics.mean(m["samples"] * m["response_length"] for m in counted)
    out["prompt_tokens"] = statistics.mean(m["prompt_tokens"] for m in counted)
    out["gap"] = max(m["rollout/logprob_gap_mean"] for m in history)
    out["parameters"] = float(parameters)
    return out


def _parameters(results: dict[str, dict[str, dict[str, float]]]) -> float:
    """The policy's parameter count, as the runs measured it."""
    return next(r["parameters"] for by_engine in results.values() for r in by_engine.values())


def render(results: dict[str, dict[str, dict[str, float]]], args, command: str, loads: tuple[str, str]) -> str:
    """The Markdown page."""
    lines = [
        "# One training step: HF generate vs colocated vLLM",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread(s). Load average (1, 5, 15 min) before: {loads[0]}; after: {loads[1]}.",
        "",
        f"Model {args.model} ({_parameters(results) / 1e6:.2f}M parameters), GRPO, {args.tasks} tasks x "
        f"{args.group} rollouts, replies <= {args.max_response_tokens} tokens, "
        f"<= {args.max_turns} turns; mean of steps 2..{args.steps} (step 1 warms the engine up). Seconds.",
        "",
        "| env | engine | samples | reply tokens | prompt tokens | step | rollout | generate | old log-probs | "
        "env + prompts | update | sync | max logprob gap | step HF / vLLM | bound |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for env, by_engine in results.items():
        ratio = by_engine["hf"]["time/step"] / by_engine["vllm"]["time/step"] if len(by_engine) == 2 else None
        for engine, r in by_engine.items():
            bound = ""
            if engine == "hf" and r["time/step"] > r["time/generate"]:
                bound = f"{r['time/step'] / (r['time/step'] - r['time/generate']):.2f}x"
            rest = r["time/rollout"] - r["time/generate"] - r["time/old_logp"]
            lines.append(
                f"| {env} | {engine} | {r['samples']:.0f} | {r['reply_tokens']:.0f} | {r['prompt_tokens']:.0f} "
                f"| {r['time/step']:.2f} | {r['time/rollout']:.2f} | {r['time/generate']:.2f} "
                f"| {r['time/old_logp']:.2f} | {rest:.2f} | {r['time/update']:.2f} | {r['time/sync']:.3f} "
                f"| {r['gap']:.1e} | {f'{ratio:.2f}x' if ratio and engine == 'vllm' else ''} | {bound} |"
            )
    lines += [
        "",
        "`bound` (HF rows): the largest cut any engine could bring to that step, if its generation took no time at",
        "all: step / (step - generate). Where it is below a target ratio, no rollout engine reaches the target; the",
        "rest of the step (old log-probs, update) has to shrink first.",
    ]
    return "\n".join([*lines, ""])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--envs", nargs="+", default=list(ENVS), choices=ENVS)
    parser.add_argument("--model", default="tiny", help="policy source: tiny, an alias or a model directory")
    parser.add_argument("--engines", nargs="+", default=["hf", "vllm"], choices=("hf", "vllm"))
    parser.add_argument("--tasks", type=int, default=4)
    parser.add_argument("--group", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--max-turns", type=int, default=3)
    parser.add_argument("--max-response-tokens", type=int, default=64)
    parser.add_argument("--torch-threads", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="Search-QA, 2 tasks x 2, 2 steps of 8-token replies")
    parser.add_argument("--out", default=None, help="write the Markdown page here")
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(arguments)
    if args.quick:
        args.envs, args.tasks, args.group, args.steps, args.max_response_tokens = ["searchqa"], 2, 2, 2, 8
    before = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    results: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="sdar-engine-step-") as directory:
        for env in args.envs:
            results[env] = {engine: run(env, engine, args, Path(directory)) for engine in args.engines}
            print(env, {e: round(r["time/step"], 2) for e, r in results[env].items()}, flush=True)
    after = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    text = render(results, args, " ".join(["python benchmarks/bench_engine_step.py", *arguments]), (before, after))
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
