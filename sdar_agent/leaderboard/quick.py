"""The training runs of ``--quick`` (``make demo``): the tiny model, a few steps per method and env."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path

from sdar_agent.config import TrainConfig
from sdar_agent.leaderboard.agents import BoardAgent, run_agent
from sdar_agent.leaderboard.cells import EvalSettings, ModelCache
from sdar_agent.leaderboard.envs import BoardEnv

__all__ = ["QUICK_METHODS", "WARM_START_RL", "quick_runs", "train_quick_runs", "warm_start_rows"]

#: The methods ``--quick`` trains, in row order.
QUICK_METHODS: tuple[str, ...] = ("grpo", "sdar")

#: The RL runs ``--quick`` trains from the shipped warm start (:mod:`sdar_agent.warm_start`): the learning recipe's
#: settings (:data:`sdar_agent.learning.RECIPES`) at a demo's budget, 5 steps of 2 tasks x 4 rollouts (~30 s each).
WARM_START_RL: dict[str, object] = {
    "steps": 5,
    "tasks_per_step": 2,
    "group_size": 4,
    "lr": 3e-5,
    "mini_batch_size": 64,
    "micro_batch_size": 16,
    "max_prompt_tokens": 2048,
}


def _quick_config(spec: BoardEnv, method: str, run_dir: Path, settings: EvalSettings) -> TrainConfig:
    """3 steps of 2 tasks x 2 rollouts at lr 1e-4, one optimizer step per batch, replies as in the eval."""
    return TrainConfig(
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
        rollout_engine=settings.rollout_engine,
    )


def train_quick_runs(
    out: Path, specs: Sequence[BoardEnv], methods: Sequence[str], settings: EvalSettings, skills_k: int | None = None
) -> tuple[list[str], list[str]]:
    """Train the tiny model for a few steps with each method on each env (skipped when already finished).

    Teachers see at most ``skills_k`` keyword-retrieved skills. Returns ``LABEL=DIR`` run specs for
    :func:`sdar_agent.leaderboard.agents.run_agent`, and a note per run that could not be trained (e.g. an env
    without a train split).
    """
    from sdar_agent.methods import METHODS
    from sdar_agent.trainer import Trainer

    runs: list[str] = []
    failures: list[str] = []
    models = ModelCache()
    for spec in specs:
        for method in methods:
            if method not in METHODS:
                print(f"method {method!r} is not in sdar_agent.methods; not trained", file=sys.stderr)
                continue
            run_dir = out / "runs" / f"{spec.name}-{method}"
            config = _quick_config(spec, method, run_dir, settings)
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


def warm_start_rows(
    out: Path, specs: Sequence[BoardEnv], methods: Sequence[str], settings: EvalSettings, skills_k: int | None
) -> list[BoardAgent]:
    """The ``SFT`` row (the shipped warm start, :mod:`sdar_agent.warm_start`) and ``SFT+<METHOD>`` rows trained from
    it for :data:`WARM_START_RL`, on every env of ``specs`` that has a warm start (finished runs are reused).

    These rows train and play with the learning recipe's episode limit (ALFWorld: 30 turns), not ``--quick``'s.
    Without a shipped checkpoint the warm start is trained first with its learning recipe under ``OUT/warm-start``
    (resumable; about 30 minutes on 2 CPUs, once).
    """
    from sdar_agent.learning import RECIPES
    from sdar_agent.trainer import Trainer
    from sdar_agent.warm_start import WARM_STARTS, warm_start_model

    rows: list[BoardAgent] = []
    models = ModelCache()
    for spec in specs:
        if spec.name not in WARM_STARTS:
            continue
        start = WARM_STARTS[spec.name]
        recipe = RECIPES[start.recipe]
        turns = recipe.eval_max_turns
        model = warm_start_model(spec.name, out / "warm-start" / spec.name)
        key = f"sft-{start.name}-t{turns}"
        rows.append(BoardAgent(key, "SFT", "model", str(model), envs=(spec.name,), max_turns=turns))
        for method in methods:
            run_dir = out / "runs" / f"{spec.name}-sft+{method}"
            if not (run_dir / "model" / "config.json").is_file():
                print(f"training {method} from the {spec.name} warm start ({run_dir})", file=sys.stderr)
                checkpoints = run_dir / "checkpoints"
                config = TrainConfig(
                    env=spec.env_id,
                    split="train",
                    env_kwargs=dict(spec.env_kwargs),
                    method=method,
                    model=str(model),
                    max_turns=recipe.rl.get("max_turns"),
                    max_response_tokens=settings.max_new_tokens,
                    seed=0,
                    output_dir=str(run_dir),
                    resume=checkpoints.is_dir() and any(checkpoints.glob("step_*")),
                    save_every=1,
                    progress=True,
                    rollout_engine=settings.rollout_engine,
                    **WARM_START_RL,  # type: ignore[arg-type]
                )
                trainer = Trainer(config, skills=models.skills(skills_k) if method != "grpo" else None)
                try:
                    trainer.fit()
                finally:
                    trainer.close()
            row = run_agent(f"SFT+{method.upper()}={run_dir}")
            rows.append(dataclasses.replace(row, key=f"{row.key}-t{turns}"[-120:], max_turns=turns))
    return rows


def quick_runs(
    out: Path, specs: Sequence[BoardEnv], settings: EvalSettings, skills_k: int | None
) -> tuple[list[BoardAgent], list[str]]:
    """Train :data:`QUICK_METHODS` on every env of ``specs`` (the tiny model from scratch) and from the warm starts;
    their rows and the notes for the table (a method missing from ``sdar_agent.methods``, a run that could not be
    trained)."""
    from sdar_agent.methods import METHODS

    missing = [m for m in QUICK_METHODS if m not in METHODS]
    present = [m for m in QUICK_METHODS if m not in missing]
    notes = [f"{m.upper()}: not available in sdar_agent.methods; not trained" for m in missing]
    print("training tiny runs: " + ", ".join(present), file=sys.stderr)
    trained, failures = train_quick_runs(out, specs, present, settings, skills_k)
    rows = [run_agent(r) for r in trained]
    return rows + warm_start_rows(out, specs, present, settings, skills_k), notes + failures


def quick_note(specs: Sequence[BoardEnv], skills_k: int | None) -> str:
    """The note under a ``--quick`` table: what was trained and how small the eval subsets were."""
    return (
        "--quick: tiny random-init model trained 3 steps (2 tasks x 2 rollouts, replies <= 32 tokens; the SDAR "
        f"teacher and the skills row see the top {skills_k} keyword-retrieved skills); small eval subsets, model "
        "episodes cut short (per env: "
        + ", ".join(
            f"{s.name} {s.quick_per_group} task(s) per group, model episodes <= {s.quick_max_turns or 'env'} turns"
            for s in specs
        )
        + "; random and expert play to the env's own limit). The tiny rows show that the pipeline works end to "
        "end, not what the methods can reach. SFT: the shipped warm start (sdar_agent/warm_start, its TRAINED.md "
        f"says how it was trained); SFT+GRPO / SFT+SDAR: {WARM_START_RL['steps']} steps of "
        f"{WARM_START_RL['tasks_per_step']} tasks x {WARM_START_RL['group_size']} rollouts from it at lr "
        f"{WARM_START_RL['lr']} (a demo's budget; benchmarks/results/learning.md has the seeded measurement)."
    )
