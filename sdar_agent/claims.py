"""The paper's claims, measured (``benchmarks/bench_claims.py``): SDAR against GRPO and the OPSD family, with seeds.

Every arm starts from one warm start per env: the learning recipe's SFT (:data:`sdar_agent.learning.RECIPES`) with
half of the demonstration turns trained a second time with the env's informative privileged context in front
(``context_fraction`` 0.5, :mod:`sdar_agent.privileged`), so that the teacher (the same weights with the context
prepended) can use what it is shown. Before any distillation result is read, the ``sft+context`` rows evaluate that
warm start WITH the context in its prompt: the teacher is only worth distilling from if it beats the student.

Arms (:data:`ARMS`) are RL runs with the learning recipe's budget (steps, tasks x group, lr) for every arm and seed,
evaluated on the env's held-out split WITHOUT any context (what a deployed policy sees); Skill-GRPO, which trains
with the context in its own prompt, is evaluated both ways. Arms are computed tier by tier (:data:`TIERS`, the main
comparison first), seeds interleaved within a tier, so a partial run already holds paired comparisons.

Each claim of the paper (:data:`CLAIMS`) is decided by a paired per-seed difference (the same evaluation seed on
both sides) with a Student-t 95% interval over seeds: ``supported`` when the interval lies above 0, ``refuted`` when
it lies below, ``inconclusive`` when it holds 0 (or fewer than 2 seeds exist). Every finished cell is a JSON file
under ``--cells`` (:data:`CELLS`, committed, so a fresh clone resumes from them; an arm's cell keeps its run's
per-step records, from which the curves and gate telemetry are drawn); runs resume from their checkpoints under
``--work``. Several processes may work at once (a cell being computed is locked), and ``--summarize-only`` writes
the report of what exists, listing what is missing. The warm start is shipped where an env has one
(:data:`sdar_agent.warm_start.CONTEXT_WARM_STARTS`), else trained into ``--work``.

Writes ``OUT.json``, ``OUT.md`` (main table, claims with verdicts, telemetry, commands, machine and load),
``OUT_curves.png`` (rollout success per step) and ``OUT_gates.png`` (gate mean, active share and gap per step, gap by
turn).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from sdar_agent.config import ENGINES
from sdar_agent.env_profiles import profile_for
from sdar_agent.learning import (
    QUICK_EVAL_TASKS,
    RECIPES,
    Recipe,
    add_cells_argument,
    cells_dir,
    rl_values,
    run_records,
    summarise_values,
    train_run,
)
from sdar_agent.learning import _cell as cached_cell

__all__ = [
    "ARMS",
    "CELLS",
    "CLAIMS",
    "CONTEXT_FRACTION",
    "TIERS",
    "Arm",
    "Claim",
    "arm_records",
    "build_parser",
    "cell_lock",
    "decide",
    "decide_gate_rise",
    "env_report",
    "gate_telemetry",
    "main",
    "teacher_signals",
]

#: Share of demonstration turns the claims warm start sees a second time with the informative context in front.
CONTEXT_FRACTION = 0.5

#: Where full runs keep their finished cells (committed: a later session resumes from them, whatever its checkout).
CELLS = "benchmarks/results/claims_cells"

#: The teacher's privileged text in every teacher arm unless the arm says otherwise: the env's task context.
_REFERENCE = {"teacher_context": "reference", "context_quality": "informative"}


@dataclass(frozen=True)
class Arm:
    """One RL configuration from the warm start.

    Attributes:
        name: cell and run name (``sdar``, ``sdar-random``, ``sdar-beta20``...).
        method: :data:`sdar_agent.methods.METHODS` key.
        label: the row's name in the report.
        tier: computation order (1 first); ``--tiers`` selects.
        overrides: :class:`~sdar_agent.config.TrainConfig` fields on top of the env's RL recipe.
        eval_with_context: also evaluate with the informative context in the prompt (Skill-GRPO).
    """

    name: str
    method: str
    label: str
    tier: int
    overrides: dict[str, Any] = field(default_factory=dict)
    eval_with_context: bool = False


ARMS: tuple[Arm, ...] = (
    Arm("grpo", "grpo", "GRPO", 1),
    Arm("sdar", "sdar", "SDAR (beta 5, lambda 0.01)", 1, _REFERENCE),
    Arm("grpo_opsd", "grpo_opsd", "GRPO+OPSD as released (beta 0, g = 0.5)", 2, _REFERENCE),
    Arm("grpo_opsd_ungated", "grpo_opsd_ungated", "GRPO+OPSD ungated (g = 1)", 2, _REFERENCE),
    Arm("sdar-random", "sdar", "SDAR, random context (another task's)", 2, {**_REFERENCE, "context_quality": "random"}),
    Arm(
        "sdar-adversarial",
        "sdar",
        "SDAR, adversarial context (a plausible wrong one)",
        2,
        {**_REFERENCE, "context_quality": "adversarial"},
    ),
    Arm("opsd", "opsd", "OPSD (no GRPO term)", 3, _REFERENCE),
    Arm("skill_grpo", "skill_grpo", "Skill-GRPO (context in the student prompt)", 3, _REFERENCE, True),
    Arm("skill_sd", "skill_sd", "Skill-SD", 3, _REFERENCE),
    Arm("rlsd", "rlsd", "RLSD", 3, _REFERENCE),
    Arm("sdar-skills", "sdar", "SDAR, shipped skills as the teacher's text", 3, {"teacher_context": "skills"}),
    Arm("sdar-entropy", "sdar", "SDAR, entropy gate", 4, {**_REFERENCE, "gate": "entropy"}),
    Arm("sdar-soft_or", "sdar", "SDAR, soft-OR gate", 4, {**_REFERENCE, "gate": "soft_or"}),
    Arm(
        "sdar-coupled",
        "sdar",
        "SDAR, coupled gate (gradient through the gate)",
        4,
        {**_REFERENCE, "gate_coupled": True},
    ),
    Arm("sdar-beta1", "sdar", "SDAR beta 1", 4, {**_REFERENCE, "gate_beta": 1.0}),
    Arm("sdar-beta20", "sdar", "SDAR beta 20", 4, {**_REFERENCE, "gate_beta": 20.0}),
    Arm("sdar-lambda0.001", "sdar", "SDAR lambda 0.001", 4, {**_REFERENCE, "sd_coef": 0.001}),
    Arm("sdar-lambda0.1", "sdar", "SDAR lambda 0.1", 4, {**_REFERENCE, "sd_coef": 0.1}),
)
ARM_BY_NAME = {arm.name: arm for arm in ARMS}
TIERS = sorted({arm.tier for arm in ARMS})

#: Evaluations of the warm start: without context (the student) and with each context quality (the teacher's view).
#: The first two are always computed, before any arm; a random- or wrong-context row only with an arm whose teacher
#: reads that quality, before the first such arm.
WARM_ROWS: dict[str, str | None] = {
    "sft": None,
    "sft+context": "informative",
    "sft+context-random": "random",
    "sft+context-adversarial": "adversarial",
}


@dataclass(frozen=True)
class Claim:
    """One claim and the paired difference that decides it: ``treatment - control`` per seed, > 0 supports it."""

    key: str
    text: str
    treatment: str
    control: str
    paper: str = ""


CLAIMS: tuple[Claim, ...] = (
    Claim(
        "teacher",
        "Precondition: the teacher (warm start + informative context) beats the student",
        "sft+context",
        "sft",
    ),
    Claim("sdar>grpo", "SDAR beats GRPO", "sdar", "grpo", "+9.4 ALFWorld, +7.0 Search-QA, +4.7 to +10.2 WebShop"),
    Claim(
        "naive-unstable",
        "Naive GRPO+OPSD (ungated, g = 1) is worse than GRPO",
        "grpo",
        "grpo_opsd_ungated",
        "unstable, below GRPO",
    ),
    Claim("gate>released", "The gate matters: SDAR beats the released beta-0 GRPO+OPSD", "sdar", "grpo_opsd"),
    Claim(
        "random-helps", "Even random privileged context helps (SDAR, random context, beats GRPO)", "sdar-random", "grpo"
    ),
    Claim(
        "gate-protects",
        "The gate protects against wrong context (SDAR with adversarial context is not below GRPO)",
        "sdar-adversarial",
        "grpo",
    ),
    Claim(
        "internalised",
        "Skills are internalised: with no context at test, SDAR beats Skill-GRPO evaluated without context",
        "sdar",
        "skill_grpo",
    ),
    Claim("skills>grpo", "SDAR with the shipped natural-language skills beats GRPO", "sdar-skills", "grpo"),
)


def claims_recipe(env: str) -> Recipe:
    """The learning recipe of ``env`` with the context-bearing warm start."""
    base = RECIPES[env]
    return replace(base, sft={**base.sft, "context_fraction": CONTEXT_FRACTION})


# ---- cells -----------------------------------------------------------------------------------------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def cell_lock(path: Path) -> Iterator[bool]:
    """Hold ``path.lock`` while a cell is computed: yields False when another live process holds it (skip the cell);
    a lock left by a dead process is taken over."""
    lock = path.with_suffix(".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                holder = int(lock.read_text().strip() or 0)
            except (OSError, ValueError):
                holder = 0
            if holder and _alive(holder):
                yield False
                return
            lock.unlink(missing_ok=True)
            continue
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        try:
            yield True
        finally:
            lock.unlink(missing_ok=True)
        return
    yield False


def _evaluate(
    recipe: Recipe, model: Path, seed: int, tasks: int, quick: bool, quality: str | None, engine: str = "auto"
) -> dict:
    """Held-out success (and score) of ``model``, with the env's ``quality`` context before every prompt if given."""
    from sdar_agent.learning import _evaluate_model

    out = _evaluate_model(recipe, model, seed, tasks, quick, context=quality, engine=engine)
    out["context"] = quality
    return out


