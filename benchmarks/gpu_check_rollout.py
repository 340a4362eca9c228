"""GPU check of the rollout engines: HF ``generate`` with the static KV cache against the dynamic one, at 0.5B shapes.

A random-init model with Qwen2.5-0.5B shapes (bfloat16) generates ``--batch`` replies of exactly ``--new-tokens``
tokens (no stop ids: every row runs to the limit) from random ``--prompt-tokens``-token prompts, with each engine:

``hf-dynamic``  ``generate`` with the dynamic KV cache (the rollout engine of the trainer before the static cache);
``hf-static``   ``cache_implementation="static"``, which ``generate`` compiles on CUDA (the HF engine's default there);
``hf-static-eager``  the static cache without compilation (does compiling pay?);
``vllm``        the colocated vLLM engine, when vLLM is installed.

Each engine gets ``--warmup`` untimed calls (compilation, CUDA graphs) and ``--repeats`` timed ones; the table gives
reply tokens/s (median of the timed calls), the ratio to ``hf-dynamic`` and to the trainer's earlier figure (3,950
reply tokens/s, ``benchmarks/results/trainer_gpu_check.md``), and peak GPU memory. It needs only torch and
transformers (vLLM optional), and runs in about 5 minutes on one H100/H200:

    python benchmarks/gpu_check_rollout.py --out benchmarks/results/rollout_gpu_check.md
    python benchmarks/gpu_check_rollout.py --quick      # CPU smoke run: tiny shape, 4 x 8 tokens
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sdar_agent.engines import HFEngine, VLLMEngine, shutdown_engines, vllm_available  # noqa: E402
from sdar_agent.policy import Policy, TinyConfig, build_tiny_policy, build_tiny_tokenizer, stop_token_ids  # noqa: E402

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

#: Reply tokens/s of the trainer's rollout on an H200 with the dynamic cache (trainer_gpu_check.md, step 2).
EARLIER_ROLLOUT_TOKENS_PER_S = 3950.0


def build_policy(shape: str, dtype: torch.dtype, device: str, seed: int = 0) -> Policy:
    """A random-init policy: ``qwen2.5-0.5b`` shapes (tiny byte-level tokenizer, full 151,936-row vocab) or tiny."""
    if shape == "tiny":
        policy = build_tiny_policy(TinyConfig(seed=seed))
        policy.model.to(device=device, dtype=dtype)
        return policy
    from transformers import AutoModelForCausalLM, Qwen2Config

    tokenizer = build_tiny_tokenizer()
    config = Qwen2Config(
        **QWEN25_05B,
        bos_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=dtype).to(device)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return Policy(model, tokenizer, f"random {shape}", stop_token_ids(tokenizer, model))


def make(name: str, policy: Policy, max_model_len: int):
    """The engine ``name`` of the module docstring."""
    if name == "hf-dynamic":
        return HFEngine(policy, cache_implementation="dynamic")
    if name == "hf-static":
        return HFEngine(policy, cache_implementation="static")
    if name == "hf-static-eager":
        return HFEngine(policy, cache_implementation="static", compile=False)
    if name == "vllm":
        return VLLMEngine(policy, max_model_len=max_model_len)
    raise ValueError(f"unknown engine {name!r}")


def measure(engine, prompts: Sequence[Sequence[int]], new_tokens: int, warmup: int, repeats: int) -> dict:
    """Warm-up calls, then timed calls; tokens/s of each timed call and the first call's seconds."""
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    first = None
    for call in range(warmup):
        started = time.perf_counter()
        engine.generate(
            prompts, max_new_tokens=new_tokens, stop_ids=[], seeds=[call * 1000 + i for i in range(len(prompts))]
        )
        if cuda:
            torch.cuda.synchronize()
        first = first if first is not None else time.perf_counter() - started
    rates = []
    for call in range(repeats):
        seeds = [(warmup + call) * 1000 + i for i in range(len(prompts))]
        started = time.perf_counter()
        replies = engine.generate(prompts, max_new_tokens=new_tokens, stop_ids=[], seeds=seeds)
        if cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
        rates.append(sum(len(r.token_ids) for r in replies) / seconds)
    return {
        "tokens_per_s": statistics.median(rates),
        "rates": rates,
        "first_call_s": first or 0.0,
        "peak_gib": torch.cuda.max_memory_allocated() / 2**30 if cuda else 0.0,
    }


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", choices=("qwen2.5-0.5b", "tiny"), default="qwen2.5-0.5b")
    parser.add_argument("--batch", type=int, default=128, help="prompts per call (B)")
    parser.add_argument("--prompt-tokens", type=int, default=512)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls per engine (the first compiles)")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per engine")
    parser.add_argument("--engines", nargs="+", default=["hf-dynamic", "hf-static", "hf-static-eager", "vllm"])
    parser.add_argument("--dtype", default=None, help="default: bfloat16 on CUDA, float32 on CPU")
    parser.add_argument("--quick", action="store_true", help="CPU smoke run: tiny shape, 4 prompts x 8 tokens")
    parser.add_argument("--out", default=None, help="write the result table (Markdown) here")
    args = parser.parse_args(argv)
    if args.quick:
        args.shape, args.batch, args.prompt_tokens, args.new_tokens, args.warmup, args.repeats = "tiny", 4, 16, 8, 1, 1
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = getattr(torch, args.dtype) if args.dtype else (torch.bfloat16 if device == "cuda" else torch.float32)
    started = time.perf_counter()
    policy = build_policy(args.shape, dtype, device)
    vocab = min(len(policy.tokenizer), 500)
    generator = torch.Generator().manual_seed(0)
    prompts = [torch.randint(3, vocab, (args.prompt_tokens,), generator=generator).tolist() for _ in range(args.batch)]
    results: dict[str, dict] = {}
    for name in args.engines:
        if name == "vllm" and not vllm_available():
            print("vllm: not installed here, skipped", flush=True)
            continue
        engine = make(name, policy, args.prompt_tokens + args.new_tokens)
        try:
            results[name] = measure(engine, prompts, args.new_tokens, args.warmup, args.repeats)
        finally:
            engine.close()
            shutdown_engines()
        print(f"{name}: {results[name]['tokens_per_s']:.0f} tokens/s", flush=True)
    base = results.get("hf-dynamic", {}).get("tokens_per_s")
    device_name = torch.cuda.get_device_name() if device == "cuda" else platform.processor() or platform.machine()
    params = sum(p.numel() for p in policy.model.parameters())
    lines = [
        "# Rollout engines GPU check",
        "",
        f"Command: `python benchmarks/gpu_check_rollout.py {' '.join(argv if argv is not None else sys.argv[1:])}`",
        "",
        f"Device: {device_name}; torch {torch.__version__}; {params / 1e6:.0f} M parameters ({args.shape}, random "
        f"init, {str(dtype).removeprefix('torch.')}); B = {args.batch} prompts of {args.prompt_tokens} tokens x "
        f"{args.new_tokens} new tokens (no stop ids); {args.warmup} warm-up + {args.repeats} timed calls per engine.",
        "",
        "| engine | reply tokens/s (median) | vs hf-dynamic | vs earlier 3,950 | first call s | peak GiB |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in results.items():
        rate = row["tokens_per_s"]
        ratio = f"{rate / base:.2f}x" if base else "-"
        earlier = rate / EARLIER_ROLLOUT_TOKENS_PER_S
        lines.append(
            f"| {name} | {rate:.0f} | {ratio} | {earlier:.2f}x | {row['first_call_s']:.1f} | {row['peak_gib']:.2f} |"
        )
    lines += ["", f"Total wall time {time.perf_counter() - started:.1f} s.", ""]
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text)
    return results


if __name__ == "__main__":
    main()
