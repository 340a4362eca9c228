"""The envs of the leaderboard: splits, groups (columns) and the ``--quick`` subsets of each."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

import sdar_envs  # noqa: F401  (registers the env ids)
from sdar_agent.config import resolve_env_id
from sdar_envs.alfworld.games import TASK_TYPES
from sdar_envs.searchqa.questions import FAMILIES, IN_DOMAIN

__all__ = ["ENVS", "BoardEnv", "available_splits", "columns_for"]


@dataclass(frozen=True)
class BoardEnv:
    """An env of the leaderboard.

    Attributes:
        name: short name (``alfworld``, ``searchqa``, ``webshop``).
        env_id: Gymnasium id.
        splits: the fixed eval splits, the main-table split first.
        groups: task types / data sources evaluated one by one (empty: the split as a whole).
        group_filter: the env keyword that restricts a split to one group (``task_types``/``data_sources``).
        labels: group -> column header.
        in_domain: groups seen in training (marked ID; the rest OOD) where the env has that notion.
        env_kwargs: extra ``gymnasium.make`` keyword arguments.
        quick_per_group: tasks per group (or of the whole split) under ``--quick``.
        quick_max_turns: episode step limit under ``--quick`` (None: the registered limit).
        quick_splits: the splits evaluated under ``--quick`` (None: all).
    """

    name: str
    env_id: str
    splits: tuple[str, ...]
    groups: tuple[str, ...] = ()
    group_filter: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    in_domain: tuple[str, ...] | None = None
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    quick_per_group: int = 4
    quick_max_turns: int | None = None
    quick_splits: tuple[str, ...] | None = None

    def column(self, group: str) -> str:
        """The header of ``group``'s column (``label (ID)``/``label (OOD)`` where the env has domains)."""
        label = self.labels.get(group, group)
        if self.in_domain is None:
            return label
        return f"{label} ({'ID' if group in self.in_domain else 'OOD'})"


# The paper's short headers, in ALFWorld's task-type order.
_ALFWORLD_LABELS = dict(zip(TASK_TYPES, ("Pick", "Look", "Clean", "Heat", "Cool", "Pick2"), strict=True))

ENVS: dict[str, BoardEnv] = {
    "alfworld": BoardEnv(
        "alfworld",
        resolve_env_id("alfworld"),
        ("eval_out_of_distribution", "eval_in_distribution"),
        groups=TASK_TYPES,
        group_filter="task_types",
        labels=_ALFWORLD_LABELS,
        env_kwargs={"engine": "native"},
        # 5 per type: enough episodes (60 over 2 seeds) for the warm-start rows' ~7% to show (they play 30 turns)
        quick_per_group=5,
        quick_max_turns=8,
        quick_splits=("eval_out_of_distribution",),
    ),
    "searchqa": BoardEnv(
        "searchqa",
        resolve_env_id("searchqa"),
        ("test",),
        groups=FAMILIES,
        group_filter="data_sources",
        in_domain=IN_DOMAIN,
        quick_per_group=3,
    ),
    "webshop": BoardEnv("webshop", resolve_env_id("webshop"), ("test_128",), quick_per_group=8, quick_max_turns=6),
}


def available_splits(spec: BoardEnv) -> tuple[list[str], dict[str, str]]:
    """The eval splits of ``spec`` whose env can be made, and the reason for each one that cannot (e.g. no data)."""
    ok: list[str] = []
    reasons: dict[str, str] = {}
    for split in spec.splits:
        try:
            gym.make(spec.env_id, split=split, **spec.env_kwargs).close()
        except (gym.error.Error, ImportError, ValueError, OSError) as error:
            reasons[split] = f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"
        else:
            ok.append(split)
    return ok, reasons


def columns_for(spec: BoardEnv) -> list[str]:
    """Column headers of ``spec`` in table order (the paper's: groups, then the env's average)."""
    if spec.name == "alfworld":
        return [spec.column(g) for g in spec.groups] + ["ALF Avg"]
    if spec.name == "searchqa":
        return [spec.column(g) for g in spec.groups] + ["SQA Avg"]
    if spec.name == "webshop":
        return ["WS Score", "WS Succ"]
    return [spec.column(g) for g in spec.groups] + [f"{spec.name} Avg"] if spec.groups else [f"{spec.name} Succ"]