def _train_sft(recipe: Recipe, work: Path, quick: bool, threads: int) -> Path:
    """The warm start: the shipped context-reading checkpoint of the env (:data:`CONTEXT_WARM_STARTS`) when there is
    one, else learning's SFT stage trained into ``work/sft`` (``--quick`` keeps the context samples on its tiny
    model)."""
    from sdar_agent.learning import _train_sft as train
    from sdar_agent.warm_start import shipped_dir

    shipped = None if quick else shipped_dir(recipe.env, context=True)
    if shipped is not None:
        return shipped
    if (work / "sft" / "model" / "config.json").is_file():
        return work / "sft" / "model"
    with cell_lock(work / "sft" / "model") as mine:
        if not mine:
            raise SystemExit(f"another process is training the warm start in {work / 'sft'}; run again when it ends")
        return train(recipe, work, quick, threads)


def rl_settings(recipe: Recipe, arm: Arm, quick: bool) -> dict[str, Any]:
    """The :class:`~sdar_agent.config.TrainConfig` fields of ``arm`` (the budget is the env's, the same for all)."""
    return {**rl_values(recipe, arm.method, quick), **arm.overrides}


def _train_arm(
    recipe: Recipe, arm: Arm, seed: int, start: Path, work: Path, quick: bool, threads: int, engine: str = "auto"
) -> Path:
    values = {**rl_settings(recipe, arm, quick), "model": str(start), "seed": seed, "torch_threads": threads}
    values.update({"progress": not quick, "rollout_engine": engine})
    return train_run(values, work / "rl" / arm.name / f"seed{seed}")


