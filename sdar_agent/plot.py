"""Training curves: ``sdar plot RUN_DIR`` turns ``RUN_DIR/metrics.jsonl`` into PNG files under ``RUN_DIR/plots``.

``overview.png`` (return, success, KL, ...), ``success_by_type.png``, and for teacher methods ``gate.png``: the
:data:`GATE_CURVES` scalars plus the teacher-student gap by relative position in the response and by turn index
(one line per bucket) and the per-turn teacher KL.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

__all__ = ["CURVES", "GATE_CURVES", "plot_run", "read_metrics"]

#: Panels of the overview figure (metric keys; a missing key is skipped: ``sdar train`` runs log the RL keys,
#: ``sdar sft`` runs ``loss``, ``tokens_per_s`` and the held-out ``eval/*``).
CURVES: tuple[str, ...] = (
    "return",
    "success",
    "score",
    "turns",
    "invalid_rate",
    "response_length",
    "kl",
    "entropy",
    "clip_frac",
    "grad_norm",
    "rollout_tokens_per_s",
    "update_tokens_per_s",
    "loss",
    "eval/success",
    "eval/score",
    "tokens_per_s",
)


#: Scalar panels of the gate telemetry figure (keys of :func:`sdar_agent.objective.compute_objective`).
GATE_CURVES: tuple[str, ...] = (
    "sdar/gate_mean",
    "sdar/gate_active_ratio",
    "sdar/teacher_gap_mean",
    "sdar/gap_positive_frac",
    "sdar/teacher_kl",
    "sdar/loss",
    "rlsd/lambda",
    "skills/per_episode",
)

#: Per-bucket list metrics drawn as one line per bucket.
GATE_LISTS: tuple[tuple[str, str], ...] = (
    ("sdar/gap_by_position", "position bucket"),
    ("sdar/gap_by_turn", "turn"),
    ("sdar/kl_by_turn", "turn"),
)


def read_metrics(run_dir: str | Path) -> list[dict]:
    """The step records of a run, in order."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"no metrics.jsonl in {run_dir}; pass the --output-dir of a `sdar train` run")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot_run(run_dir: str | Path) -> list[Path]:
    """Write ``plots/overview.png`` (the :data:`CURVES` panels) and ``plots/success_by_type.png``; return the paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_metrics(run_dir)
    out_dir = Path(run_dir) / "plots"
    out_dir.mkdir(parents=True, exist_ok=True)
    keys = [k for k in CURVES if any(k in r for r in records)]
    columns = 3
    rows = max(1, math.ceil(len(keys) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 2.8 * rows), squeeze=False)
    for axis, key in zip(axes.flat, keys, strict=False):
        points = [(r["step"], r[key]) for r in records if key in r]
        axis.plot([p[0] for p in points], [p[1] for p in points], marker="." if len(points) < 50 else None)
        axis.set_title(key)
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
    for axis in list(axes.flat)[len(keys) :]:
        axis.axis("off")
    figure.tight_layout()
    paths = [out_dir / "overview.png"]
    figure.savefig(paths[0], dpi=100)
    plt.close(figure)
    gate = _plot_gate_telemetry(records, out_dir)
    if gate is not None:
        paths.append(gate)
    types = sorted({k for r in records for k in r if k.startswith("success/")})
    if types:
        figure, axis = plt.subplots(figsize=(6, 3.5))
        for key in types:
            points = [(r["step"], r[key]) for r in records if key in r]
            axis.plot([p[0] for p in points], [p[1] for p in points], label=key.split("/", 1)[1])
        axis.set_xlabel("step")
        axis.set_ylabel("success")
        axis.legend(fontsize=7)
        axis.grid(alpha=0.3)
        figure.tight_layout()
        paths.append(out_dir / "success_by_type.png")
        figure.savefig(paths[-1], dpi=100)
        plt.close(figure)
    return paths


def _plot_gate_telemetry(records: list[dict], out_dir: Path) -> Path | None:
    """``gate.png`` for runs that logged ``sdar/*`` metrics; None otherwise."""
    import matplotlib.pyplot as plt

    scalars = [k for k in GATE_CURVES if any(k in r for r in records)]
    lists = [(k, label) for k, label in GATE_LISTS if any(k in r for r in records)]
    if not any(key.startswith("sdar/") for key in scalars):
        return None
    panels = len(scalars) + len(lists)
    columns = 3
    rows = max(1, math.ceil(panels / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(4 * columns, 2.8 * rows), squeeze=False)
    flat = list(axes.flat)
    for axis, key in zip(flat, scalars, strict=False):
        points = [(r["step"], r[key]) for r in records if r.get(key) is not None]
        axis.plot([p[0] for p in points], [p[1] for p in points], marker="." if len(points) < 50 else None)
        axis.set_title(key)
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
    for axis, (key, label) in zip(flat[len(scalars) :], lists, strict=False):
        size = max(len(r.get(key) or []) for r in records)
        for bucket in range(size):
            points = [
                (r["step"], r[key][bucket])
                for r in records
                if isinstance(r.get(key), list) and bucket < len(r[key]) and r[key][bucket] is not None
            ]
            if points:
                axis.plot([p[0] for p in points], [p[1] for p in points], label=f"{label} {bucket}")
        axis.set_title(key)
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
        if size:
            axis.legend(fontsize=6)
    for axis in flat[panels:]:
        axis.axis("off")
    figure.tight_layout()
    path = out_dir / "gate.png"
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path
