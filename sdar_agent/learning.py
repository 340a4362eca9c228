"""The learning benchmark: does a policy trained here get better at the envs? (``benchmarks/bench_learning.py``)

Per env, on a held-out split that is never trained on, with ``seeds`` seeds and 95% intervals:

* ``random`` and ``expert``: the scripted agents of :mod:`sdar_envs.agents` (seed = the random agent's seed);
* ``sft``: the recipe's supervised warm start (:mod:`sdar_agent.sft`) on expert demonstrations of the train split,
  trained once, evaluated with each seed (sampling seed; greedy envs give one value);
* ``sft+grpo`` (and ``sft+<method>`` for ``--methods``): ``steps`` steps of RL from the SFT model, one run per
  seed, the same budget (steps, tasks x group) for every seed and method, each evaluated with its seed;
* ``gain``: per seed, the RL run's value minus the SFT start's value with the same evaluation seed; mean and
  Student-t 95% interval over seeds.

Every stage is a cell cached under ``--work`` (a finished stage is never re-run; SFT and RL runs resume from their
checkpoints), so an interrupted benchmark continues where it stopped. The result is written to
``OUT.json`` in the shape ``{"envs": {env: {agent: {"mean", "low", "high", "seeds", "metric"}, "gain": {...}}}}``
plus ``OUT.md`` (tables, commands, wall-clock per stage, machine and load) and ``OUT.png`` (training curves).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

__all__ = [
    "CELLS",
    "RECIPES",
    "Recipe",
    "build_parser",
    "main",
    "rl_values",
    "run_env",
    "run_records",
    "summarise_values",
    "train_run",
]


@dataclass(frozen=True)
class Recipe:
    """How one env is trained and measured.

    Attributes:
        env: the env's short name.
        eval_split: held-out split (never trained on); ``eval_tasks`` of its tasks are played per seed.
        metric: the headline metric, ``"success"`` or ``"score"`` (WebShop).
        env_kwargs: ``gymnasium.make`` arguments for every stage.
        sft: :class:`~sdar_agent.sft.SFTConfig` fields of the warm start.
        rl: :class:`~sdar_agent.config.TrainConfig` fields of the RL runs.
        eval_max_turns, eval_max_response_tokens: episode and reply limits of every model evaluation.
        random_agent: :class:`~sdar_envs.agents.RandomAgent` arguments of the ``random`` row (WebShop leaves out
            the literal ``search[<query>]`` template, so the agent searches with words of the instruction).
    """

    env: str
    eval_split: str
    eval_tasks: int
    metric: str = "success"
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    sft: dict[str, Any] = field(default_factory=dict)
    rl: dict[str, Any] = field(default_factory=dict)
    eval_max_turns: int | None = None
    eval_max_response_tokens: int = 96
    random_agent: dict[str, Any] = field(default_factory=dict)


_RL_DEFAULTS: dict[str, Any] = {
    "steps": 40,
    "tasks_per_step": 8,
    "group_size": 8,
    "lr": 3e-5,
    "max_response_tokens": 96,
    "mini_batch_size": 64,
    "micro_batch_size": 16,
    "kl_coef": 0.0,
    "entropy_coef": 0.0,
    "save_every": 5,
}

#: The default recipe per env, chosen by measurement (``benchmarks/results/learning.md``): Search-QA starts from the
#: pretrained SmolLM2-135M-Instruct with LoRA SFT (it copies entity names and answers from its prompt, which the
#: from-scratch model had not learnt after 4M tokens, ``sft_sweep_searchqa.md``); ALFWorld's actions come from a
#: closed vocabulary, so the from-scratch ``small`` model with the cross-word tokenizer (prompts ~140 tokens) learns
#: there. RL runs are sized for 2 CPU threads: a few steps of a few groups.
RECIPES: dict[str, Recipe] = {
    "searchqa": Recipe(
        env="searchqa",
        eval_split="test",
        eval_tasks=100,
        sft={
            "model": "smollm2-135m-instruct",
            "lora": True,
            "episodes": 400,
            "steps": 30,
            "batch_size": 8,
            "lr": 3e-4,
            "save_every": 5,
        },
        rl={
            **_RL_DEFAULTS,
            "steps": 10,
            "tasks_per_step": 4,
            "group_size": 4,
            "lr": 1e-5,
            "temperature": 0.7,
            "max_response_tokens": 64,
            "mini_batch_size": 32,
            "micro_batch_size": 4,
            "max_turns": 4,
            "save_every": 1,
        },
        eval_max_response_tokens=64,
    ),
    "webshop": Recipe(
        env="webshop",
        eval_split="test",
        eval_tasks=60,
        metric="score",
        env_kwargs={"transport": "inproc"},
        sft={
            "model": "smollm2-135m-instruct",
            "lora": True,
            "episodes": 200,
            "steps": 30,
            "batch_size": 4,
            "lr": 3e-4,
            "max_prompt_tokens": 2048,
            "eval_tasks": 0,
            "save_every": 5,
        },
        rl={
            **_RL_DEFAULTS,
            "return_kind": "score",
            "steps": 8,
            "tasks_per_step": 4,
            "group_size": 4,
            "lr": 1e-5,
            "temperature": 0.7,
            "max_response_tokens": 64,
            "mini_batch_size": 32,
            "micro_batch_size": 2,
            "max_turns": 10,
            "max_prompt_tokens": 2048,
            "save_every": 1,
        },
        eval_max_turns=10,
        eval_max_response_tokens=64,
        random_agent={"exclude": ["search[<query>]"]},
    ),
    "alfworld": Recipe(
        env="alfworld",
        eval_split="eval_out_of_distribution",
        eval_tasks=134,
        sft={
            "model": "small",
            "small_pre_tokenizer": "none",
            "episodes": 3000,
            "steps": 400,
            "batch_size": 32,
            "lr": 1e-3,
            "max_prompt_tokens": 2048,
        },
        rl={
            **_RL_DEFAULTS,
            "steps": 15,
            "tasks_per_step": 4,
            "group_size": 8,
            "max_turns": 30,
            "max_prompt_tokens": 2048,
            "save_every": 1,
        },
        eval_max_turns=30,
    ),
}

#: Overrides of ``--quick`` (CI): the tiny model, a few demonstrations and steps, small evaluations.
QUICK_SFT = {
    "model": "tiny",
    "episodes": 8,
    "epochs": 1.0,
    "steps": 0,
    "batch_size": 8,
    "eval_tasks": 0,
    "save_every": 0,
}
QUICK_RL = {
    "steps": 2,
    "tasks_per_step": 2,
    "group_size": 2,
    "max_response_tokens": 24,
    "max_turns": 4,
    "save_every": 1,
}
QUICK_EVAL_TASKS = 3

#: Where full runs keep their finished cells (committed: a later session resumes from them, whatever its checkout).
CELLS = "benchmarks/results/learning_cells"
QUICK_EVAL_TURNS = 4


# ---- statistics ------------------------------------------------------------------------------------------------


def summarise_values(values: Sequence[float], metric: str = "success") -> dict[str, Any]:
    """``{"mean", "low", "high", "seeds", "metric"}`` of per-seed values: Student-t 95% interval over seeds (no
    interval, ``low == high == mean``, when the seeds agree or there is one)."""
    from sdar_agent.leaderboard.stats import t_quantile

    k = len(values)
    mean = statistics.fmean(values) if k else 0.0
    half = t_quantile(k - 1) * statistics.stdev(values) / math.sqrt(k) if k >= 2 else 0.0
    return {"mean": mean, "low": mean - half, "high": mean + half, "seeds": k, "metric": metric}


# ---- cells -----------------------------------------------------------------------------------------------------


def _cell(path: Path, compute) -> dict[str, Any]:
    """A cached result: read ``path`` if it exists, else compute it and write it atomically."""
    if path.is_file():
        return json.loads(path.read_text())
    started = time.perf_counter()
    value = compute()
    value["seconds"] = time.perf_counter() - started
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(".tmp")
    staging.write_text(json.dumps(value, indent=2))
    staging.replace(path)
    return value


def _scripted(recipe: Recipe, kind: str, seed: int, tasks: int) -> dict[str, Any]:
    import gymnasium as gym

    import sdar_envs  # noqa: F401
    from sdar_agent.config import resolve_env_id
    from sdar_envs.agents import ExpertAgent, RandomAgent, play

    env = gym.make(resolve_env_id(recipe.env), split=recipe.eval_split, **recipe.env_kwargs)
    agent = ExpertAgent() if kind == "expert" else RandomAgent(seed=seed, **recipe.random_agent)
    try:
        count = min(tasks, len(env.get_wrapper_attr("task_ids")()))
        episodes = [play(env, agent, seed=seed + i, options={"index": i}) for i in range(count)]
    finally:
        env.close()
    return {
        "success": statistics.fmean(e.won for e in episodes),
        "score": statistics.fmean(e.score for e in episodes),
        "episodes": len(episodes),
    }


def _evaluate_model(
    recipe: Recipe,
    model_dir: Path,
    seed: int,
    tasks: int,
    quick: bool = False,
    context: str | None = None,
    engine: str = "auto",
    device: str | None = None,
) -> dict[str, Any]:
    """Held-out success, score and reply validity of a model; with ``context`` (a quality of
    :data:`sdar_agent.privileged.CONTEXT_QUALITIES`) the env's privileged context stands before every prompt, as the
    teacher reads it (the "policy + context" row). ``device`` (e.g. ``cuda``) moves the model there first."""
    import torch

    from sdar_agent.config import resolve_env_id
    from sdar_agent.evaluation import evaluate
    from sdar_agent.policy import load_policy
    from sdar_agent.privileged import ContextProvider

    torch.manual_seed(seed)
    policy = load_policy(str(model_dir))
    if device is not None:
        policy.model.to(device)
    policy.model.eval()
    provider = ContextProvider(recipe.env, recipe.eval_split, context, recipe.env_kwargs) if context else None
    try:
        with torch.no_grad():
            result = evaluate(
                policy,
                resolve_env_id(recipe.env),
                split=recipe.eval_split,
                num_tasks=tasks,
                seed=seed,
                max_turns=QUICK_EVAL_TURNS if quick else recipe.eval_max_turns,
                max_new_tokens=24 if quick else recipe.eval_max_response_tokens,
                max_prompt_tokens=int(recipe.rl.get("max_prompt_tokens", 4096)),
                skills=provider,
                env_kwargs=recipe.env_kwargs,
                engine=engine,
            )
    finally:
        if provider is not None:
            provider.close()
    out = {k: result[k] for k in ("success", "score", "invalid_rate", "turns", "episodes")}
    out["by_type"] = dict(result.get("success_by_type") or {})
    out["task_success"] = dict(result.get("task_success") or {})
    if context:
        out["context"] = context
    return out


def _train_sft(recipe: Recipe, work: Path, quick: bool, threads: int) -> Path:
    from sdar_agent.sft import SFTConfig, SFTTrainer

    out = work / "sft"
    values = {"env": recipe.env, "env_kwargs": recipe.env_kwargs, "output_dir": str(out), "progress": True}
    values.update({"eval_tasks": 50, "eval_every": 0, "save_every": 200, "torch_threads": threads})
    values.update({"eval_split": recipe.eval_split, "eval_max_turns": recipe.eval_max_turns})
    values.update(recipe.sft)
    if quick:
        values = {k: v for k, v in values.items() if not k.startswith("small_") and k != "lora"}
        values.update(QUICK_SFT)
    config = SFTConfig(**values)
    if not (out / "model" / "config.json").is_file():
        config = replace(config, resume=any((out / "checkpoints").glob("step_*")))
        SFTTrainer(config).fit()
    return out / "model"


def rl_values(recipe: Recipe, method: str, quick: bool = False) -> dict[str, Any]:
    """The :class:`~sdar_agent.config.TrainConfig` fields of an RL run of ``method`` with the recipe's budget."""
    values = dict(recipe.rl)
    if quick:
        values.update(QUICK_RL)
    values.update({"env": recipe.env, "env_kwargs": recipe.env_kwargs, "method": method})
    return values


