"""The ALFWorld verifier: scores a final game state against the task's goal.

An outcome is a mapping with either of:

``won``
    the engine's goal check (``PddlEnv``'s ``won``: the PDDL goal of ``alfworld.gen.goal_library`` holds). When
    present it decides the verdict.
``facts``
    the final facts, as ``(predicate, (arg, ...))`` pairs with demangled names (``("inreceptacle", ("apple 1",
    "countertop 1"))``) or textworld ``Proposition`` objects. The goal of the task type is evaluated on them
    (ALFWorld's six goals, restated over names: an entity's class is its name without the number).

The score is 1.0 on success and 0.0 otherwise (ALFWorld's reward).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sdar_envs.core import Task, Verdict

__all__ = ["ALFWorldVerifier", "goal_holds"]


def _class_of(name: str) -> str:
    """``"sinkbasin 1"`` -> ``"sinkbasin"``: the demangled class of an entity."""
    head, _, tail = name.rpartition(" ")
    return head if tail.isdigit() else name


def _normalise(facts: Iterable[Any]) -> set[tuple[str, tuple[str, ...]]]:
    out = set()
    for fact in facts:
        if isinstance(fact, tuple):
            name, args = fact
        else:  # a textworld Proposition
            name, args = fact.name, tuple(fact.names)
        out.add((str(name).lower(), tuple(str(a).strip() for a in args)))
    return out


def goal_holds(task_type: str, params: Mapping[str, str], facts: Iterable[Any]) -> bool:
    """Whether the goal of ``task_type`` with ALFRED ``params`` (``object_target``, ``parent_target``,
    ``toggle_target``, class names) holds in ``facts`` (see the module docstring)."""
    state = _normalise(facts)
    obj = str(params.get("object_target", "")).lower()
    recep = str(params.get("parent_target", "")).lower()
    toggle = str(params.get("toggle_target", "")).lower()
    true = {(name, args) for name, args in state}

    def has(name: str, *args: str) -> bool:
        return (name, args) in true

    inside = [args for name, args in state if name == "inreceptacle" and len(args) == 2]
    targets_in_recep = [o for o, r in inside if _class_of(o) == obj and _class_of(r) == recep]
    if task_type == "pick_and_place_simple":
        return bool(targets_in_recep)
    if task_type == "pick_two_obj_and_place":
        by_recep: dict[str, set[str]] = {}
        for o, r in inside:
            if _class_of(o) == obj and _class_of(r) == recep:
                by_recep.setdefault(r, set()).add(o)
        return any(len(objs) >= 2 for objs in by_recep.values())
    state_predicate = {
        "pick_clean_then_place_in_recep": "isclean",
        "pick_heat_then_place_in_recep": "ishot",
        "pick_cool_then_place_in_recep": "iscool",
    }.get(task_type)
    if state_predicate is not None:
        return any(has(state_predicate, o) for o in targets_in_recep)
    if task_type == "look_at_obj_in_light":
        holding = any(name == "holds" and len(args) == 2 and _class_of(args[1]) == obj for name, args in state)
        here = {args[1] for name, args in state if name == "atlocation" and len(args) == 2}
        receps_here = {args[0] for name, args in state if name == "receptacleatlocation" and args[1] in here}
        lamp_on_here = any(_class_of(o) == toggle and r in receps_here and has("istoggled", o) for o, r in inside)
        return holding and lamp_on_here
    raise ValueError(f"unknown ALFWorld task type {task_type!r}")


class ALFWorldVerifier:
    """``verify(task, outcome)``: 1.0 when the task's goal holds in the final state (see the module docstring)."""

    def verify(self, task: Task, outcome: Mapping[str, Any]) -> Verdict:
        details: dict[str, Any] = {}
        if "facts" in outcome and outcome["facts"] is not None:
            details["goal_from_facts"] = goal_holds(task.task_type, task.metadata, outcome["facts"])
        if "won" in outcome and outcome["won"] is not None:
            success = bool(outcome["won"])
            details["engine_won"] = success
        elif "goal_from_facts" in details:
            success = details["goal_from_facts"]
        else:
            raise ValueError("an ALFWorld outcome needs 'won' (the engine's goal check) or 'facts' (the final state)")
        return Verdict(score=1.0 if success else 0.0, success=success, details=details)
