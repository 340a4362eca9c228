"""Learning sanity of the GRPO loop: the tiny model goes from chance to >= 95% success on the two-choice task.

The two-choice env (``tests/two_choice_env.py``) offers two admissible words and rewards the correct one; the policy
must answer ``<think>...</think><action>WORD</action>``. A random-init model never produces that format, so GRPO
would see identical returns and no signal. The benchmark therefore starts as real use starts from an instruct
model: a short supervised warm-up teaches the *format* with a word drawn at random, independent of the observation,
which leaves the policy at chance (about 50%). GRPO (``sdar_agent.trainer.Trainer``, method ``grpo``) then runs.

Variants (``--variant``):

``fixed`` (default)
    ``left`` is correct in every task: GRPO must find from reward alone which admissible word pays.
``named``
    each task names its correct word (``--repeat`` times in the observation): the policy must read the observation.
    Measured negative result, kept for the record: the format warm-up flattens the tiny model's dependence on the
    observation (p(word) varies by ~1e-4 across observations afterwards), and GRPO does not recover it within the
    step budget; see ``benchmarks/results/trainer_sanity_named.md``.

Success is measured on the training rollouts (temperature 1.0) and at the end with the evaluation routine on the
test split (16 episodes per task at temperature 1.0, and greedy).

Run (about 1.5 minutes on 2 CPU cores)::

    .venv/bin/python benchmarks/bench_trainer_sanity.py --out benchmarks/results
    .venv/bin/python benchmarks/bench_trainer_sanity.py --variant named --repeat 16 --out benchmarks/results
"""

from __future__ import annotations

import argparse
import csv
import platform
import random
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import two_choice_env  # noqa: E402

from sdar_agent.config import TrainConfig  # noqa: E402
from sdar_agent.env_profiles import profile_for  # noqa: E402
from sdar_agent.evaluation import evaluate  # noqa: E402
from sdar_agent.policy import Policy, TinyConfig, build_tiny_policy  # noqa: E402
from sdar_agent.prompts import build_messages  # noqa: E402
from sdar_agent.scoring import pad_samples, score_tokens  # noqa: E402
from sdar_agent.trainer import Trainer  # noqa: E402

WORDS = ("left", "right")
CORPUS = tuple(f"<think>I choose {w}</think><action>{w}</action>" for w in WORDS) * 4