def train_run(values: dict[str, Any], out: Path) -> Path:
    """Train the RL run ``values`` into ``out`` unless its model exists (resuming from its newest checkpoint);
    returns the model directory."""
    from sdar_agent.config import TrainConfig
    from sdar_agent.trainer import Trainer

    if not (out / "model" / "config.json").is_file():
        values = {**values, "output_dir": str(out), "resume": any((out / "checkpoints").glob("step_*"))}
        trainer = Trainer(TrainConfig(**values))
        try:
            trainer.fit()
        finally:
            trainer.close()
    return out / "model"


def _train_rl(recipe: Recipe, method: str, seed: int, start: Path, work: Path, quick: bool, threads: int) -> Path:
    values = {**rl_values(recipe, method, quick), "model": str(start), "seed": seed, "torch_threads": threads}
    return train_run(values, work / f"sft+{method}" / f"seed{seed}")


def run_records(run_dir: Path) -> list[dict[str, Any]]:
    """The per-step records of a finished run as a cell keeps them: every number and every list of numbers (curves,
    step times, the per-turn gate buckets), without the sampled texts."""
    from sdar_agent.plot import read_metrics

    def kept(value: Any) -> bool:
        if isinstance(value, bool | int | float) or value is None:
            return True
        return isinstance(value, list) and all(v is None or isinstance(v, int | float) for v in value)

    return [{k: v for k, v in r.items() if kept(v)} for r in read_metrics(run_dir)]


