"""One leaderboard for every method on every env, in the layout of the SDAR paper's main table.

Rows are agents: the reference agents (``random``: uniform over the admissible actions, or a random well-formed
action where the action space is free text; ``expert``: ``info["expert_action"]``), a zero-shot model
(``--model``, default ``tiny``), the same model with skills in its prompt (skill-bank keyword retrieval, rendered
after the ``[Privileged Skill Information]`` header), and any trained runs (``--runs DIR ...``, `sdar train` output
directories; the row is the run's method, the env the one it was trained on). Columns, per env present:

* ALFWorld (``eval_out_of_distribution`` in the main table, ``eval_in_distribution`` in a second one): success %
  per task type (Pick, Look, Clean, Heat, Cool, Pick2) and the average over all episodes (the paper's ALF Avg);
* Search-QA (``test``): exact match % per ``data_source``, in-domain (ID) and out-of-domain (OOD) marked, and the
  unweighted mean over sources (the paper's SQA Avg);
* WebShop (``test_128``, the fixed 128-goal subset): mean score x 100 and success %.

Each cell is ``mean [low, high] (n)``: the mean over seeds and a Student-t 95% interval of the per-seed values when
there are several seeds and they differ; otherwise (one seed, or identical seeds as under greedy decoding) a Wilson
95% interval of the success proportion over all episodes (none for scores and source means). ``n`` is the number of
episodes behind the cell, all seeds together. Runs sharing a label (``LABEL=DIR``, or the same method) share a row.

Models are evaluated with :func:`sdar_agent.evaluation.evaluate` (the trainer's rollout code); the scripted agents
play the env directly. Results are cached per (agent, env, split, seed) under ``OUT/cells/``; an interrupted run
continues with the cells still missing. Writes ``leaderboard.md``, ``leaderboard.csv`` and ``leaderboard.png``.

Examples::

    python benchmarks/leaderboard.py --quick                      # make demo: train GRPO + SDAR briefly, evaluate all
    python benchmarks/leaderboard.py --runs runs/grpo runs/sdar --model runs/base/model --seeds 3
    python benchmarks/leaderboard.py --envs searchqa --agents random expert --per-group 50
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import math
import os
import platform
import random
import re
import shlex
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym

import sdar_envs  # noqa: F401  (registers the env ids)

__all__ = [
    "ENVS",
    "Agent",
    "EnvSpec",
    "aggregate",
    "cell_path",
    "main",
    "play_scripted",
    "render_markdown",
    "run_cells",
    "t_quantile",
    "wilson_interval",
]


# ----------------------------------------------------------------------------------------------------- envs
@dataclass(frozen=True)
class EnvSpec:
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
        label = self.labels.get(group, group)
        if self.in_domain is None:
            return label
        return f"{label} ({'ID' if group in self.in_domain else 'OOD'})"


_ALFWORLD_TYPES = {
    "pick_and_place_simple": "Pick",
    "look_at_obj_in_light": "Look",
    "pick_clean_then_place_in_recep": "Clean",
    "pick_heat_then_place_in_recep": "Heat",
    "pick_cool_then_place_in_recep": "Cool",
    "pick_two_obj_and_place": "Pick2",
}
_SEARCHQA_IN_DOMAIN = ("single_hop", "bridge")
_SEARCHQA_SOURCES = (*_SEARCHQA_IN_DOMAIN, "comparison", "three_hop", "paraphrase")

ENVS: dict[str, EnvSpec] = {
    "alfworld": EnvSpec(
        "alfworld",
        "sdar/ALFWorld-v0",
        ("eval_out_of_distribution", "eval_in_distribution"),
        groups=tuple(_ALFWORLD_TYPES),
        group_filter="task_types",
        labels=_ALFWORLD_TYPES,
        env_kwargs={"engine": "native"},
        quick_per_group=1,
        quick_max_turns=8,
        quick_splits=("eval_out_of_distribution",),
    ),
    "searchqa": EnvSpec(
        "searchqa",
        "sdar/SearchQA-v0",
        ("test",),
        groups=_SEARCHQA_SOURCES,
        group_filter="data_sources",
        in_domain=_SEARCHQA_IN_DOMAIN,
        quick_per_group=3,
    ),
    "webshop": EnvSpec("webshop", "sdar/WebShop-v0", ("test_128",), quick_per_group=8, quick_max_turns=6),
}


def available_splits(spec: EnvSpec) -> tuple[list[str], dict[str, str]]:
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


# --------------------------------------------------------------------------------------------------- agents
@dataclass(frozen=True)
class Agent:
    """A row of the leaderboard.

    Attributes:
        key: cache-safe identifier (directory name under ``OUT/cells``).
        label: row header.
        kind: ``random``, ``expert`` or ``model``.
        model: model source for ``load_policy`` (kind ``model``).
        gguf_file: GGUF file inside ``model``.
        skills: show skill-bank keyword retrieval in the prompt.
        skills_k: at most this many skills (None: every relevant skill).
        envs: envs the agent is evaluated on (None: all); a trained run is evaluated on the env it was trained on.
        run_dir: the training run it comes from (its ``metrics.jsonl`` gives the training curves).
    """

    key: str
    label: str
    kind: str
    model: str | None = None
    gguf_file: str | None = None
    skills: bool = False
    skills_k: int | None = None
    envs: tuple[str, ...] | None = None
    run_dir: str | None = None


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "agent"


def reference_agents(
    names: Sequence[str], model: str, gguf_file: str | None, skills_k: int | None = None
) -> list[Agent]:
    """The reference rows among ``names`` (``random``, ``expert``, ``zero-shot``, ``skills``)."""
    model_name = Path(model).name if model != "tiny" else "tiny"
    top = f", top-{skills_k}" if skills_k else ""
    made = {
        "random": Agent("random", "Random", "random"),
        "expert": Agent("expert", "Expert / oracle", "expert"),
        "zero-shot": Agent(_safe(f"zeroshot-{model}"), f"Zero-shot ({model_name})", "model", model, gguf_file),
        "skills": Agent(
            _safe(f"skills{skills_k or ''}-{model}"),
            f"Zero-shot + skills ({model_name}{top})",
            "model",
            model,
            gguf_file,
            skills=True,
            skills_k=skills_k,
        ),
    }
    return [made[name] for name in names if name in made]


def run_agent(spec: str) -> Agent:
    """A trained run (``DIR`` or ``LABEL=DIR``): its ``model/`` directory, method and env from its saved config."""
    label, _, directory = spec.rpartition("=")
    run = Path(directory)
    model = run / "model"
    if not (model / "config.json").is_file():
        raise FileNotFoundError(f"no trained model at {model}; pass the --output-dir of a finished `sdar train` run")
    config: dict[str, Any] = {}
    checkpoints = sorted((run / "checkpoints").glob("step_*/config.json"))
    if checkpoints:
        config = json.loads(checkpoints[-1].read_text())
    method = str(config.get("method", ""))
    env = config.get("env")
    short = {v.env_id: k for k, v in ENVS.items()}.get(env, env) if env else None
    name = label or (method.upper().replace("_", "-") if method else run.name)
    return Agent(
        _safe(f"run-{run.resolve()}")[-120:],
        name,
        "model",
        str(model),
        envs=(short,) if short else None,
        run_dir=str(run),
    )


_TITLE = re.compile(r'\(Title: "([^"]*)"\)')


def random_action(env_name: str, instruction: str, observations: list[str], info: dict, rng: random.Random) -> str:
    """Uniform over ``info["admissible_actions"]``; where that is empty (free text), a random well-formed action:
    Search-QA searches 1-3 question words or answers a title seen so far; WebShop searches 1-3 instruction words."""
    admissible = info.get("admissible_actions") or []
    if admissible:
        return rng.choice(list(admissible))
    words = re.findall(r"[A-Za-z0-9']+", instruction) or ["item"]
    query = " ".join(rng.sample(words, min(len(words), rng.randint(1, 3))))
    if env_name == "searchqa":
        titles = [t.split(" (")[0] for obs in observations for t in _TITLE.findall(obs)]
        if titles and rng.random() < 0.5:
            return f"<answer> {rng.choice(titles)} </answer>"
        return f"<search> {query} </search>"
    return f"search[{query}]"


def play_scripted(
    agent: Agent,
    spec: EnvSpec,
    split: str,
    *,
    group: str | None,
    num_tasks: int | None,
    seed: int,
    max_turns: int | None,
) -> dict[str, Any]:
    """Play tasks ``0 .. num_tasks-1`` of the split (restricted to ``group``) with a scripted agent, one episode each.

    Returns ``{"episodes", "success", "score"}`` (success and mean score in [0, 1]).
    """
    kwargs = dict(spec.env_kwargs)
    if group is not None and spec.group_filter:
        kwargs[spec.group_filter] = [group]
    if max_turns is not None:
        kwargs["max_episode_steps"] = max_turns
    env = gym.make(spec.env_id, split=split, **kwargs)
    rng = random.Random(seed)
    wins: list[bool] = []
    scores: list[float] = []
    try:
        total = len(env.unwrapped.task_ids())
        count = total if num_tasks is None else min(num_tasks, total)
        for index in range(count):
            obs, info = env.reset(seed=seed + index, options={"index": index})
            observations = [obs]
            instruction = info["task"].instruction
            while True:
                if agent.kind == "expert":
                    action = info.get("expert_action") or ""
                else:
                    action = random_action(spec.name, instruction, observations, info, rng)
                obs, _, terminated, truncated, info = env.step(action)
                observations.append(obs)
                if terminated or truncated:
                    break
            wins.append(bool(info["won"]))
            scores.append(float(info["score"]))
    finally:
        env.close()
    n = len(wins)
    return {"episodes": n, "success": sum(wins) / n if n else 0.0, "score": sum(scores) / n if n else 0.0}


# ---------------------------------------------------------------------------------------------------- cells
@dataclass(frozen=True)
class EvalSettings:
    """How cells are played: tasks per group, step limits of model episodes (scripted agents always get the env's
    registered limit: they cost microseconds a step), reply and prompt token limits, generation batch."""

    per_group: int | None = None
    max_turns: dict[str, int | None] = field(default_factory=dict)
    max_new_tokens: int = 512
    max_prompt_tokens: int = 4096
    batch_size: int = 32


def cell_path(out: Path, agent: Agent, env: str, split: str, seed: int) -> Path:
    """Cache file of one (agent, env, split, seed) cell."""
    return out / "cells" / agent.key / env / split / f"seed{seed}.json"


class _Models:
    """Loads each model once per process and the skill bank once."""

    def __init__(self) -> None:
        self._policies: dict[tuple[str, str | None], Any] = {}
        self._bank: Any = None

    def policy(self, agent: Agent) -> Any:
        from sdar_agent.policy import load_policy

        key = (str(agent.model), agent.gguf_file)
        if key not in self._policies:
            self._policies[key] = load_policy(str(agent.model), gguf_file=agent.gguf_file)
        return self._policies[key]

    def skills(self, k: int | None = None) -> Callable[[Any], str]:
        """task -> the rendered keyword-retrieved skills (at most ``k``; None: every relevant one)."""
        if self._bank is None:
            from skillbank import SkillBank

            self._bank = SkillBank()
        bank = self._bank
        return lambda task: bank.prefix(task, "keyword", k)


def evaluate_cell(
    agent: Agent, spec: EnvSpec, split: str, seed: int, settings: EvalSettings, models: _Models
) -> dict[str, Any]:
    """Play one cell: every group of ``spec`` on ``split`` with ``seed``; returns the JSON-ready result."""
    started = time.perf_counter()
    max_turns = settings.max_turns.get(spec.name)
    groups: dict[str, dict[str, Any]] = {}
    for group in spec.groups or ("all",):
        name = None if group == "all" else group
        if agent.kind in ("random", "expert"):
            result = play_scripted(
                agent, spec, split, group=name, num_tasks=settings.per_group, seed=seed, max_turns=None
            )
        else:
            import torch

            from sdar_agent.evaluation import evaluate

            torch.manual_seed(seed)
            kwargs = dict(spec.env_kwargs)
            if name is not None and spec.group_filter:
                kwargs[spec.group_filter] = [name]
            summary = evaluate(
                models.policy(agent),
                spec.env_id,
                split=split,
                num_tasks=settings.per_group,
                batch_size=settings.batch_size,
                max_new_tokens=settings.max_new_tokens,
                max_prompt_tokens=settings.max_prompt_tokens,
                max_turns=max_turns,
                seed=seed,
                skills=models.skills(agent.skills_k) if agent.skills else None,
                env_kwargs=kwargs,
            )
            result = {k: summary[k] for k in ("episodes", "success", "score", "invalid_rate", "turns")}
        groups[group] = result
    return {
        "agent": agent.key,
        "label": agent.label,
        "env": spec.name,
        "split": split,
        "seed": seed,
        "groups": groups,
        "seconds": time.perf_counter() - started,
    }


def run_cells(
    out: Path,
    agents: Sequence[Agent],
    specs: Sequence[EnvSpec],
    seeds: Sequence[int],
    settings: EvalSettings,
    *,
    progress: bool = True,
    evaluate_fn: Callable[..., dict[str, Any]] = evaluate_cell,
) -> list[dict[str, Any]]:
    """Every (agent, env, split, seed) cell, from the cache where present, else evaluated and cached at once."""
    from tqdm.auto import tqdm

    todo = [
        (agent, spec, split, seed)
        for agent in agents
        for spec in specs
        if agent.envs is None or spec.name in agent.envs
        for split in spec.splits
        for seed in seeds
    ]
    models = _Models()
    results = []
    bar = tqdm(todo, desc="leaderboard", unit="cell", disable=not progress)
    for agent, spec, split, seed in bar:
        path = cell_path(out, agent, spec.name, split, seed)
        if path.is_file():
            results.append(json.loads(path.read_text()))
            continue
        bar.set_postfix_str(f"{agent.key} {spec.name}/{split} seed {seed}")
        result = evaluate_fn(agent, spec, split, seed, settings, models)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(result, indent=1) + "\n")
        tmp.replace(path)
        results.append(result)
    bar.close()
    return results


# ---------------------------------------------------------------------------------------------------- stats
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
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass
class Cell:
    """An aggregated table cell (values in percent)."""

    mean: float
    low: float | None
    high: float | None
    seeds: int
    episodes: int


def _summarise(values: Sequence[float], episodes: int, proportion: float | None = None) -> Cell:
    """Mean of per-seed ``values`` with a 95% interval.

    With >= 2 seeds whose values differ: Student-t over the per-seed values. Otherwise (one seed, or every seed
    gave the same value, e.g. greedy decoding or an expert) a Wilson interval of the pooled ``proportion`` over all
    ``episodes`` when the cell is a proportion, else no interval.
    """
    k = len(values)
    mean = sum(values) / k
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (k - 1)) if k >= 2 else 0.0
    if sd > 0:
        half = t_quantile(k - 1) * sd / math.sqrt(k)
        return Cell(100 * mean, 100 * (mean - half), 100 * (mean + half), k, episodes)
    if proportion is not None and episodes > 0:
        low, high = wilson_interval(proportion * episodes, episodes)
        return Cell(100 * mean, 100 * low, 100 * high, k, episodes)
    return Cell(100 * mean, None, None, k, episodes)


def columns_for(spec: EnvSpec) -> list[str]:
    """Column headers of ``spec`` in table order."""
    if spec.name == "alfworld":
        return [spec.column(g) for g in spec.groups] + ["ALF Avg"]
    if spec.name == "searchqa":
        return [spec.column(g) for g in spec.groups] + ["SQA Avg"]
    if spec.name == "webshop":
        return ["WS Score", "WS Succ"]
    return [spec.column(g) for g in spec.groups] + [f"{spec.name} Avg"] if spec.groups else [f"{spec.name} Succ"]


def aggregate(results: Iterable[dict[str, Any]], specs: Sequence[EnvSpec]) -> dict[tuple[str, str, str], Cell]:
    """(row label, env/split, column) -> :class:`Cell` over the seeds of each cached result.

    Results with the same row label are pooled: e.g. GRPO runs of several training seeds, or GRPO runs trained on
    different envs (each fills its env's columns).

    ALFWorld's average is over all episodes of the split (as the paper's ALF Avg); Search-QA's is the unweighted
    mean of its sources (as the paper's SQA Avg); WebShop gives the mean score and the success rate.
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
        where = f"{env}/{split}"
        if spec.groups:
            for group in spec.groups:
                per_seed = [r["groups"][group] for r in runs if group in r["groups"]]
                if not per_seed:
                    continue
                n = sum(g["episodes"] for g in per_seed)
                wins = sum(g["success"] * g["episodes"] for g in per_seed)
                table[(agent, where, spec.column(group))] = _summarise(
                    [g["success"] for g in per_seed], n, wins / n if n else 0.0
                )
            complete = [r for r in runs if all(g in r["groups"] for g in spec.groups)]
            if complete:
                n = sum(r["groups"][g]["episodes"] for r in complete for g in spec.groups)
                if spec.name == "searchqa":
                    values = [sum(r["groups"][g]["success"] for g in spec.groups) / len(spec.groups) for r in complete]
                    table[(agent, where, columns_for(spec)[-1])] = _summarise(values, n)
                else:
                    values = []
                    for r in complete:
                        episodes = sum(r["groups"][g]["episodes"] for g in spec.groups)
                        won = sum(r["groups"][g]["success"] * r["groups"][g]["episodes"] for g in spec.groups)
                        values.append(won / episodes if episodes else 0.0)
                    wins = sum(
                        r["groups"][g]["success"] * r["groups"][g]["episodes"] for r in complete for g in spec.groups
                    )
                    table[(agent, where, columns_for(spec)[-1])] = _summarise(values, n, wins / n if n else 0.0)
        else:
            per_seed = [r["groups"]["all"] for r in runs]
            n = sum(g["episodes"] for g in per_seed)
            wins = sum(g["success"] * g["episodes"] for g in per_seed)
            score_col, success_col = columns_for(spec)
            table[(agent, where, score_col)] = _summarise([g["score"] for g in per_seed], n)
            table[(agent, where, success_col)] = _summarise([g["success"] for g in per_seed], n, wins / n if n else 0.0)
    return table


# --------------------------------------------------------------------------------------------------- output
def format_cell(cell: Cell | None) -> str:
    """``mean [low, high] (n)`` in percent, one decimal; ``-`` for a missing cell."""
    if cell is None:
        return "-"
    interval = f" [{cell.low:.1f}, {cell.high:.1f}]" if cell.low is not None and cell.high is not None else ""
    return f"{cell.mean:.1f}{interval} ({cell.episodes})"


def table_sections(specs: Sequence[EnvSpec]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The tables to print: the main one (each env's first split) and one per further split.

    Each is (title, [(env/split, column), ...]).
    """
    main = [(f"{s.name}/{s.splits[0]}", c) for s in specs for c in columns_for(s)]
    sections = [("Main table", main)]
    for spec in specs:
        for split in spec.splits[1:]:
            sections.append((f"{spec.name} {split}", [(f"{spec.name}/{split}", c) for c in columns_for(spec)]))
    return sections


def render_markdown(
    table: dict[tuple[str, str, str], Cell],
    agents: Sequence[Agent],
    specs: Sequence[EnvSpec],
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


def row_labels(agents: Sequence[Agent]) -> list[str]:
    """Row labels in first-appearance order (agents sharing a label share a row)."""
    return list(dict.fromkeys(a.label for a in agents))


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


def _headline(spec: EnvSpec) -> str:
    return columns_for(spec)[-1]


def write_figure(
    path: Path, table: dict[tuple[str, str, str], Cell], agents: Sequence[Agent], specs: Sequence[EnvSpec]
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
        where, column = f"{spec.name}/{spec.splits[0]}", _headline(spec)
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
            steps, success = [], []
            for line in (Path(agent.run_dir) / "metrics.jsonl").read_text().splitlines():  # type: ignore[arg-type]
                if line.strip():
                    record = json.loads(line)
                    steps.append(record.get("step", len(steps) + 1))
                    success.append(float(record.get("return", 0.0)))
            env = agent.envs[0] if agent.envs else ""
            ax.plot(steps, success, marker="o", color=f"C{index}", label=f"{agent.label} {env}".strip())
        ax.set_xlabel("training step")
        ax.set_ylabel("mean rollout return")
        ax.set_title("training curves")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


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


# ---------------------------------------------------------------------------------------------------- quick
def train_quick_runs(
    out: Path, specs: Sequence[EnvSpec], methods: Sequence[str], settings: EvalSettings, skills_k: int | None = None
) -> tuple[list[str], list[str]]:
    """Train the tiny model for a few steps with each method on each env (skipped when already finished).

    Teachers see at most ``skills_k`` keyword-retrieved skills. Returns ``LABEL=DIR`` run specs for
    :func:`run_agent`, and a note per run that could not be trained (e.g. an
    env without a train split).
    """
    from sdar_agent.config import TrainConfig
    from sdar_agent.methods import METHODS
    from sdar_agent.trainer import Trainer

    runs: list[str] = []
    failures: list[str] = []
    models = _Models()
    for spec in specs:
        for method in methods:
            if method not in METHODS:
                print(f"method {method!r} is not in sdar_agent.methods; not trained", file=sys.stderr)
                continue
            run_dir = out / "runs" / f"{spec.name}-{method}"
            config = TrainConfig(
                env=spec.env_id,
                split="train",
                env_kwargs=dict(spec.env_kwargs),
                method=method,
                model="tiny",
                steps=3,
                tasks_per_step=2,
                group_size=2,
                max_turns=settings.max_turns.get(spec.name),
                max_response_tokens=settings.max_new_tokens,
                mini_batch_size=0,
                lr=1e-4,
                seed=0,
                output_dir=str(run_dir),
                progress=False,
            )
            if (run_dir / "model" / "config.json").is_file():
                runs.append(f"{method.upper()}={run_dir}")
                continue
            if (run_dir / "metrics.jsonl").exists():
                (run_dir / "metrics.jsonl").unlink()  # an interrupted run starts over (it is seconds long)
            uses_skills = METHODS[method].use_teacher or METHODS[method].skills_in_student_prompt
            try:
                trainer = Trainer(config, skills=models.skills(skills_k) if uses_skills else None)
            except (FileNotFoundError, ValueError) as error:
                failures.append(f"{method.upper()} on {spec.name}: not trained ({str(error).splitlines()[0][:200]})")
                continue
            try:
                trainer.fit()
            finally:
                trainer.close()
            runs.append(f"{method.upper()}={run_dir}")
    return runs, failures


# ------------------------------------------------------------------------------------------------------ CLI
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="leaderboard", description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", default="runs/leaderboard", help="output dir: cells/ cache, tables, figure, runs/")
    parser.add_argument("--runs", nargs="*", default=[], metavar="[LABEL=]DIR", help="trained run directories")
    parser.add_argument("--model", default="tiny", help="zero-shot model: tiny, an alias, a directory or a model id")
    parser.add_argument("--gguf-file", default=None, help="GGUF file inside --model")
    parser.add_argument(
        "--agents",
        nargs="*",
        default=["random", "expert", "zero-shot", "skills"],
        choices=["random", "expert", "zero-shot", "skills"],
        help="reference rows (default: all four)",
    )
    parser.add_argument("--envs", nargs="*", default=list(ENVS), choices=list(ENVS), help="envs (default: all present)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per cell (default 3; --quick 2)")
    parser.add_argument("--per-group", type=int, default=None, help="tasks per task type/data source (default: all)")
    parser.add_argument("--max-response-tokens", type=int, default=None, help="reply token limit (default 512)")
    parser.add_argument(
        "--max-prompt-tokens", type=int, default=None, help="prompt token limit (default 4096 - reply limit)"
    )
    parser.add_argument(
        "--skills-k", type=int, default=None, help="skills shown per task (default: every relevant one; --quick: 2)"
    )
    parser.add_argument("--batch-size", type=int, default=32, help="episodes per generation batch")
    parser.add_argument("--torch-threads", type=int, default=1, help="CPU threads torch may use (0: its default)")
    parser.add_argument("--report", default=None, help="path prefix of the .md/.csv/.png (default: OUT/leaderboard)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="train tiny GRPO and SDAR runs for 3 steps per env, evaluate on small subsets (2-core CPU, < 10 min)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    started = time.perf_counter()
    if args.torch_threads > 0:
        import torch

        torch.set_num_threads(args.torch_threads)
    out = Path(args.out if not (args.quick and args.out == "runs/leaderboard") else "runs/leaderboard-quick")
    out.mkdir(parents=True, exist_ok=True)
    unavailable: dict[str, str] = {}
    specs = []
    for name in args.envs:
        splits, reasons = available_splits(ENVS[name])
        for split, reason in reasons.items():
            unavailable[f"{name}/{split}"] = reason
            print(f"{name}/{split}: not available ({reason})", file=sys.stderr)
        if args.quick and ENVS[name].quick_splits is not None:
            splits = [s for s in splits if s in ENVS[name].quick_splits]
        if splits:
            specs.append(dataclasses.replace(ENVS[name], splits=tuple(splits)))
    if not specs:
        print("no env could be made; see the reasons above", file=sys.stderr)
        return 2
    quick_turns = {s.name: s.quick_max_turns for s in specs} if args.quick else {}
    settings = EvalSettings(
        per_group=args.per_group,
        max_turns=quick_turns,
        max_new_tokens=args.max_response_tokens or (32 if args.quick else 512),
        batch_size=args.batch_size,
    )
    # default: prompt + reply within 4096 positions (the tiny model's context; the trainer's prompt limit)
    prompt_limit = args.max_prompt_tokens or 4096 - settings.max_new_tokens
    settings = dataclasses.replace(settings, max_prompt_tokens=prompt_limit)
    notes = []
    run_specs = list(args.runs)
    skills_k = args.skills_k if args.skills_k is not None else (2 if args.quick else None)
    if args.quick:
        from sdar_agent.methods import METHODS

        methods = ["grpo", "sdar"]
        missing = [m for m in methods if m not in METHODS]
        notes += [f"{m.upper()}: not available in sdar_agent.methods; not trained" for m in missing]
        print("training tiny runs: " + ", ".join(m for m in methods if m not in missing), file=sys.stderr)
        trained, failures = train_quick_runs(out, specs, [m for m in methods if m not in missing], settings, skills_k)
        run_specs += trained
        notes += failures
    agents = reference_agents(args.agents, args.model, args.gguf_file, skills_k) + [run_agent(r) for r in run_specs]
    seeds = list(range(args.seeds if args.seeds is not None else (2 if args.quick else 3)))
    results = []
    for spec in specs:
        per_group = settings.per_group
        if per_group is None and args.quick:
            per_group = spec.quick_per_group
        env_settings = dataclasses.replace(settings, per_group=per_group)
        results += run_cells(out, agents, [spec], seeds, env_settings, progress=not args.no_progress)
    table = aggregate(results, specs)
    command = "python " + " ".join(shlex.quote(a) for a in ["benchmarks/leaderboard.py", *(argv or sys.argv[1:])])
    wall = time.perf_counter() - started
    if args.quick:
        notes.append(
            "--quick: tiny random-init model trained 3 steps (2 tasks x 2 rollouts, replies <= 32 tokens; the SDAR "
            f"teacher and the skills row see the top {skills_k} keyword-retrieved skills); small eval subsets, model "
            "episodes cut short (per env: "
            + ", ".join(
                f"{s.name} {s.quick_per_group} task(s) per group, model episodes <= {s.quick_max_turns or 'env'} turns"
                for s in specs
            )
            + "; random and expert play to the env's own limit). The model rows show that the pipeline works end to "
            "end, not what the methods can reach."
        )
    header = [
        "# Leaderboard",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {machine_description()}; wall time of this invocation {wall:.0f} s (cached cells are not re-run).",
        "",
        "Cells: `mean [95% interval] (episodes)` in percent; "
        + f"{len(seeds)} seed(s); see `benchmarks/leaderboard.py` for the interval rule.",
        "",
        "",
    ]
    markdown = "\n".join(header) + render_markdown(table, agents, specs, unavailable=unavailable, notes=notes)
    markdown = markdown.replace(str(Path.cwd()) + os.sep, "")  # repository-relative paths in the reasons
    prefix = Path(args.report) if args.report else out / "leaderboard"
    prefix.parent.mkdir(parents=True, exist_ok=True)
    prefix.with_suffix(".md").write_text(markdown)
    write_csv(prefix.with_suffix(".csv"), table)
    write_figure(prefix.with_suffix(".png"), table, agents, specs)
    print(markdown)
    print(f"wrote {prefix.with_suffix('.md')}, .csv, .png in {wall:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
