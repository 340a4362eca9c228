"""GPU check of the paper's main claim: SDAR against GRPO on ALFWorld, one seed, at a budget the CPU cannot afford.

Both methods start from the shipped claims warm start (``sdar_agent/warm_start/alfworld-small-sft-context``) with the
claims settings (:data:`sdar_agent.claims.ARMS`: SDAR beta 5, lambda 0.01, the teacher reads the env's informative
privileged context; the learning recipe's lr, turns and reply length). They train side by side, one step each in
turn, with the same tasks x group per step, until the time box ``--minutes`` (less the evaluations) or
``--max-steps`` ends, so both always hold the same number of steps. Then the warm start and both policies are
evaluated on the 134 held-out out-of-distribution games without any context, all with the same evaluation seed
(paired). One seed is a direction and a speed check at 4x the CPU cells' samples per step, not a verdict: the
verdicts come from the 3-seed CPU cells (``benchmarks/results/claims.md``).

The device has torch, transformers and accelerate but not the envs' packages (``alfworld``, ``textworld`` and
theirs, ``gymnasium``). Pack them here once (pure Python, or ctypes libraries: they load under any Python 3), carry
the folder and unpack it there::

    echo /.gpu_site/ >> .git/info/exclude
    python benchmarks/gpu_check_claims.py --pack-deps .gpu_site/site.tar.gz        # 17.4 MiB
    # device, carry [".gpu_site"]:
    mkdir -p /tmp/site && tar xzf .gpu_site/site.tar.gz -C /tmp/site && export PYTHONPATH=/tmp/site:. && \\
      PYTHONUNBUFFERED=1 python3 benchmarks/gpu_check_claims.py --out $OUT/claims_gpu_check.md

    python benchmarks/gpu_check_claims.py --quick      # CPU smoke run: 1 step of 2 tasks x 2, 2 evaluation games

The result (Markdown with ``--out``, and JSON beside it) is rewritten after every stage, so a run stopped at its
limit still returns what it measured.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tarfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Packages the envs import that the GPU image lacks (top-level module names in site-packages).
DEVICE_MISSING = (
    "alfworld",
    "textworld",
    "tatsu",
    "jericho",
    "mementos",
    "prompt_toolkit",
    "wcwidth",
    "termcolor",
    "hashids.py",
    "dill",
    "fast_downward",
    "farama_notifications",
    "gymnasium",
    "more_itertools",
)


def pack_deps(target: Path) -> Path:
    """Write the packages of :data:`DEVICE_MISSING` from this interpreter's site-packages into a gzip tarball."""
    import gymnasium

    site = Path(gymnasium.__file__).resolve().parents[1]
    missing = [name for name in DEVICE_MISSING if not (site / name).exists()]
    if missing:
        raise SystemExit(f"not installed in {site}: {', '.join(missing)} (run `make install` first)")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(target, "w:gz") as tar:
        for name in DEVICE_MISSING:
            tar.add(site / name, arcname=name, filter=lambda t: None if "__pycache__" in t.name else t)
    return target


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _trainer(method: str, start: Path, args: argparse.Namespace, out: Path):
    from sdar_agent.claims import ARM_BY_NAME, claims_recipe, rl_settings
    from sdar_agent.config import TrainConfig
    from sdar_agent.engines import HFEngine
    from sdar_agent.trainer import Trainer

    recipe = claims_recipe("alfworld")
    values = {**rl_settings(recipe, ARM_BY_NAME[method], args.quick), "model": str(start), "seed": args.seed}
    values.update(
        steps=args.max_steps,
        tasks_per_step=args.tasks,
        group_size=args.group,
        output_dir=str(out / method),
        progress=False,
        save_every=0,
        rollout_engine="hf",
    )
    trainer = Trainer(TrainConfig(**values))
    # The trainer's HF engine with this check's KV cache (``dynamic``, the default here, compiles no graph per
    # live-batch shape); HFEngine.sync_weights hands it the updated model after every step as usual.
    trainer.engine = HFEngine(trainer.engine.policy, cache_implementation=args.hf_cache)
    return trainer


def _evaluate(model: Path, args: argparse.Namespace) -> dict[str, Any]:
    from sdar_agent.claims import claims_recipe
    from sdar_agent.learning import _evaluate_model

    started = time.perf_counter()
    result = _evaluate_model(
        claims_recipe("alfworld"), model, args.seed, args.eval_tasks, args.quick, engine="hf", device=_device()
    )
    result["seconds"] = time.perf_counter() - started
    return result