def add_cells_argument(parser: argparse.ArgumentParser, default: str) -> None:
    """``--cells``: where a benchmark keeps its finished cells (``default`` for full runs, committed so that later
    runs resume from them; with ``--quick``, ``WORK/quick/ENV/cells``)."""
    parser.add_argument(
        "--cells",
        default=None,
        help=f"the finished cells, one JSON each, per env (default {default} for full runs, committed so that later "
        "runs resume from them; WORK/quick/ENV/cells with --quick)",
    )


def cells_dir(args: argparse.Namespace, default: str, env: str) -> Path | None:
    """The cells directory of ``env`` for parsed ``args`` (None: the run's own ``work/cells``, the --quick case)."""
    if args.cells:
        return Path(args.cells) / env
    return None if args.quick else Path(default) / env


def _records_seconds(records: Sequence[dict[str, Any]]) -> float:
    """Training wall-clock of a run: the sum of its steps' ``time/step`` (resumed runs included)."""
    return sum(r.get("time/step", 0.0) for r in records)


def run_env(
    recipe: Recipe,
    work: Path,
    *,
    seeds: Sequence[int],
    methods: Sequence[str] = ("grpo",),
    cells: Path | None = None,
    quick: bool = False,
    threads: int = 0,
    cached_only: bool = False,
) -> dict[str, Any]:
    """Every stage of one env; returns per-agent per-seed values and stage times.

    Each finished stage is a JSON cell in ``cells`` (default ``work/cells``): an evaluation per agent and seed (an
    RL agent's cell also keeps its run's per-step ``records``) and ``sft-training.json`` (the SFT run's records);
    models and checkpoints live in ``work``. A finished cell is never recomputed, whether or not ``work`` still
    holds its run. With ``cached_only`` nothing is trained or evaluated: the cells computed so far are read, and
    ``pending`` lists the ``(agent, seed)`` cells still missing (the report of an unfinished, resumable benchmark).
    """
    cells = work / "cells" if cells is None else cells
    tasks = QUICK_EVAL_TASKS if quick else recipe.eval_tasks
    values: dict[str, dict[int, dict[str, Any]]] = {}
    pending: list[tuple[str, int]] = []

    def cell(agent: str, seed: int, compute) -> None:
        path = cells / f"{agent}-seed{seed}.json"
        if cached_only and not path.is_file():
            pending.append((agent, seed))
        else:
            values.setdefault(agent, {})[seed] = _cell(path, compute)

    for kind in ("random", "expert"):
        for s in seeds:
            cell(kind, s, lambda k=kind, s=s: _scripted(recipe, k, s, tasks))
    sft_model = work / "sft" / "model"
    agents = ["sft", *(f"sft+{m}" for m in methods)]
    needed = any(not (cells / f"{a}-seed{s}.json").is_file() for a in agents for s in seeds)
    if needed and not cached_only:
        sft_model = _train_sft(recipe, work, quick, threads)
        _cell(cells / "sft-training.json", lambda: {"records": run_records(work / "sft")})
    for s in seeds:
        cell("sft", s, lambda s=s: _evaluate_model(recipe, sft_model, s, tasks, quick))
    training = cells / "sft-training.json"
    sft_records = json.loads(training.read_text())["records"] if training.is_file() else []
    timings = {"sft": _records_seconds(sft_records)}
    for method in methods:
        agent = f"sft+{method}"
        for s in seeds:

            def compute(method: str = method, s: int = s) -> dict[str, Any]:
                model = _train_rl(recipe, method, s, sft_model, work, quick, threads)
                started = time.perf_counter()
                out = _evaluate_model(recipe, model, s, tasks, quick)
                return {**out, "eval_seconds": time.perf_counter() - started, "records": run_records(model.parent)}

            cell(agent, s, compute)
        runs = [c["records"] for c in values.get(agent, {}).values() if c.get("records")]
        if runs:
            timings[f"{agent} (per seed)"] = statistics.fmean(_records_seconds(r) for r in runs)
    timings["evaluation (all cells)"] = sum(
        cell.get("eval_seconds", cell.get("seconds", 0.0)) for per in values.values() for cell in per.values()
    )
    return {"values": values, "timings": timings, "tasks": tasks, "pending": pending, "sft_records": sft_records}


