"""The leaderboard's outputs: the Markdown tables (the SDAR paper's main-table layout), the CSV and the PNG figure."""

from __future__ import annotations

import csv
import json
import os
import platform
from collections.abc import Sequence
from pathlib import Path

from sdar_agent.leaderboard.agents import BoardAgent
from sdar_agent.leaderboard.envs import BoardEnv, columns_for
from sdar_agent.leaderboard.stats import Cell

__all__ = [
    "format_cell",
    "load_average",
    "machine_description",
    "render_markdown",
    "row_labels",
    "table_sections",
    "write_csv",
    "write_figure",
]


def format_cell(cell: Cell | None) -> str:
    """``mean [low, high] (n)`` in percent, one decimal; ``-`` for a missing cell."""
    if cell is None:
        return "-"
    interval = f" [{cell.low:.1f}, {cell.high:.1f}]" if cell.low is not None and cell.high is not None else ""
    return f"{cell.mean:.1f}{interval} ({cell.episodes})"


def table_sections(specs: Sequence[BoardEnv]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The tables to print: the main one (each env's first split) and one per further split.

    Each is (title, [(env/split, column), ...]).
    """
    main = [(f"{s.name}/{s.splits[0]}", c) for s in specs for c in columns_for(s)]
    sections = [("Main table", main)]
    for spec in specs:
        for split in spec.splits[1:]:
            sections.append((f"{spec.name} {split}", [(f"{spec.name}/{split}", c) for c in columns_for(spec)]))
    return sections


def row_labels(agents: Sequence[BoardAgent]) -> list[str]:
    """Row labels in first-appearance order (agents sharing a label share a row)."""
    return list(dict.fromkeys(a.label for a in agents))


def render_markdown(
    table: dict[tuple[str, str, str], Cell],
    agents: Sequence[BoardAgent],
    specs: Sequence[BoardEnv],
    *,
    unavailable: dict[str, str] | None = None,
    notes: Sequence[str] = (),
) -> str:
    """The leaderboard as Markdown: the main table in the paper's layout plus one table per further split."""
    lines: list[str] = []
    for title, cols in table_sections(specs):
        lines += [f"### {title}", ""]
        splits = sorted({where for where, _ in cols})
        lines.append("Splits: " + ", ".join(f"`{w}`" for w in splits) + "")
        lines.append("")
        lines.append("| Agent | " + " | ".join(c for _, c in cols) + " |")
        lines.append("|---|" + "---|" * len(cols))
        for label in row_labels(agents):
            cells = [table.get((label, where, c)) for where, c in cols]
            if all(c is None for c in cells):
                continue
            lines.append(f"| {label} | " + " | ".join(format_cell(c) for c in cells) + " |")
        lines.append("")
    for name, reason in (unavailable or {}).items():
        lines.append(f"* {name}: not evaluated ({reason})")
    lines += [f"* {note}" for note in notes]
    return "\n".join(lines).rstrip() + "\n"


def write_csv(path: Path, table: dict[tuple[str, str, str], Cell]) -> None:
    """One row per cell: agent, env/split, column, mean, ci_low, ci_high (percent), seeds, episodes."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["agent", "split", "column", "mean", "ci_low", "ci_high", "seeds", "episodes"])
        for (agent, where, column), cell in sorted(table.items()):
            writer.writerow(
                [
                    agent,
                    where,
                    column,
                    f"{cell.mean:.3f}",
                    "" if cell.low is None else f"{cell.low:.3f}",
                    "" if cell.high is None else f"{cell.high:.3f}",
                    cell.seeds,
                    cell.episodes,
                ]
            )


def _training_curve(run_dir: str) -> tuple[list[int], list[float]]:
    """(step, mean rollout return) of every line of a run's ``metrics.jsonl``."""
    steps: list[int] = []
    returns: list[float] = []
    for line in (Path(run_dir) / "metrics.jsonl").read_text().splitlines():
        if line.strip():
            record = json.loads(line)
            steps.append(record.get("step", len(steps) + 1))
            returns.append(float(record.get("return", 0.0)))
    return steps, returns


def write_figure(
    path: Path, table: dict[tuple[str, str, str], Cell], agents: Sequence[BoardAgent], specs: Sequence[BoardEnv]
) -> None:
    """Bars (headline metric per env and agent, 95% intervals as error bars) and training curves of the runs (mean
    rollout return per step: the trainer's return, format penalties included, so it moves before success does)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [a for a in agents if a.run_dir and (Path(a.run_dir) / "metrics.jsonl").is_file()]
    panels = len(specs) + (1 if runs else 0)
    fig, axes = plt.subplots(1, max(1, panels), figsize=(4.8 * max(1, panels), 4.2), squeeze=False)
    for ax, spec in zip(axes[0], specs, strict=False):
        # the headline metric is the env's last column: ALF Avg, SQA Avg, WS Succ
        where, column = f"{spec.name}/{spec.splits[0]}", columns_for(spec)[-1]
        shown = [(a, table[(a, where, column)]) for a in row_labels(agents) if (a, where, column) in table]
        xs = range(len(shown))
        means = [c.mean for _, c in shown]
        errors = [
            [c.mean - c.low if c.low is not None else 0.0 for _, c in shown],
            [c.high - c.mean if c.high is not None else 0.0 for _, c in shown],
        ]
        ax.bar(xs, means, yerr=errors, capsize=4, color=[f"C{i}" for i in xs])
        ax.set_xticks(list(xs), [a for a, _ in shown], rotation=35, ha="right", fontsize=8)
        ax.set_ylim(0, 105)
        ax.set_ylabel(f"{column} (%)")
        ax.set_title(f"{spec.name} ({spec.splits[0]})")
    if runs:
        ax = axes[0][-1]
        for index, agent in enumerate(runs):
            steps, returns = _training_curve(str(agent.run_dir))
            env = agent.envs[0] if agent.envs else ""
            ax.plot(steps, returns, marker="o", color=f"C{index}", label=f"{agent.label} {env}".strip())
        ax.set_xlabel("training step")
        ax.set_ylabel("mean rollout return")
        ax.set_title("training curves")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, e.g. ``"0.74, 1.75, 2.79"``: timings on shared cores swing with load."""
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


def machine_description() -> str:
    """CPU count and model, Python and torch versions, GPU if any."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, {platform.system()}"
    try:
        import torch

        text += f", torch {torch.__version__}"
        if torch.cuda.is_available():
            text += f", GPU {torch.cuda.get_device_name(0)}"
    except ImportError:
        pass
    return text