def run_env(
    env: str,
    work: Path,
    *,
    seeds: Sequence[int],
    arms: Sequence[Arm],
    cells: Path | None = None,
    quick: bool = False,
    threads: int = 0,
    cached_only: bool = False,
    engine: str = "auto",
) -> dict[str, Any]:
    """Compute (or, with ``cached_only``, read) every cell of ``env``; returns ``{"values", "pending", "tasks"}``.

    ``values[row][seed]`` holds the evaluation of a warm-start row (:data:`WARM_ROWS`) or arm (``<arm>`` without
    context, ``<arm>+context`` with it; an arm's cell also keeps its run's per-step ``records``). Cells are JSON files
    in ``cells`` (default ``work/cells``), runs and the trained warm start live in ``work``. ``pending`` lists the
    missing cells (computed by another process, or not yet)."""
    cells = work / "cells" if cells is None else cells
    recipe = claims_recipe(env)
    tasks = QUICK_EVAL_TASKS if quick else recipe.eval_tasks
    values: dict[str, dict[int, dict[str, Any]]] = {}
    pending: list[str] = []

    def cell(row: str, seed: int, compute) -> None:
        path = cells / f"{row}-seed{seed}.json"
        if path.is_file():
            values.setdefault(row, {})[seed] = json.loads(path.read_text())
            return
        if cached_only:
            pending.append(f"{row} seed {seed}")
            return
        with cell_lock(path) as mine:
            if mine:
                values.setdefault(row, {})[seed] = cached_cell(path, compute)
            else:
                pending.append(f"{row} seed {seed} (being computed)")

    start = work / "sft" / "model"
    if not cached_only:
        start = _train_sft(recipe, work, quick, threads)
    # A greedy evaluation of the one warm-start model gives the same cell on every seed: it is computed once and the
    # other seeds' cells say which seed they repeat (``reused_from_seed``) instead of recomputing it.
    greedy = profile_for(recipe.env).eval_temperature == 0

    def warm(row: str, s: int, quality: str | None) -> dict[str, Any]:
        first = seeds[0]
        if greedy and s != first and first in values.get(row, {}):
            return {**values[row][first], "reused_from_seed": first}
        return _evaluate(recipe, start, s, tasks, quick, quality, engine)

    wanted, evaluated = {None, "informative"}, set()
    for tier in sorted({arm.tier for arm in arms}):
        teachers = [a for a in arms if a.tier == tier and "teacher_context" in a.overrides]
        wanted |= {a.overrides.get("context_quality") for a in teachers}
        for row, quality in WARM_ROWS.items():
            if quality in wanted and row not in evaluated:
                evaluated.add(row)
                for s in seeds:
                    cell(row, s, lambda row=row, s=s, q=quality: warm(row, s, q))
        for s in seeds:
            for arm in (a for a in arms if a.tier == tier):

                def compute(arm: Arm = arm, s: int = s, quality: str | None = None) -> dict[str, Any]:
                    model = _train_arm(recipe, arm, s, start, work, quick, threads, engine)
                    out = _evaluate(recipe, model, s, tasks, quick, quality, engine)
                    out["settings"] = rl_settings(recipe, arm, quick)
                    out["records"] = run_records(model.parent)
                    return out

                cell(arm.name, s, compute)
                if arm.eval_with_context and arm.name in values and s in values[arm.name]:
                    cell(f"{arm.name}+context", s, lambda arm=arm, s=s: compute(arm, s, "informative"))
                elif arm.eval_with_context:  # its run is not there yet, so neither is its with-context evaluation
                    pending.append(f"{arm.name}+context seed {s}")
    return {"values": values, "pending": pending, "tasks": tasks}