def env_result(recipe: Recipe, run: dict[str, Any], methods: Sequence[str]) -> dict[str, Any]:
    """The ``learning.json`` entry of one env: per-agent summaries and the RL gains over the SFT start."""
    metric = recipe.metric
    out: dict[str, Any] = {}
    for agent, per_seed in run["values"].items():
        seeds = sorted(per_seed)
        out[agent] = summarise_values([per_seed[s][metric] for s in seeds], metric)
        if metric != "success":
            out[agent]["success"] = summarise_values([per_seed[s]["success"] for s in seeds], "success")
    gains = {}
    for method in methods:
        agent = f"sft+{method}"
        seeds = sorted(set(run["values"].get(agent, {})) & set(run["values"].get("sft", {})))
        if not seeds:
            continue
        diffs = [run["values"][agent][s][metric] - run["values"]["sft"][s][metric] for s in seeds]
        gains[agent] = {k: v for k, v in summarise_values(diffs, metric).items() if k != "metric"}
    out["gain"] = gains
    if run.get("pending"):
        out["pending"] = [f"{agent} seed {seed}" for agent, seed in run["pending"]]
    return out


# ---- report ----------------------------------------------------------------------------------------------------


def _percent(summary: dict[str, Any]) -> str:
    if summary["low"] == summary["high"]:
        return f"{100 * summary['mean']:.1f} ({summary['seeds']} seeds)"
    low, high = 100 * summary["low"], 100 * summary["high"]
    return f"{100 * summary['mean']:.1f} [{low:.1f}, {high:.1f}] ({summary['seeds']} seeds)"


