"""Rollout engines on this machine: reply tokens/s of HF ``generate`` vs colocated vLLM, log-prob agreement, sync time.

The same prompts for both engines: the first-turn prompts of Search-QA training tasks as the trainer renders them
(chat template, history-free), ``--prompts`` of them, each answered with exactly ``--new-tokens`` tokens (no stop ids,
so both engines generate the same number of tokens) at temperature 1. Per model:

* tokens/s: one untimed warm-up call per engine, then ``--repeats`` timed calls, HF and vLLM alternating (so a load
  change on a shared machine hits both); the median per engine and the ratio vLLM / HF;
* log-prob agreement: mean and max |sampling log-prob - trainer's recomputation| over every reply token, in float32
  and (``--bf16``) in bfloat16 (model, engine and recomputation all in bfloat16);
* the vLLM weight sync (``reload_weights`` + prefix-cache reset), median of 3.

Records the machine, its load average (before and after) and the command with the table.

    python benchmarks/bench_rollout.py --out benchmarks/results/rollout_engines.md
    python benchmarks/bench_rollout.py --quick        # CI: tiny model, 8 prompts x 16 tokens, one timed call
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sdar_agent.engines import HFEngine, VLLMEngine, shutdown_engines  # noqa: E402
from sdar_agent.env_profiles import profile_for  # noqa: E402
from sdar_agent.policy import Policy, load_policy  # noqa: E402
from sdar_agent.prompts import build_messages  # noqa: E402
from sdar_agent.scoring import score_samples  # noqa: E402


def env_prompts(policy: Policy, count: int) -> list[list[int]]:
    """First-turn prompt ids of Search-QA training tasks ``0 .. count-1``, rendered as the rollout renders them."""
    import gymnasium as gym

    import sdar_envs  # noqa: F401  (registers sdar/*)

    env = gym.make("sdar/SearchQA-v0", split="train")
    prompts = []
    try:
        for index in range(count):
            obs, info = env.reset(seed=index, options={"index": index})
            task = info["task"]
            chat = build_messages(profile_for(task.env), task.instruction, obs, info["admissible_actions"], [], step=0)
            prompts.append(policy.encode(policy.chat_prompt(chat)))
    finally:
        env.close()
    return prompts


def load_average() -> str:
    """The 1, 5 and 15 minute load averages."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def agreement(engine, policy: Policy, prompts: Sequence[Sequence[int]], new_tokens: int) -> dict[str, float]:
    """Mean and max |engine sampling log-prob - recomputed log-prob| over the reply tokens of one call."""
    replies = engine.generate(prompts, max_new_tokens=new_tokens, stop_ids=[], seeds=list(range(len(prompts))))
    recomputed = score_samples(
        policy.model, prompts, [r.token_ids for r in replies], policy.tokenizer.pad_token_id, micro_batch_size=8
    )
    gaps = torch.cat(
        [(torch.tensor(r.logprobs) - old.float()).abs() for r, old in zip(replies, recomputed, strict=True)]
    )
    return {"mean": float(gaps.mean()), "max": float(gaps.max()), "tokens": float(gaps.numel())}


