"""Cells of the leaderboard: one (agent, env, split, seed) evaluation each, cached as JSON under ``OUT/cells/``.

Scripted agents (random, expert) play the env directly with :func:`sdar_envs.agents.play`; models are evaluated
with :func:`sdar_agent.evaluation.evaluate` (the trainer's rollout code and rollout engine), one call per task type /
data source.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym

from sdar_agent.leaderboard.agents import BoardAgent
from sdar_agent.leaderboard.envs import BoardEnv
from sdar_envs.agents import ExpertAgent, RandomAgent, play

__all__ = ["EvalSettings", "ModelCache", "cell_path", "cell_settings", "evaluate_cell", "play_scripted", "run_cells"]


@dataclass(frozen=True)
class EvalSettings:
    """How cells are played: tasks per group, step limits of model episodes (scripted agents always get the env's
    registered limit: they cost microseconds a step), reply and prompt token limits, generation batch, and the
    rollout engine of model agents (``auto``, ``vllm``, ``hf``; :mod:`sdar_agent.engines`)."""

    per_group: int | None = None
    max_turns: dict[str, int | None] = field(default_factory=dict)
    max_new_tokens: int = 512
    max_prompt_tokens: int = 4096
    batch_size: int = 32
    rollout_engine: str = "auto"


def cell_path(out: Path, agent: BoardAgent, env: str, split: str, seed: int) -> Path:
    """Cache file of one (agent, env, split, seed) cell."""
    return out / "cells" / agent.key / env / split / f"seed{seed}.json"


class ModelCache:
    """Loads each model (and makes its rollout engine) once per process, and the skill bank once."""

    def __init__(self) -> None:
        self._policies: dict[tuple[str, str | None], Any] = {}
        self._engines: dict[tuple[str, str | None], Any] = {}
        self._bank: Any = None

    def engine(self, agent: BoardAgent, settings: EvalSettings) -> Any:
        """The rollout engine of a ``model`` agent's policy (made on first use; vLLM engines of same-shape models
        share one running engine and swap weights, :class:`sdar_agent.engines.VLLMEngine`)."""
        from sdar_agent.engines import make_engine

        key = (str(agent.model), agent.gguf_file)
        if key not in self._engines:
            max_model_len = settings.max_prompt_tokens + settings.max_new_tokens
            self._engines[key] = make_engine(settings.rollout_engine, self.policy(agent), max_model_len=max_model_len)
        return self._engines[key]

    def close(self) -> None:
        """Release the engines."""
        for engine in self._engines.values():
            engine.close()
        self._engines.clear()

    def policy(self, agent: BoardAgent) -> Any:
        """The policy of a ``model`` agent (loaded on first use)."""
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


def _group_kwargs(spec: BoardEnv, group: str | None) -> dict[str, Any]:
    """``gymnasium.make`` keyword arguments of ``spec`` restricted to ``group`` (None: the whole split)."""
    kwargs = dict(spec.env_kwargs)
    if group is not None and spec.group_filter:
        kwargs[spec.group_filter] = [group]
    return kwargs


def play_scripted(
    agent: BoardAgent,
    spec: BoardEnv,
    split: str,
    *,
    group: str | None,
    num_tasks: int | None,
    seed: int,
    max_turns: int | None,
) -> dict[str, Any]:
    """Play tasks ``0 .. num_tasks-1`` of the split (restricted to ``group``) with a scripted agent, one episode each.

    Task ``i`` is reset with seed ``seed + i``; the random agent draws from one rng seeded with ``seed`` for all the
    tasks. Returns ``{"episodes", "success", "score"}`` (success and mean score in [0, 1]).
    """
    kwargs = _group_kwargs(spec, group)
    if max_turns is not None:
        kwargs["max_episode_steps"] = max_turns
    env = gym.make(spec.env_id, split=split, **kwargs)
    player = ExpertAgent() if agent.kind == "expert" else RandomAgent(seed)
    try:
        total = len(env.get_wrapper_attr("task_ids")())
        count = total if num_tasks is None else min(num_tasks, total)
        episodes = [play(env, player, seed=seed + index, options={"index": index}) for index in range(count)]
    finally:
        env.close()
    n = len(episodes)
    wins = [e.won for e in episodes]
    scores = [e.score for e in episodes]
    return {"episodes": n, "success": sum(wins) / n if n else 0.0, "score": sum(scores) / n if n else 0.0}


def _model_turns(agent: BoardAgent, spec: BoardEnv, settings: EvalSettings) -> int | None:
    """Step limit of a model agent's episodes: its own, else the settings' for the env (None: the env's)."""
    return agent.max_turns if agent.max_turns is not None else settings.max_turns.get(spec.name)


def _evaluate_model(
    agent: BoardAgent,
    spec: BoardEnv,
    split: str,
    group: str | None,
    seed: int,
    settings: EvalSettings,
    models: ModelCache,
) -> dict[str, Any]:
    """One group of a model cell with the trainer's rollout code."""
    import torch

    from sdar_agent.evaluation import evaluate

    torch.manual_seed(seed)
    summary = evaluate(
        models.policy(agent),
        spec.env_id,
        split=split,
        num_tasks=settings.per_group,
        batch_size=settings.batch_size,
        max_new_tokens=settings.max_new_tokens,
        max_prompt_tokens=settings.max_prompt_tokens,
        max_turns=_model_turns(agent, spec, settings),
        seed=seed,
        skills=models.skills(agent.skills_k) if agent.skills else None,
        env_kwargs=_group_kwargs(spec, group),
        engine=models.engine(agent, settings),
    )
    return {k: summary[k] for k in ("episodes", "success", "score", "invalid_rate", "turns")}


def evaluate_cell(
    agent: BoardAgent, spec: BoardEnv, split: str, seed: int, settings: EvalSettings, models: ModelCache
) -> dict[str, Any]:
    """Play one cell: every group of ``spec`` on ``split`` with ``seed``; returns the JSON-ready result."""
    started = time.perf_counter()
    groups: dict[str, dict[str, Any]] = {}
    for group in spec.groups or ("all",):
        name = None if group == "all" else group
        if agent.kind in ("random", "expert"):
            groups[group] = play_scripted(
                agent, spec, split, group=name, num_tasks=settings.per_group, seed=seed, max_turns=None
            )
        else:
            groups[group] = _evaluate_model(agent, spec, split, name, seed, settings, models)
    result = {
        "agent": agent.key,
        "label": agent.label,
        "env": spec.name,
        "split": split,
        "seed": seed,
        "groups": groups,
        "seconds": time.perf_counter() - started,
    }
    if agent.kind == "model":
        result["rollout_engine"] = models.engine(agent, settings).name
    return result


def cell_settings(agent: BoardAgent, spec: BoardEnv, settings: EvalSettings) -> dict[str, Any]:
    """The settings a cell of ``agent`` on ``spec`` is played with; a cached cell made with others is re-played."""
    if agent.kind in ("random", "expert"):
        return {"per_group": settings.per_group}
    return {
        "per_group": settings.per_group,
        "max_turns": _model_turns(agent, spec, settings),
        "max_new_tokens": settings.max_new_tokens,
        "max_prompt_tokens": settings.max_prompt_tokens,
    }


def run_cells(
    out: Path,
    agents: Sequence[BoardAgent],
    specs: Sequence[BoardEnv],
    seeds: Sequence[int],
    settings: EvalSettings,
    *,
    progress: bool = True,
    evaluate_fn: Callable[..., dict[str, Any]] = evaluate_cell,
) -> list[dict[str, Any]]:
    """Every (agent, env, split, seed) cell, from the cache where present, else evaluated and cached at once.

    A cell file is written to a temporary name and renamed, so an interrupted run never leaves a partial cell. A
    cached cell records the settings it was played with (:func:`cell_settings`); one played with other settings
    (tasks per group, turn, reply or prompt limits) is played again.
    """
    from tqdm.auto import tqdm

    todo = [
        (agent, spec, split, seed)
        for agent in agents
        for spec in specs
        if agent.envs is None or spec.name in agent.envs
        for split in spec.splits
        for seed in seeds
    ]
    models = ModelCache()
    results = []
    bar = tqdm(todo, desc="leaderboard", unit="cell", disable=not progress)
    try:
        for agent, spec, split, seed in bar:
            path = cell_path(out, agent, spec.name, split, seed)
            played_with = cell_settings(agent, spec, settings)
            if path.is_file():
                cached = json.loads(path.read_text())
                if cached.get("settings") == played_with:
                    results.append(cached)
                    continue
            bar.set_postfix_str(f"{agent.key} {spec.name}/{split} seed {seed}")
            result = {**evaluate_fn(agent, spec, split, seed, settings, models), "settings": played_with}
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(result, indent=1) + "\n")
            tmp.replace(path)
            results.append(result)
    finally:
        bar.close()
        models.close()
    return results