def render_markdown(result: dict[str, Any], command: str, machine: str, load: str, timings: dict, tasks: dict) -> str:
    lines = ["# Learning: random, expert, SFT and SFT + RL on held-out tasks", ""]
    lines += [f"Command: `{command}`", "", f"Machine: {machine}; load average at the end: {load}.", ""]
    if result.get("partial"):
        lines += [
            "Unfinished: this report (`--summarize-only`) shows the cells computed so far; rerun the command to",
            "compute the rest (finished stages are cached).",
            "",
        ]
    lines += [
        "Cells: mean [95% Student-t interval over seeds] in percent. `gain` is the per-seed difference between the",
        "RL run and the SFT start under the same evaluation seed. Held-out splits are never trained on.",
        "",
    ]
    for env, entry in result["envs"].items():
        recipe = RECIPES.get(env)
        metric = recipe.metric if recipe else "success"
        split = recipe.eval_split if recipe else "?"
        lines += [f"## {env} ({metric}; split `{split}`, {tasks.get(env, '?')} tasks per seed)", ""]
        lines += ["| agent | " + metric + " |" + (" success |" if metric != "success" else ""), "|---|---|"]
        lines[-1] += "---|" if metric != "success" else ""
        for agent, summary in entry.items():
            if agent in ("gain", "pending"):
                continue
            row = f"| {agent} | {_percent(summary)} |"
            if metric != "success":
                row += f" {_percent(summary['success'])} |"
            lines.append(row)
        for agent, gain in entry["gain"].items():
            lines.append(f"| gain {agent} - sft | {_percent(gain)} |" + (" |" if metric != "success" else ""))
        stage = ", ".join(f"{k} {v / 60:.1f} min" for k, v in timings.get(env, {}).items())
        lines += ["", f"Wall-clock per stage (training steps and evaluation cells, summed): {stage}.", ""]
        if entry.get("pending"):
            lines += [f"Not yet run (resume the command to compute them): {', '.join(entry['pending'])}.", ""]
    return "\n".join(lines) + "\n"