# ---- statistics and verdicts -----------------------------------------------------------------------------------


def paired(values: dict[str, dict[int, dict]], treatment: str, control: str, metric: str) -> dict[str, Any] | None:
    """Per-seed ``treatment - control`` of ``metric`` over the seeds both have: summary plus the differences.

    When both rows give the same figure on every seed (a greedy evaluation of one model: the seeds are one
    measurement) and their cells hold per-task success over the same tasks (``task_success``), the interval is
    instead paired over those tasks (Student-t over the per-task differences; ``unit`` ``"tasks"``, ``tasks`` the
    count): what is uncertain then is which tasks were drawn, not the seed. Only success is compared per task."""
    seeds = sorted(set(values.get(treatment, {})) & set(values.get(control, {})))
    if not seeds:
        return None
    diffs = [values[treatment][s][metric] - values[control][s][metric] for s in seeds]
    out = {**summarise_values(diffs, metric), "diffs": diffs, "unit": "seeds"}

    def one_measurement(row: str) -> bool:  # every seed gave the same figure and the same per-task outcomes
        cells = [values[row][s] for s in seeds]
        return len({c[metric] for c in cells}) == 1 and all(
            c.get("task_success") == cells[0].get("task_success") for c in cells
        )

    first_t, first_c = values[treatment][seeds[0]], values[control][seeds[0]]
    tasks_t, tasks_c = first_t.get("task_success"), first_c.get("task_success")
    deterministic = one_measurement(treatment) and one_measurement(control)
    if metric == "success" and deterministic and tasks_t and tasks_c and set(tasks_t) == set(tasks_c):
        per_task = [tasks_t[task] - tasks_c[task] for task in sorted(tasks_t)]
        out = {**summarise_values(per_task, metric), "diffs": diffs, "unit": "tasks", "tasks": len(per_task)}
        out["seeds"] = len(seeds)
    return out


def decide(diff: dict[str, Any] | None) -> str:
    """``supported`` (95% interval above 0), ``refuted`` (below 0), ``inconclusive`` (holds 0, one seed only, or every
    seed gave the same difference, as a deterministic evaluation does, and no per-task interval could replace the
    seeds', see :func:`paired`: then the seeds are one measurement and the interval says nothing) or ``not run`` (no
    seed has both sides)."""
    if diff is None:
        return "not run"
    if diff.get("unit") == "tasks":  # one deterministic measurement, its interval paired over the tasks
        if diff["tasks"] < 2 or diff["low"] == diff["high"]:
            return "inconclusive"
    elif diff["seeds"] < 2 or diff["low"] == diff["high"]:
        return "inconclusive"
    if diff["low"] > 0:
        return "supported"
    if diff["high"] < 0:
        return "refuted"
    return "inconclusive"


