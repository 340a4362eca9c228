"""The training runs of ``--quick`` (``make demo``): the tiny model, a few steps per method and env."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from sdar_agent.config import TrainConfig
from sdar_agent.leaderboard.cells import EvalSettings, ModelCache
from sdar_agent.leaderboard.envs import BoardEnv

__all__ = ["QUICK_METHODS", "train_quick_runs"]

#: The methods ``--quick`` trains, in row order.
QUICK_METHODS: tuple[str, ...] = ("grpo", "sdar")


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


def quick_runs(
    out: Path, specs: Sequence[BoardEnv], settings: EvalSettings, skills_k: int | None
) -> tuple[list[str], list[str]]:
    """Train :data:`QUICK_METHODS` on every env of ``specs``; the ``LABEL=DIR`` run specs and the notes for the
    table (a method missing from ``sdar_agent.methods``, a run that could not be trained)."""
    from sdar_agent.methods import METHODS

    missing = [m for m in QUICK_METHODS if m not in METHODS]
    present = [m for m in QUICK_METHODS if m not in missing]
    notes = [f"{m.upper()}: not available in sdar_agent.methods; not trained" for m in missing]
    print("training tiny runs: " + ", ".join(present), file=sys.stderr)
    trained, failures = train_quick_runs(out, specs, present, settings, skills_k)
    return trained, notes + failures


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
        + "; random and expert play to the env's own limit). The model rows show that the pipeline works end to "
        "end, not what the methods can reach."
    )
