"""The task record skill retrieval works on.

``skillbank`` never imports the environments. Anything with the four attributes of :class:`TaskLike` will do;
``sdar_envs.core.Task`` has exactly these attributes, and :class:`TaskRecord` is a minimal stand-alone one (used by
the command line and in tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["TaskLike", "TaskRecord"]


@runtime_checkable
class TaskLike(Protocol):
    """What retrieval reads from a task.

    Attributes:
        env: ``"alfworld"``, ``"webshop"`` or ``"searchqa"``.
        task_type: ALFWorld task type, WebShop top-level product category, Search-QA question family ("" if unknown).
        data_source: Search-QA dataset name (``"nq"``, ``"hotpotqa"``, ``"single_hop"``...); ignored elsewhere.
        instruction: the task text shown to the agent (ALFWorld goal, WebShop instruction, Search-QA question).
    """

    @property
    def env(self) -> str: ...

    @property
    def task_type(self) -> str: ...

    @property
    def data_source(self) -> str: ...

    @property
    def instruction(self) -> str: ...


@dataclass(frozen=True)
class TaskRecord:
    """A plain :class:`TaskLike` value."""

    env: str
    task_type: str = ""
    data_source: str = ""
    instruction: str = ""