def write_figure(path: Path, runs: dict[str, dict[str, Any]], methods: Sequence[str]) -> None:
    """SFT loss and RL rollout success per step, one column per env (``runs``: :func:`run_env`'s result per env;
    drawn from the records the cells keep)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    envs = list(runs)
    figure, axes = plt.subplots(2, len(envs), figsize=(4.5 * len(envs), 6), squeeze=False)
    for column, env in enumerate(envs):
        records = [r for r in runs[env].get("sft_records", []) if "loss" in r]
        if records:
            axes[0][column].plot([r["step"] for r in records], [r["loss"] for r in records])
        axes[0][column].set_title(f"{env}: SFT reply loss")
        axes[0][column].set_xlabel("step")
        for method in methods:
            for seed, cell in sorted(runs[env]["values"].get(f"sft+{method}", {}).items()):
                records = [r for r in cell.get("records", []) if "success" in r]
                if records:
                    axes[1][column].plot(
                        [r["step"] for r in records], [r["success"] for r in records], label=f"{method} seed{seed}"
                    )
        axes[1][column].set_title(f"{env}: RL rollout success")
        axes[1][column].set_xlabel("step")
        if axes[1][column].lines:
            axes[1][column].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


# ---- command line ----------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--seeds", type=int, default=3, help="seeds per cell (default %(default)s)")
    parser.add_argument("--methods", nargs="+", default=["grpo"], help="RL methods from the SFT start")
    parser.add_argument("--work", default="runs/learning", help="models, runs and checkpoints (resumable)")
    add_cells_argument(parser, CELLS)
    parser.add_argument("--out", default="benchmarks/results/learning", help="OUT.json, OUT.md and OUT.png")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--quick", action="store_true", help="tiny model, a few steps: checks the pipeline (CI)")
    parser.add_argument(
        "--summarize-only",
        action="store_true",
        help="train and evaluate nothing: report the cells cached so far and list the missing ones",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from sdar_agent.leaderboard.report import load_average, machine_description

    args = build_parser().parse_args(argv)
    if args.seeds < 1:
        raise SystemExit("--seeds must be at least 1")
    work = Path(args.work) / ("quick" if args.quick else "full")
    result: dict[str, Any] = {"envs": {}, "quick": args.quick, "recipes": {}}
    timings, tasks, runs = {}, {}, {}
    for env in args.envs:
        recipe = RECIPES[env]
        run = runs[env] = run_env(
            recipe,
            work / env,
            seeds=range(args.seeds),
            methods=args.methods,
            cells=cells_dir(args, CELLS, env),
            quick=args.quick,
            threads=args.threads,
            cached_only=args.summarize_only,
        )
        result["envs"][env] = env_result(recipe, run, args.methods)
        result["recipes"][env] = asdict(recipe)
        timings[env], tasks[env] = run["timings"], run["tasks"]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    given = [a for a in (sys.argv[1:] if argv is None else argv) if a != "--summarize-only"]
    command = "python benchmarks/bench_learning.py " + " ".join(given)
    result["partial"] = bool(args.summarize_only and any(e.get("pending") for e in result["envs"].values()))
    load = load_average()
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    out.with_suffix(".md").write_text(
        render_markdown(result, command.strip(), machine_description(), load, timings, tasks)
    )
    write_figure(out.with_suffix(".png"), runs, args.methods)
    print(out.with_suffix(".md").read_text())
    return 0