def decide_gate_rise(first: Sequence[float], last: Sequence[float]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """The active-gate claim has two parts, each decided like :func:`decide`: the first step's active share is below
    0.5 (``0.5 - first``) and it rises (``last - first``). Supported when both are, refuted when either is refuted.
    Returns the verdict and the two summaries."""
    below = summarise_values([0.5 - a for a in first])
    rise = summarise_values([b - a for a, b in zip(first, last, strict=True)])
    parts = (decide(below), decide(rise))
    if "refuted" in parts:
        return "refuted", below, rise
    return ("supported" if parts == ("supported", "supported") else "inconclusive"), below, rise


def gate_telemetry(per_seed: Sequence[Sequence[dict[str, Any]]]) -> dict[str, Any]:
    """Per-step means over seeds of the SDAR gate metrics (each seed's run records, as its cell keeps them), each
    seed's first and last active share, and the token-weighted gap by turn and by relative position over all
    steps."""
    keys = ("sdar/gate_mean", "sdar/gate_active_ratio", "sdar/teacher_gap_mean", "success")
    runs = [r for r in per_seed if r and "sdar/gate_mean" in r[0]]
    if not runs:
        return {}
    steps = min(len(r) for r in runs)
    curves = {k: [statistics.fmean(r[i][k] for r in runs) for i in range(steps)] for k in keys}
    first = [r[0]["sdar/gate_active_ratio"] for r in runs]
    last = [r[steps - 1]["sdar/gate_active_ratio"] for r in runs]
    buckets: dict[str, dict[int, list[float]]] = {"turn": {}, "position": {}}
    for records in runs:
        for record in records:
            for kind, total in buckets.items():
                gaps = record.get(f"sdar/gap_by_{kind}") or []
                counts = record.get(f"sdar/tokens_by_{kind}") or []
                for index, (g, n) in enumerate(zip(gaps, counts, strict=False)):
                    if g is not None and n:
                        bucket = total.setdefault(index, [0.0, 0.0])
                        bucket[0] += g * n
                        bucket[1] += n
    by = {kind: {i: s / n for i, (s, n) in sorted(total.items()) if n} for kind, total in buckets.items()}
    return {
        "seeds": len(runs),
        "steps": steps,
        "curves": curves,
        "active_first": first,
        "active_last": last,
        "gap_by_turn": by["turn"],
        "gap_by_position": by["position"],
    }


#: The teacher-signal metrics :func:`teacher_signals` averages per arm.
SIGNALS = ("sdar/gate_mean", "sdar/gate_active_ratio", "sdar/teacher_gap_mean", "sdar/teacher_kl")


def teacher_signals(values: dict[str, dict[int, dict[str, Any]]], arms: Sequence[Arm]) -> dict[str, dict[str, Any]]:
    """Per teacher arm with records: each of :data:`SIGNALS` averaged over all steps of each seed, then summarised
    over seeds (mean and Student-t interval): whether the gate reacts to the context's quality shows here."""
    out: dict[str, dict[str, Any]] = {}
    for arm in arms:
        runs = [r for r in arm_records(values, arm.name) if r and SIGNALS[0] in r[0]]
        if runs:
            per_seed = {k: [[step[k] for step in r if k in step] for r in runs] for k in SIGNALS}
            out[arm.name] = {
                k: summarise_values([statistics.fmean(steps) for steps in seeds if steps], "value")
                for k, seeds in per_seed.items()
                if any(seeds)
            }
    return out


def arm_records(values: dict[str, dict[int, dict[str, Any]]], arm: str) -> list[list[dict[str, Any]]]:
    """The run records of every seed of ``arm`` (in seed order) whose cell keeps them."""
    return [cell["records"] for _, cell in sorted(values.get(arm, {}).items()) if cell.get("records")]


def env_report(env: str, run: dict[str, Any], arms: Sequence[Arm]) -> dict[str, Any]:
    """Summaries per row, the paired difference to GRPO per arm, every claim's verdict and the gate telemetry."""
    from sdar_agent.warm_start import shipped_dir

    recipe = claims_recipe(env)
    metric, values = recipe.metric, run["values"]
    rows = {row: summarise_values([per[s][metric] for s in sorted(per)], metric) for row, per in values.items()}
    vs_grpo = {a.name: paired(values, a.name, "grpo", metric) for a in arms if a.name != "grpo"}
    vs_sft = {a.name: paired(values, a.name, "sft", metric) for a in arms}
    by_type = {
        row: {t: statistics.fmean(per[s]["by_type"][t] for s in per) for t in next(iter(per.values()))["by_type"]}
        for row, per in values.items()
        if all(per[s].get("by_type") for s in per)
    }
    claims = {}
    for claim in CLAIMS:
        diff = paired(values, claim.treatment, claim.control, metric)
        claims[claim.key] = {"text": claim.text, "diff": diff, "verdict": decide(diff), "paper": claim.paper}
    gates = gate_telemetry(arm_records(values, "sdar"))
    if gates:
        first, last = gates["active_first"], gates["active_last"]
        verdict, below, rise = decide_gate_rise(first, last)
        claims["gate-rises"] = {
            "text": "The share of active gates (g > 0.5) starts below 0.5 and rises (SDAR runs, first vs last step)",
            "diff": {**rise, "first": first, "last": last, "below_half": below},
            "verdict": verdict,
            "paper": "starts below 0.5, rises",
        }
    return {
        "metric": metric,
        "cost": cell_costs(values),
        "warm_start_shipped": shipped_dir(env, context=True) is not None,
        "rows": rows,
        "vs_sft": vs_sft,
        "vs_grpo": vs_grpo,
        "by_type": by_type,
        "claims": claims,
        "gates": gates,
        "signals": teacher_signals(values, arms),
    }


_UNSHIPPED = (
    "; no context warm start of this env is shipped, so on a fresh clone the command trains it first (the learning"
    " recipe's SFT with the context samples, resumable)"
)


def cell_costs(values: dict[str, dict[int, dict[str, Any]]]) -> dict[str, dict[str, float]]:
    """Measured wall-clock of the finished cells: ``{"rl": ..., "eval": ...}``, each ``{"minutes", "cells"}`` (mean
    minutes per cell; RL cells are the ones that keep run records, evaluations of the warm start the others; a cell that
    repeats another seed's greedy evaluation cost nothing and is not counted)."""
    minutes: dict[str, list[float]] = {"rl": [], "eval": []}
    for per in values.values():
        for cell in per.values():
            if "seconds" in cell and "reused_from_seed" not in cell:
                minutes["rl" if cell.get("records") else "eval"].append(cell["seconds"] / 60)
    return {kind: {"minutes": statistics.fmean(m), "cells": len(m)} for kind, m in minutes.items() if m}


def pending_estimate(pending: Sequence[str], cost: dict[str, dict[str, float]]) -> str:
    """What computing the ``pending`` cells would take at the measured ``cost`` (:func:`cell_costs`)."""
    evals = sum(1 for p in pending if p.split(" ")[0] in WARM_ROWS)
    rl = len(pending) - evals
    parts = [f"{rl} RL cell(s) and {evals} warm-start evaluation(s)"]
    if "rl" in cost and "eval" in cost:
        hours = (rl * cost["rl"]["minutes"] + evals * cost["eval"]["minutes"]) / 60
        parts.append(
            f"at the measured {cost['rl']['minutes']:.0f} min per RL cell and {cost['eval']['minutes']:.0f} min per"
            f" evaluation here (mean of {cost['rl']['cells']} and {cost['eval']['cells']} finished cells, as they were"
            f" run) that is about {hours:.1f} hours of one worker, {hours / 2:.1f} with two"
        )
    return "; ".join(parts)


# ---- report ----------------------------------------------------------------------------------------------------


def _interval(summary: dict[str, Any]) -> str:
    if summary["seeds"] < 2:
        return f"{summary['mean']:.3f}"
    return f"{summary['mean']:.3f} [{summary['low']:.3f}, {summary['high']:.3f}]"


def _pct(summary: dict[str, Any] | None, signed: bool = False) -> str:
    if summary is None:
        return "not run"
    fmt = "{:+.1f}" if signed else "{:.1f}"
    mean = fmt.format(100 * summary["mean"])
    if summary.get("unit") == "tasks":
        return (
            f"{mean} [{100 * summary['low']:.1f}, {100 * summary['high']:.1f}] (paired over {summary['tasks']} "
            f"tasks: all {summary['seeds']} seeds give the same)"
        )
    if summary["seeds"] < 2:
        return f"{mean} (1 seed)"
    if summary["low"] == summary["high"]:  # every seed gave the same figure: the seeds are not independent draws
        return f"{mean} (the same on all {summary['seeds']} seeds: no interval)"
    return f"{mean} [{100 * summary['low']:.1f}, {100 * summary['high']:.1f}] ({summary['seeds']} seeds)"


def render_markdown(report: dict[str, Any], command: str, machine: str, load: str) -> str:
    envs = list(report["envs"])
    lines = ["# The paper's claims, measured at small scale", ""]
    lines += [f"Command: `{command}`", "", f"Machine: {machine}; load average at the end: {load}.", ""]
    lines += [
        "Every arm starts from the same warm start per env: the learning recipe's SFT with half the demonstration",
        f"turns repeated with the env's informative privileged context in front (context_fraction {CONTEXT_FRACTION}).",
        "Every arm and seed runs the env's RL recipe budget (the same steps, tasks x group and lr). Cells: mean [95%",
        "Student-t interval over seeds] in percent on the held-out split, evaluated without any context unless the",
        "row says so. `vs SFT` and `vs GRPO` are paired per-seed differences (same evaluation seed). Where both",
        "rows give the same figures on every seed (a greedy evaluation of one model), the seeds are one measurement",
        "and the interval is paired over the held-out tasks instead (Student-t over per-task differences).",
        "",
    ]
    header = "| row | " + " | ".join(f"{e} {report['envs'][e]['metric']} | vs SFT | vs GRPO" for e in envs) + " |"
    lines += ["## Main table", "", header, "|---|" + "---|---|---|" * len(envs)]
    names = list(WARM_ROWS) + [r for a in report["arms"] for r in (a, f"{a}+context")]
    labels = {**{r: r for r in WARM_ROWS}, **{a.name: a.label for a in ARMS}}
    labels.update({f"{a.name}+context": f"{a.label}, evaluated with context" for a in ARMS})
    labels["sft"] = "SFT warm start (student)"
    labels["sft+context"] = "SFT + informative context (teacher's view)"
    labels["sft+context-random"] = "SFT + random context (another task's)"
    labels["sft+context-adversarial"] = "SFT + adversarial context (a plausible wrong one)"
    for row in names:
        entries = [report["envs"][e] for e in envs]
        if not any(row in entry["rows"] for entry in entries) and row.endswith("+context"):
            continue
        cells = []
        for entry in entries:
            cells.append(_pct(entry["rows"].get(row)))
            for key in ("vs_sft", "vs_grpo"):
                diff = entry[key].get(row)
                cells.append(_pct(diff, signed=True) if diff else "")
        lines.append(f"| {labels.get(row, row)} | " + " | ".join(cells) + " |")
    for env in envs:
        by_type = report["envs"][env].get("by_type") or {}
        types = sorted({t for per in by_type.values() for t in per})
        if types:
            lines += ["", f"{env} success by task type (mean over the row's seeds, percent):", ""]
            lines += ["| row | " + " | ".join(types) + " |", "|---|" + "---|" * len(types)]
            for row in (r for r in names if r in by_type):
                shown = " | ".join(f"{100 * by_type[row][t]:.1f}" if t in by_type[row] else "" for t in types)
                lines.append(f"| {labels.get(row, row)} | {shown} |")
    lines += ["", "## Claims", "", "| claim | env | paired difference | verdict | paper |", "|---|---|---|---|---|"]
    for env in envs:
        for claim in report["envs"][env]["claims"].values():
            diff = claim["diff"]
            shown = _pct(diff, signed=True) if diff else "not run"
            lines.append(f"| {claim['text']} | {env} | {shown} | **{claim['verdict']}** | {claim['paper']} |")
    lines += [
        "",
        "Verdict rule: supported when the 95% interval of the paired difference lies above 0, refuted when it lies",
        "below 0, inconclusive when it holds 0, when only one seed exists or when every seed gave the same",
        "difference (a deterministic evaluation: the seeds are one measurement). The gate claim's difference is",
        "each SDAR seed's last-step minus first-step active share (g > 0.5); it is supported when that rise is and",
        "the first-step share lies below 0.5 (same rule on 0.5 - first), refuted when either part is refuted.",
        "",
    ]
    for env in envs:
        gates = report["envs"][env]["gates"]
        if gates:
            first = ", ".join(f"{a:.2f}" for a in gates["active_first"])
            last = ", ".join(f"{a:.2f}" for a in gates["active_last"])
            turns = ", ".join(f"{t}: {g:+.2f}" for t, g in list(gates["gap_by_turn"].items())[:10])
            positions = ", ".join(f"{p}: {g:+.2f}" for p, g in gates.get("gap_by_position", {}).items())
            lines += [
                f"Gate telemetry, {env} SDAR ({gates['seeds']} seeds, {gates['steps']} steps): active share first step",
                f"{first}; last step {last}. Mean gap log pi_T - log pi_theta by turn (all steps): {turns}; by",
                f"relative position in the reply (bucket: gap): {positions}.",
                "",
            ]
        signals = report["envs"][env].get("signals") or {}
        if signals:
            lines += [
                f"Teacher signal per arm, {env} (each seed's mean over its steps, then mean [95% interval] over seeds;",
                "gate g = sigmoid(beta * gap), active = share of tokens with g > 0.5, gap = log pi_T - log pi_theta of",
                "the sampled tokens, KL = the teacher-student KL estimate):",
                "",
                "| arm | gate mean | active share | gap mean | teacher KL | seeds |",
                "|---|---|---|---|---|---|",
            ]
            for name, row in signals.items():
                cells = [_interval(row[k]) if k in row else "" for k in SIGNALS] + [str(row[SIGNALS[0]]["seeds"])]
                lines.append(f"| {labels.get(name, name)} | " + " | ".join(cells) + " |")
            lines.append("")
        pending = report["envs"][env].get("pending")
        if pending:
            lines += [f"Not yet computed on {env} (rerun the command; cells are cached): "]
            lines += [", ".join(pending) + ".", ""]
            lines += [
                f"Why not yet: compute. Left on {env}: "
                + pending_estimate(pending, report["envs"][env].get("cost") or {})
                + ("" if report["envs"][env].get("warm_start_shipped", True) else _UNSHIPPED)
                + ".",
                "",
            ]
    lines += [
        "## What this scale cannot say",
        "",
        "These policies are small models trained on a CPU (the learning recipes: a from-scratch 5.5M-parameter model",
        "on ALFWorld, SmolLM2-135M with LoRA on Search-QA and WebShop) for a few steps of a few groups. A verdict here",
        "says what gated self-distillation does for such a policy and budget; it does not transfer to Qwen2.5-3B/7B",
        "or Qwen3-1.7B trained 150 steps of 16-128 tasks x 8 rollouts, where the teacher reads natural-language skills",
        "it can understand. `recipes/*.yaml` hold the paper's settings for those models: one command per method,",
        "`sdar train --config recipes/alfworld-qwen2.5-3b.yaml --method sdar --seed 0` (see recipes/README.md).",
        "On a GPU, `benchmarks/gpu_check_claims.py` (under 8 minutes, its docstring gives the device command) trains",
        "SDAR and GRPO from the same warm start side by side at 4x these cells' samples per step, one seed, and",
        "evaluates both on the same held-out games; its result, when a run exists, is `claims_gpu_check.md` here.",
        "",
    ]
    return "\n".join(lines) + "\n"


def write_figures(out: Path, values: dict[str, dict[str, dict[int, dict]]], arms: Sequence[Arm]) -> None:
    """``OUT_curves.png``: rollout success per step (mean over seeds) per arm and env; ``OUT_gates.png``: the SDAR
    runs' gate mean, active share and gap per step, and the gap by turn. ``values`` are the cells per env; only
    cells that keep their run records are drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    envs = list(values)
    figure, axes = plt.subplots(1, len(envs), figsize=(5 * len(envs), 3.8), squeeze=False)
    for column, env in enumerate(envs):
        ax = axes[0][column]
        for arm in arms:
            runs = arm_records(values[env], arm.name)
            if runs:
                steps = min(len(r) for r in runs)
                curve = [statistics.fmean(r[i]["success"] for r in runs) for i in range(steps)]
                ax.plot(range(1, steps + 1), curve, label=f"{arm.name} ({len(runs)})")
        ax.set_title(f"{env}: rollout success (mean over seeds)")
        ax.set_xlabel("step")
        if ax.lines:
            ax.legend(fontsize=6)
        else:
            ax.text(0.5, 0.5, "no finished run yet", ha="center", va="center", transform=ax.transAxes)
    figure.tight_layout()
    figure.savefig(f"{out}_curves.png", dpi=110)
    plt.close(figure)

    figure, axes = plt.subplots(len(envs), 4, figsize=(16, 3.5 * len(envs)), squeeze=False)
    panels = (("sdar/gate_mean", "gate mean"), ("sdar/gate_active_ratio", "active share (g > 0.5)"))
    panels += (("sdar/teacher_gap_mean", "gap log pi_T - log pi_theta"),)
    for row, env in enumerate(envs):
        drawn = False
        for arm in arms:
            gates = gate_telemetry(arm_records(values[env], arm.name))
            if not gates:
                continue
            drawn = True
            for column, (key, title) in enumerate(panels):
                axes[row][column].plot(range(1, gates["steps"] + 1), gates["curves"][key], label=arm.name)
                axes[row][column].set_title(f"{env}: {title}")
                axes[row][column].set_xlabel("step")
            turns = gates["gap_by_turn"]
            axes[row][3].plot(list(turns), list(turns.values()), marker=".", label=arm.name)
            axes[row][3].set_title(f"{env}: gap by turn (all steps)")
            axes[row][3].set_xlabel("turn")
        if drawn:
            axes[row][1].axhline(0.5, color="grey", lw=0.5)
        for ax in axes[row]:
            if drawn:
                ax.legend(fontsize=6)
            else:
                ax.set_title(f"{env}: gate telemetry")
                ax.text(0.5, 0.5, "no finished SDAR run yet", ha="center", va="center", transform=ax.transAxes)
    figure.tight_layout()
    figure.savefig(f"{out}_gates.png", dpi=110)
    plt.close(figure)


# ---- command line ----------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", nargs="+", default=["alfworld"], choices=list(RECIPES))
    parser.add_argument("--seeds", type=int, default=3, help="seeds per cell (default %(default)s)")
    parser.add_argument("--arms", nargs="+", choices=list(ARM_BY_NAME), help="arms to run (default: every arm)")
    parser.add_argument("--tiers", nargs="+", type=int, choices=TIERS, help="only the arms of these tiers")
    parser.add_argument("--work", default="runs/claims", help="runs and checkpoints (resumable, shareable)")
    add_cells_argument(parser, CELLS)
    parser.add_argument("--out", default="benchmarks/results/claims", help="OUT.json, OUT.md, OUT_*.png")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument(
        "--rollout-engine",
        default="auto",
        choices=list(ENGINES),
        help="what samples rollouts and evaluations (auto: vLLM where installed)",
    )
    parser.add_argument("--quick", action="store_true", help="tiny model, a few steps: checks the pipeline (CI)")
    parser.add_argument(
        "--summarize-only", action="store_true", help="compute nothing: report the cached cells and list the missing"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from sdar_agent.leaderboard.report import load_average, machine_description

    args = build_parser().parse_args(argv)
    if args.seeds < 1:
        raise SystemExit("--seeds must be at least 1")
    arms = [ARM_BY_NAME[name] for name in args.arms] if args.arms else list(ARMS)
    if args.tiers:
        arms = [arm for arm in arms if arm.tier in args.tiers]
    if not any(arm.name == "grpo" for arm in arms):
        arms.insert(0, ARM_BY_NAME["grpo"])  # every comparison is paired against GRPO
    work = Path(args.work) / ("quick" if args.quick else "full")
    started = time.perf_counter()
    report: dict[str, Any] = {"envs": {}, "arms": [a.name for a in arms], "quick": args.quick, "settings": {}}
    values: dict[str, dict[str, dict[int, dict]]] = {}
    for env in args.envs:
        run = run_env(
            env,
            work / env,
            seeds=range(args.seeds),
            arms=arms,
            cells=cells_dir(args, CELLS, env),
            quick=args.quick,
            threads=args.threads,
            cached_only=args.summarize_only,
            engine=args.rollout_engine,
        )
        entry = env_report(env, run, arms)
        entry["pending"], entry["tasks"] = run["pending"], run["tasks"]
        values[env] = run["values"]
        report["envs"][env] = entry
        report["settings"][env] = {
            "recipe": asdict(claims_recipe(env)),
            "arms": {a.name: rl_settings(claims_recipe(env), a, args.quick) for a in arms},
        }
    report["partial"] = any(e["pending"] for e in report["envs"].values())
    report["seconds"] = time.perf_counter() - started
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    given = [a for a in (sys.argv[1:] if argv is None else argv) if a != "--summarize-only"]
    command = ("python benchmarks/bench_claims.py " + " ".join(given)).strip()
    out.with_suffix(".json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    out.with_suffix(".md").write_text(render_markdown(report, command, machine_description(), load_average()))
    write_figures(out, values, arms)
    print(out.with_suffix(".md").read_text())
    return 0