def render(result: dict[str, Any]) -> str:
    """The Markdown report of :func:`run`'s result (partial results included)."""
    lines = ["# Claims GPU check: SDAR against GRPO on ALFWorld (1 seed)", ""]
    lines += [f"Command: `{result['command']}`", "", f"Device: {result['device']}; {result['software']}.", ""]
    settings = result["settings"]
    lines += [
        f"Budget: {settings['tasks']} tasks x {settings['group']} rollouts per step, the same steps for both "
        f"methods (stepped in turn until the time box of {settings['minutes']} min or {settings['max_steps']} "
        f"steps); evaluation: {settings['eval_tasks']} held-out games, seed {settings['seed']}, no context, "
        f"HF engine ({settings['hf_cache']} KV cache).",
        "",
        "| policy | held-out success | games | evaluation s |",
        "|---|---|---|---|",
    ]
    for name, row in result["evaluations"].items():
        lines.append(f"| {name} | {100 * row['success']:.1f} | {row['episodes']} | {row['seconds']:.0f} |")
    base = result["evaluations"].get("sft")
    for method in ("grpo", "sdar"):
        row = result["evaluations"].get(f"sft+{method}")
        if base and row:
            lines.append(f"\n{method} - sft: {100 * (row['success'] - base['success']):+.1f} points (one seed).")
    grpo, sdar = result["evaluations"].get("sft+grpo"), result["evaluations"].get("sft+sdar")
    if grpo and sdar:
        lines.append(f"\nsdar - grpo: {100 * (sdar['success'] - grpo['success']):+.1f} points (one seed).")
    lines += ["", "| step | method | rollout success | step s | gate mean | active gates | gap mean |"]
    lines.append("|---|---|---|---|---|---|---|")
    for record in result["steps"]:
        gate = [record.get(k) for k in ("sdar/gate_mean", "sdar/gate_active_ratio", "sdar/teacher_gap_mean")]
        cells = ["" if v is None else f"{v:.3f}" for v in gate]
        lines.append(
            f"| {record['step']} | {record['method']} | {100 * record['success']:.1f} | {record['time/step']:.1f} | "
            + " | ".join(cells)
            + " |"
        )
    lines += ["", f"Status: {result['status']}; total {result['seconds']:.0f} s.", ""]
    return "\n".join(lines)


def _write(result: dict[str, Any], out: Path | None) -> None:
    if out is None:
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(result))
    out.with_suffix(".json").write_text(json.dumps(result, indent=2))


def run(args: argparse.Namespace, command: str) -> dict[str, Any]:
    """Evaluate the warm start, train GRPO and SDAR side by side inside the time box, evaluate both."""
    import torch
    import transformers

    from sdar_agent.warm_start import shipped_dir

    started = time.perf_counter()
    start = shipped_dir("alfworld", context=True)
    if start is None:
        raise SystemExit("the shipped ALFWorld claims warm start is missing from sdar_agent/warm_start/")
    out_file = Path(args.out) if args.out else None
    work = Path(args.work)
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else platform.processor() or "cpu"
    result: dict[str, Any] = {
        "command": command,
        "device": device,
        "software": f"Python {platform.python_version()}, torch {torch.__version__}, transformers "
        f"{transformers.__version__}",
        "settings": {
            k: getattr(args, k) for k in ("tasks", "group", "max_steps", "minutes", "eval_tasks", "seed", "hf_cache")
        },
        "evaluations": {},
        "steps": [],
        "status": "started",
        "seconds": 0.0,
    }

    def save(status: str) -> None:
        result["status"], result["seconds"] = status, time.perf_counter() - started
        _write(result, out_file)
        print(f"[{result['seconds']:.0f} s] {status}", flush=True)

    result["evaluations"]["sft"] = _evaluate(start, args)
    save("warm start evaluated")
    eval_seconds = result["evaluations"]["sft"]["seconds"]
    trainers = {method: _trainer(method, start, args, work) for method in ("grpo", "sdar")}
    try:
        steps = 0
        while steps < args.max_steps:
            for method, trainer in trainers.items():
                metrics = trainer.train_step()
                result["steps"].append({"method": method, **{k: v for k, v in metrics.items() if _number(v)}})
            steps += 1
            save(f"{steps} steps of each method")
            step_seconds = sum(r["time/step"] for r in result["steps"][-2:])
            left = 60 * args.minutes - (time.perf_counter() - started) - 2.2 * eval_seconds
            if left < step_seconds:
                break
        for method, trainer in trainers.items():
            model = trainer.save_model(work / method / "model")
            result["evaluations"][f"sft+{method}"] = _evaluate(model, args)
            save(f"sft+{method} evaluated")
    finally:
        for trainer in trainers.values():
            trainer.close()
    save(f"done: {steps} steps of each method")
    return result


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=8, help="tasks per step (CPU cells: 4)")
    parser.add_argument("--group", type=int, default=8, help="rollouts per task")
    parser.add_argument("--max-steps", type=int, default=40, help="at most this many steps of each method")
    parser.add_argument("--minutes", type=float, default=7.5, help="time box of the whole check, evaluations included")
    parser.add_argument("--eval-tasks", type=int, default=134, help="held-out games per evaluation")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hf-cache", choices=("dynamic", "static"), default="dynamic", help="HF engine KV cache")
    parser.add_argument("--work", default="/tmp/sdar_gpu_claims", help="run directories (models, metrics)")
    parser.add_argument("--out", default=None, help="write the report (Markdown, and JSON beside it) here")
    parser.add_argument("--quick", action="store_true", help="CPU smoke run: 1 step of 2 tasks x 2, 2 games")
    parser.add_argument("--pack-deps", metavar="TARBALL", help="only pack the packages the device lacks, and exit")
    return parser


def main(argv: Sequence[str] | None = None) -> dict[str, Any] | None:
    args = build_parser().parse_args(argv)
    if args.pack_deps:
        target = pack_deps(Path(args.pack_deps))
        print(f"{target}: {target.stat().st_size / 2**20:.1f} MiB")
        return None
    if args.quick:
        args.tasks, args.group, args.max_steps, args.eval_tasks = 2, 2, 1, 2
    command = "python benchmarks/gpu_check_claims.py " + " ".join(argv if argv is not None else sys.argv[1:])
    result = run(args, command.strip())
    print(render(result))
    return result


if __name__ == "__main__":
    main()
