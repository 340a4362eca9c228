"""Statistics of the leaderboard: the interval rule of a cell and the aggregation of cached cells into the table.

A cell reads ``mean [low, high] (n)`` in percent, ``n`` = episodes behind it over all seeds. With three or more seeds
whose values differ: the mean of the per-seed values and a Student-t 95% interval. With one or two seeds (two seeds
give t with one degree of freedom, 12.7 standard errors wide: no information), or when every seed gave the same value
(greedy decoding, the expert): the Wilson 95% interval of the success proportion over all ``n`` episodes; score
columns and the Search-QA average get a Student-t interval from two differing seeds and none otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sdar_agent.leaderboard.envs import BoardEnv, columns_for

__all__ = ["Cell", "aggregate", "summarise", "t_quantile", "wilson_interval"]

# Two-sided 95% Student-t quantiles t_{0.975, df} for df = 1..30 (standard table values).
_T975 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)  # fmt: skip


def t_quantile(df: int) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom (1.96 beyond 30)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    return _T975[df - 1] if df <= len(_T975) else 1.96


def wilson_interval(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score 95% interval of a proportion with ``successes`` out of ``n`` trials."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # the bounds hold p itself: at p = 0 or 1 the formula lands a rounding error inside (n = 60: 1 - 1.1e-16)
    return (max(0.0, min(p, centre - half)), min(1.0, max(p, centre + half)))


@dataclass
class Cell:
    """An aggregated table cell (values in percent)."""

    mean: float
    low: float | None
    high: float | None
    seeds: int
    episodes: int


def summarise(values: Sequence[float], episodes: int, proportion: float | None = None) -> Cell:
    """Mean of per-seed ``values`` with a 95% interval.

    With >= 3 seeds whose values differ: Student-t over the per-seed values. Otherwise (one or two seeds, or every
    seed gave the same value, e.g. greedy decoding or an expert) a Wilson interval of the pooled ``proportion`` over
    all ``episodes`` when the cell is a proportion; a cell that is not a proportion gets Student-t from two differing
    seeds, else no interval.
    """
    k = len(values)
    mean = sum(values) / k
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (k - 1)) if k >= 2 else 0.0
    if sd > 0 and (k >= 3 or proportion is None):
        half = t_quantile(k - 1) * sd / math.sqrt(k)
        return Cell(100 * mean, 100 * (mean - half), 100 * (mean + half), k, episodes)
    if proportion is not None and episodes > 0:
        low, high = wilson_interval(proportion * episodes, episodes)
        return Cell(100 * mean, 100 * low, 100 * high, k, episodes)
    return Cell(100 * mean, None, None, k, episodes)


def _won(group: dict[str, Any]) -> float:
    """Episodes won in one group result (success is a rate over its episodes)."""
    return group["success"] * group["episodes"]


def _grouped_cells(spec: BoardEnv, runs: Sequence[dict[str, Any]]) -> dict[str, Cell]:
    """Column -> cell of an env with groups: one column per group, then the env's average.

    ALFWorld's average is over all episodes of the split (as the paper's ALF Avg); Search-QA's is the unweighted
    mean of its sources (as the paper's SQA Avg).
    """
    cells: dict[str, Cell] = {}
    for group in spec.groups:
        per_seed = [r["groups"][group] for r in runs if group in r["groups"]]
        if not per_seed:
            continue
        n = sum(g["episodes"] for g in per_seed)
        wins = sum(_won(g) for g in per_seed)
        cells[spec.column(group)] = summarise([g["success"] for g in per_seed], n, wins / n if n else 0.0)
    complete = [r for r in runs if all(g in r["groups"] for g in spec.groups)]
    if not complete:
        return cells
    n = sum(r["groups"][g]["episodes"] for r in complete for g in spec.groups)
    if spec.name == "searchqa":
        values = [sum(r["groups"][g]["success"] for g in spec.groups) / len(spec.groups) for r in complete]
        cells[columns_for(spec)[-1]] = summarise(values, n)
        return cells
    values = []
    for r in complete:
        episodes = sum(r["groups"][g]["episodes"] for g in spec.groups)
        won = sum(_won(r["groups"][g]) for g in spec.groups)
        values.append(won / episodes if episodes else 0.0)
    wins = sum(_won(r["groups"][g]) for r in complete for g in spec.groups)
    cells[columns_for(spec)[-1]] = summarise(values, n, wins / n if n else 0.0)
    return cells


def _whole_split_cells(spec: BoardEnv, runs: Sequence[dict[str, Any]]) -> dict[str, Cell]:
    """Column -> cell of an env without groups (WebShop): mean score and success rate."""
    per_seed = [r["groups"]["all"] for r in runs]
    n = sum(g["episodes"] for g in per_seed)
    wins = sum(_won(g) for g in per_seed)
    score_col, success_col = columns_for(spec)
    return {
        score_col: summarise([g["score"] for g in per_seed], n),
        success_col: summarise([g["success"] for g in per_seed], n, wins / n if n else 0.0),
    }


def aggregate(results: Iterable[dict[str, Any]], specs: Sequence[BoardEnv]) -> dict[tuple[str, str, str], Cell]:
    """(row label, env/split, column) -> :class:`Cell` over the seeds of each cached result.

    Results with the same row label are pooled: e.g. GRPO runs of several training seeds, or GRPO runs trained on
    different envs (each fills its env's columns). Results of envs not in ``specs`` are left out.
    """
    by_env = {s.name: s for s in specs}
    grouped: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for result in results:
        if result["env"] in by_env:
            row = result.get("label", result["agent"])
            grouped.setdefault((row, result["env"], result["split"]), []).append(result)
    table: dict[tuple[str, str, str], Cell] = {}
    for (agent, env, split), runs in grouped.items():
        spec = by_env[env]
        cells = _grouped_cells(spec, runs) if spec.groups else _whole_split_cells(spec, runs)
        for column, cell in cells.items():
            table[(agent, f"{env}/{split}", column)] = cell
    return table