def bench_model(source: str, args: argparse.Namespace) -> dict:
    """Tokens/s of both engines, their log-prob agreement (float32, optionally bfloat16) and the vLLM sync time."""
    started = time.perf_counter()
    policy = load_policy(source)
    load_seconds = time.perf_counter() - started
    prompts = env_prompts(policy, args.prompts)
    max_model_len = max(len(p) for p in prompts) + args.new_tokens
    engines = {"hf": HFEngine(policy), "vllm": VLLMEngine(policy, max_model_len=max_model_len)}
    rates: dict[str, list[float]] = {"hf": [], "vllm": []}
    first_call: dict[str, float] = {}
    try:
        for call in range(args.repeats + 1):
            for name, engine in engines.items():
                seeds = [call * 1000 + i for i in range(len(prompts))]
                began = time.perf_counter()
                replies = engine.generate(prompts, max_new_tokens=args.new_tokens, stop_ids=[], seeds=seeds)
                seconds = time.perf_counter() - began
                if call == 0:
                    first_call[name] = seconds
                else:
                    rates[name].append(sum(len(r.token_ids) for r in replies) / seconds)
        result = {
            "source": source,
            "parameters": sum(p.numel() for p in policy.model.parameters()),
            "prompt_tokens": statistics.mean(len(p) for p in prompts),
            "load_s": load_seconds,
            "first_call_s": first_call,
            "tokens_per_s": {name: statistics.median(values) for name, values in rates.items()},
            "rates": rates,
            "float32": {name: agreement(engine, policy, prompts, args.new_tokens) for name, engine in engines.items()},
        }
        syncs = []
        for _ in range(3):
            began = time.perf_counter()
            engines["vllm"].sync_weights(policy.model)
            syncs.append(time.perf_counter() - began)
        result["sync_s"] = statistics.median(syncs)
    finally:
        for engine in engines.values():
            engine.close()
        shutdown_engines()
    if args.bf16:
        policy.model.to(torch.bfloat16)
        engines = {"hf": HFEngine(policy), "vllm": VLLMEngine(policy, max_model_len=max_model_len)}
        try:
            result["bfloat16"] = {
                name: agreement(engine, policy, prompts, args.new_tokens) for name, engine in engines.items()
            }
        finally:
            for engine in engines.values():
                engine.close()
            shutdown_engines()
    return result


def render(results: Sequence[dict], args: argparse.Namespace, command: str, loads: tuple[str, str]) -> str:
    """The Markdown page of the results."""
    import transformers
    import vllm

    lines = [
        "# Rollout engines: HF generate vs colocated vLLM",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}; "
        f"torch {torch.__version__}, {torch.get_num_threads()} thread(s); transformers {transformers.__version__}; "
        f"vLLM {vllm.__version__}. Load average (1, 5, 15 min) before: {loads[0]}; after: {loads[1]}.",
        "",
        f"{args.prompts} first-turn Search-QA prompts x {args.new_tokens} new tokens (no stop ids), temperature 1, "
        f"float32; median of {args.repeats} timed calls per engine after one warm-up call, engines alternating.",
        "",
        "| model | parameters | mean prompt tokens | HF tokens/s | vLLM tokens/s | vLLM / HF | first call HF / vLLM s "
        "| vLLM sync s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        hf, vl = r["tokens_per_s"]["hf"], r["tokens_per_s"]["vllm"]
        lines.append(
            f"| {r['source']} | {r['parameters'] / 1e6:.2f} M | {r['prompt_tokens']:.0f} | {hf:.0f} | {vl:.0f} "
            f"| {vl / hf:.1f}x | {r['first_call_s']['hf']:.1f} / {r['first_call_s']['vllm']:.1f} | {r['sync_s']:.3f} |"
        )
    lines += [
        "",
        "Log-prob agreement: |sampling log-prob - the trainer's recomputation| per reply token (one call of every "
        "prompt; target mean <= 0.01 in float32).",
        "",
        "| model | dtype | engine | mean | max | tokens |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        for dtype in ("float32", "bfloat16"):
            for name, row in r.get(dtype, {}).items():
                lines.append(
                    f"| {r['source']} | {dtype} | {name} | {row['mean']:.2e} | {row['max']:.2e} | {row['tokens']:.0f} |"
                )
    lines += ["", "Timed calls (tokens/s): " + "; ".join(f"{r['source']} {r['rates']}" for r in results), ""]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["tiny", "smollm2-135m-instruct"])
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--bf16", action="store_true", help="also measure the log-prob agreement in bfloat16")
    parser.add_argument("--torch-threads", type=int, default=0, help="CPU threads (0: torch's default)")
    parser.add_argument("--quick", action="store_true", help="tiny model, 8 prompts x 16 tokens, one timed call")
    parser.add_argument("--out", default=None, help="write the Markdown page here")
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(arguments)
    if args.quick:
        args.models, args.prompts, args.new_tokens, args.repeats = ["tiny"], 8, 16, 1
    if args.torch_threads > 0:
        torch.set_num_threads(args.torch_threads)
    before = load_average()
    results = [bench_model(source, args) for source in args.models]
    text = render(results, args, " ".join(["python benchmarks/bench_rollout.py", *arguments]), (before, load_average()))
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
