"""The rows of the leaderboard: the reference agents (random, expert, zero-shot, with skills) and trained runs."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sdar_agent.config import ENV_IDS

__all__ = ["REFERENCE_AGENTS", "BoardAgent", "reference_agents", "run_agent"]

#: The reference rows ``--agents`` chooses from, in table order.
REFERENCE_AGENTS: tuple[str, ...] = ("random", "expert", "zero-shot", "skills")


@dataclass(frozen=True)
class BoardAgent:
    """An agent evaluated by the leaderboard; agents sharing a ``label`` share a row.

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
        max_turns: step limit of this agent's model episodes (None: the settings' limit for the env); the warm-start
            rows of ``--quick`` play the learning recipe's limit.
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
    max_turns: int | None = None


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "agent"


def reference_agents(
    names: Sequence[str], model: str, gguf_file: str | None, skills_k: int | None = None
) -> list[BoardAgent]:
    """The reference rows among ``names`` (``random``, ``expert``, ``zero-shot``, ``skills``)."""
    model_name = Path(model).name if model != "tiny" else "tiny"
    top = f", top-{skills_k}" if skills_k else ""
    made = {
        "random": BoardAgent("random", "Random", "random"),
        "expert": BoardAgent("expert", "Expert / oracle", "expert"),
        "zero-shot": BoardAgent(_safe(f"zeroshot-{model}"), f"Zero-shot ({model_name})", "model", model, gguf_file),
        "skills": BoardAgent(
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


def run_agent(spec: str) -> BoardAgent:
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
    # The saved env is a short name or a Gymnasium id; cells are keyed by the short name (an unknown id stays as is).
    short = {env_id: name for name, env_id in ENV_IDS.items()}.get(env, env) if env else None
    name = label or (method.upper().replace("_", "-") if method else run.name)
    return BoardAgent(
        _safe(f"run-{run.resolve()}")[-120:],
        name,
        "model",
        str(model),
        envs=(short,) if short else None,
        run_dir=str(run),
    )