def format_warmup(policy: Policy, steps: int, lr: float, seed: int, env_kwargs: dict) -> list[float]:
    """Teach the reply format with a random word (independent of the observation): the policy ends at chance."""
    rng = random.Random(seed)
    env = two_choice_env.TwoChoiceEnv("train", WORDS, **env_kwargs)
    profile = profile_for(env.env_name)
    optimizer = torch.optim.AdamW(policy.model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        prompts, replies = [], []
        for _ in range(16):
            obs, info = env.reset(options={"index": rng.randrange(env.num_tasks)})
            messages = build_messages(profile, info["task"].instruction, obs, info["admissible_actions"])
            word = rng.choice(WORDS)
            prompts.append(policy.encode(policy.chat_prompt(messages)))
            reply = f"<think>I choose {word}</think><action>{word}</action>"
            replies.append(policy.encode(reply) + policy.stop_ids)
        batch = pad_samples(prompts, replies, policy.tokenizer.pad_token_id)
        scored = score_tokens(policy.model, batch, with_entropy=False)
        loss = -(scored.logp * batch.response_mask).sum() / batch.response_mask.sum()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=40, help="GRPO steps")
    parser.add_argument("--warmup-steps", type=int, default=80, help="format warm-up steps (16 replies each)")
    parser.add_argument("--lr", type=float, default=1e-3, help="GRPO learning rate")
    parser.add_argument("--tasks-per-step", type=int, default=8)
    parser.add_argument("--group-size", type=int, default=8)
    parser.add_argument("--mini-batch", type=int, default=0, help="turn-samples per AdamW step")
    parser.add_argument("--warmup-ratio", type=float, default=0.0, help="fraction of GRPO steps with lr warm-up")
    parser.add_argument(
        "--variant",
        choices=("fixed", "named"),
        default="fixed",
        help="fixed: 'left' is correct in every task; named: the correct word varies and must be read",
    )
    parser.add_argument("--repeat", type=int, default=1, help="times the observation writes the correct word")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results"), help="where the MD/CSV/PNG go")
    parser.add_argument("--run-dir", default="/tmp/sdar_trainer_sanity", help="scratch run directory")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    started = time.perf_counter()

    policy = build_tiny_policy(TinyConfig(hidden_size=64, num_layers=2, seed=args.seed, extra_corpus=CORPUS))
    env_kwargs: dict = {"repeat": args.repeat}
    if args.variant == "fixed":
        env_kwargs["correct"] = "left"
    warmup_losses = format_warmup(policy, args.warmup_steps, 5e-3, args.seed, env_kwargs)
    env_id = two_choice_env.ENV_ID
    before = evaluate(
        policy,
        env_id,
        split="test",
        temperature=1.0,
        max_new_tokens=16,
        seed=args.seed,
        repeats=16,
        env_kwargs=env_kwargs,
    )

    run_dir = Path(args.run_dir)
    if (run_dir / "metrics.jsonl").exists():
        (run_dir / "metrics.jsonl").unlink()
    config = TrainConfig(
        env=env_id,
        env_kwargs=env_kwargs,
        method="grpo",
        steps=args.steps,
        tasks_per_step=args.tasks_per_step,
        group_size=args.group_size,
        max_response_tokens=16,
        lr=args.lr,
        mini_batch_size=args.mini_batch,
        micro_batch_size=16,
        warmup_ratio=args.warmup_ratio,
        seed=args.seed,
        output_dir=str(run_dir),
        progress=True,
        torch_threads=1,
    )
    trainer = Trainer(config, policy=policy)
    history = trainer.fit()
    trainer.close()
    after_sampled = evaluate(
        policy,
        env_id,
        split="test",
        temperature=1.0,
        max_new_tokens=16,
        seed=args.seed + 1,
        repeats=16,
        env_kwargs=env_kwargs,
    )
    after_greedy = evaluate(
        policy, env_id, split="test", temperature=0.0, max_new_tokens=16, seed=args.seed + 1, env_kwargs=env_kwargs
    )
    seconds = time.perf_counter() - started

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"trainer_sanity_{args.variant}"
    keys = ["step", "success", "return", "invalid_rate", "kl", "entropy", "clip_frac", "grad_norm", "response_length"]
    with (out / f"{stem}.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(keys)
        for record in history:
            writer.writerow([record.get(k) for k in keys])

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 3.5))
    axis.plot([r["step"] for r in history], [r["success"] for r in history], label="success (training rollouts)")
    axis.plot([r["step"] for r in history], [r["invalid_rate"] for r in history], label="invalid-format rate")
    axis.axhline(0.95, color="grey", linestyle="--", linewidth=0.8)
    axis.axhline(0.5, color="grey", linestyle=":", linewidth=0.8)
    axis.set_xlabel("GRPO step")
    axis.set_ylim(-0.02, 1.02)
    axis.set_title(f"GRPO, tiny Qwen3, two-choice task ({args.variant})")
    axis.legend(fontsize=8)
    axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(out / f"{stem}.png", dpi=100)

    first_95 = next((r["step"] for r in history if r["success"] >= 0.95), None)
    last5 = sum(r["success"] for r in history[-5:]) / min(5, len(history))
    params = sum(p.numel() for p in policy.model.parameters())
    lines = [
        f"# Trainer learning sanity: GRPO on the two-choice task ({args.variant} variant)",
        "",
        (
            "Variant `fixed`: `left` is the correct word in every task (the observation says so), so the policy must "
            "learn from reward which admissible word pays."
            if args.variant == "fixed"
            else "Variant `named`: each task names its correct word (left or right, written "
            f"{args.repeat} time(s) in the observation), so the policy must read the observation."
        ),
        "",
        f"Command: `.venv/bin/python benchmarks/bench_trainer_sanity.py --steps {args.steps} --warmup-steps "
        f"{args.warmup_steps} --lr {args.lr} --tasks-per-step {args.tasks_per_step} --group-size {args.group_size} "
        f"--mini-batch {args.mini_batch} --warmup-ratio {args.warmup_ratio} --variant {args.variant} "
        f"--repeat {args.repeat} --seed {args.seed} --out DIR`",
        "",
        f"Machine: {platform.processor() or platform.machine()}, `nproc` = {_nproc()}, torch {torch.__version__}, "
        "1 torch thread, CPU.",
        "",
        f"Model: tiny random-init Qwen3 ({params:,} parameters, hidden 64, 2 layers, byte-level BPE vocab "
        f"{len(policy.tokenizer)}). Format warm-up: {args.warmup_steps} steps x 16 replies of cross-entropy on "
        "`<think>I choose W</think><action>W</action>` with W drawn at random (independent of the observation), "
        f"final loss {warmup_losses[-1]:.3f}. GRPO: {args.tasks_per_step} tasks x {args.group_size} rollouts per step, "
        f"temperature 1.0, lr {args.lr} ({args.warmup_ratio:.0%} linear warm-up), "
        + (
            f"mini-batches of {args.mini_batch} turn-samples"
            if args.mini_batch
            else "the whole batch as one mini-batch"
        )
        + " (one AdamW step each), KL 0.01 to the warmed-up model, entropy 0.001, "
        "clip 0.2 / dual clip 3.0.",
        "",
        "| | success | invalid rate |",
        "|---|---|---|",
        f"| before GRPO (test split, 4 tasks x 16, temperature 1.0) | {before['success']:.3f} | "
        f"{before['invalid_rate']:.3f} |",
        f"| GRPO step 1 (training rollouts) | {history[0]['success']:.3f} | {history[0]['invalid_rate']:.3f} |",
        f"| mean of the last 5 GRPO steps (training rollouts) | {last5:.3f} | "
        f"{sum(r['invalid_rate'] for r in history[-5:]) / min(5, len(history)):.3f} |",
        f"| after GRPO (test split, 4 tasks x 16, temperature 1.0) | {after_sampled['success']:.3f} | "
        f"{after_sampled['invalid_rate']:.3f} |",
        f"| after GRPO (test split, greedy) | {after_greedy['success']:.3f} | {after_greedy['invalid_rate']:.3f} |",
        "",
        f"First step with training success >= 0.95: {first_95}. Total wall time {seconds:.0f} s "
        "(warm-up, GRPO and evaluations).",
        "",
        f"Curve: `{stem}.png`; per-step numbers: `{stem}.csv`.",
        "",
        f"Target (>= 0.95 after GRPO, sampled): {'met' if after_sampled['success'] >= 0.95 else 'NOT met'}.",
    ]
    (out / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _nproc() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 0


if __name__ == "__main__":
    main()
