"""GPU check of the trainer: a random-init model with Qwen2.5-0.5B shapes, GRPO steps on WebShop, speed and memory.

Prints (and writes as Markdown with ``--out``) rollout tokens/s (generated reply tokens per second of rollout, env
time included), update tokens/s (prompt + reply tokens through forward + backward per second of update, reference
scoring included) and the peak GPU memory. Defaults: 16 tasks x 8 rollouts, 2 steps, at most 3 turns of 128 reply
tokens (a random-init model never ends its turn, so every reply runs to the limit; the cap keeps the check near
5 minutes on one H100/H200 with HF ``generate``).

    python benchmarks/gpu_check_trainer.py --out benchmarks/results/trainer_gpu_check.md
    python benchmarks/gpu_check_trainer.py --shape tiny --env two_choice_env:sdar_test/TwoChoice-v0 \\
        --tasks 2 --group 2 --steps 1 --max-turns 1 --max-response-tokens 4        # CPU smoke run
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the test-only two-choice env, for CPU smoke runs

from sdar_agent.config import TrainConfig  # noqa: E402
from sdar_agent.policy import Policy, TinyConfig, build_tiny_policy, build_tiny_tokenizer, stop_token_ids  # noqa: E402
from sdar_agent.trainer import Trainer  # noqa: E402

#: Qwen2.5-0.5B(-Instruct) architecture (config.json of the release): 494 M parameters with tied embeddings.
QWEN25_05B = dict(
    hidden_size=896,
    intermediate_size=4864,
    num_hidden_layers=24,
    num_attention_heads=14,
    num_key_value_heads=2,
    vocab_size=151936,
    max_position_embeddings=32768,
    tie_word_embeddings=True,
)


def build_policy(shape: str, dtype: torch.dtype, seed: int) -> Policy:
    """A random-init policy: ``qwen2.5-0.5b`` shapes (tiny byte-level tokenizer, full 151,936-row vocab) or tiny."""
    if shape == "tiny":
        return build_tiny_policy(TinyConfig(seed=seed))
    from transformers import AutoModelForCausalLM, Qwen2Config

    tokenizer = build_tiny_tokenizer()
    config = Qwen2Config(
        **QWEN25_05B,
        bos_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return Policy(model, tokenizer, f"random {shape}", stop_token_ids(tokenizer, model))


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", choices=("qwen2.5-0.5b", "tiny"), default="qwen2.5-0.5b")
    parser.add_argument("--env", default="webshop", help="env short name or Gymnasium id")
    parser.add_argument("--env-kwargs", default="{}", help="JSON keyword arguments for gymnasium.make")
    parser.add_argument("--tasks", type=int, default=16, help="tasks per step")
    parser.add_argument("--group", type=int, default=8, help="rollouts per task")
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--max-turns", type=int, default=3)
    parser.add_argument("--max-response-tokens", type=int, default=128)
    parser.add_argument("--micro-batch", type=int, default=16)
    parser.add_argument("--mini-batch", type=int, default=64)
    parser.add_argument("--dtype", default="bfloat16" if torch.cuda.is_available() else "float32")
    parser.add_argument("--output-dir", default="/tmp/sdar_gpu_check")
    parser.add_argument("--out", default=None, help="write the result table (Markdown) here")
    args = parser.parse_args(argv)

    dtype = {"bfloat16": torch.bfloat16, "float32": torch.float32, "float16": torch.float16}[args.dtype]
    started = time.perf_counter()
    policy = build_policy(args.shape, dtype, seed=0)
    params = sum(p.numel() for p in policy.model.parameters())
    config = TrainConfig(
        env=args.env,
        env_kwargs=json.loads(args.env_kwargs),
        model=f"random {args.shape}",
        dtype=args.dtype,
        steps=args.steps,
        tasks_per_step=args.tasks,
        group_size=args.group,
        max_turns=args.max_turns,
        max_response_tokens=args.max_response_tokens,
        micro_batch_size=args.micro_batch,
        mini_batch_size=args.mini_batch,
        output_dir=args.output_dir,
        progress=True,
    )
    metrics_path = Path(args.output_dir) / "metrics.jsonl"
    if metrics_path.exists():
        metrics_path.unlink()
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    trainer = Trainer(config, policy=policy)
    history = [trainer.train_step() for _ in range(args.steps)]
    trainer.close()
    peak = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else float("nan")
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else platform.processor() or "cpu"
    result = {
        "device": device,
        "shape": args.shape,
        "parameters": params,
        "steps": args.steps,
        "samples_per_step": [m["samples"] for m in history],
        "rollout_tokens_per_s": [round(m["rollout_tokens_per_s"], 1) for m in history],
        "update_tokens_per_s": [round(m["update_tokens_per_s"], 1) for m in history],
        "rollout_seconds": [round(m["time/rollout"], 2) for m in history],
        "update_seconds": [round(m["time/update"], 2) for m in history],
        "peak_memory_gib": round(peak, 2),
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(result, indent=2))
    if args.out:
        command = "python benchmarks/gpu_check_trainer.py " + " ".join(argv if argv is not None else sys.argv[1:])
        lines = [
            "# Trainer GPU check",
            "",
            f"Command: `{command}`",
            "",
            f"Device: {device}; torch {torch.__version__}; {params / 1e6:.0f} M parameters ({args.shape}, random init, "
            f"{args.dtype}); env {args.env}; {args.tasks} tasks x {args.group} rollouts; <= {args.max_turns} turns of "
            f"<= {args.max_response_tokens} reply tokens.",
            "",
            "| step | samples | rollout s | rollout tokens/s | update s | update tokens/s |",
            "|---|---|---|---|---|---|",
        ]
        for i, m in enumerate(history):
            lines.append(
                f"| {i + 1} | {m['samples']:.0f} | {m['time/rollout']:.1f} | {m['rollout_tokens_per_s']:.0f} | "
                f"{m['time/update']:.1f} | {m['update_tokens_per_s']:.0f} |"
            )
        lines += ["", f"Peak GPU memory: {peak:.2f} GiB. Total wall time {result['total_seconds']} s."]
        Path(args.out).write_text("\n".join(lines) + "\n")
    return result


if __name__ == "__main__":
    main()
