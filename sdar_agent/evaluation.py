"""Evaluation: play each task of a split once and report success overall and per task type.

Sampling follows the SDAR validation settings: temperature 0.4 for ALFWorld and WebShop, greedy for Search-QA (the
env profile's ``eval_temperature``), unless a temperature is given. Replies come from the rollout engine the trainer
uses (``rollout_engine``: vLLM where installed, else HF ``generate``; :mod:`sdar_agent.engines`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from sdar_agent.engines import RolloutEngine, make_engine
from sdar_agent.env_profiles import profile_for
from sdar_agent.policy import Policy
from sdar_agent.rollout import EnvPool, EpisodeRecord, collect_rollouts
from sdar_envs.core import Task

__all__ = ["evaluate", "summarize"]


def summarize(episodes: Sequence[EpisodeRecord]) -> dict[str, Any]:
    """Success, score, return, turns and invalid rate (invalid turns / turns) over ``episodes``, plus success and
    count per task type (``"all"`` for episodes without one). Evaluation reports it; training logs it per step
    (:func:`sdar_agent.trainer.rollout_metrics`). Empty ``episodes`` give zeros."""
    by_type: dict[str, list[bool]] = defaultdict(list)
    for episode in episodes:
        by_type[episode.task_type or "all"].append(episode.won)
    return {
        "episodes": len(episodes),
        "success": float(np.mean([e.won for e in episodes])) if episodes else 0.0,
        "score": float(np.mean([e.score for e in episodes])) if episodes else 0.0,
        "return": float(np.mean([e.return_ for e in episodes])) if episodes else 0.0,
        "turns": float(np.mean([e.length for e in episodes])) if episodes else 0.0,
        "invalid_rate": float(sum(e.invalid_turns for e in episodes) / max(1, sum(e.length for e in episodes))),
        "success_by_type": {t: float(np.mean(w)) for t, w in sorted(by_type.items())},
        "count_by_type": {t: len(w) for t, w in sorted(by_type.items())},
    }


def evaluate(
    policy: Policy,
    env_id: str,
    *,
    split: str,
    num_tasks: int | None = None,
    temperature: float | None = None,
    batch_size: int = 32,
    max_new_tokens: int = 512,
    max_prompt_tokens: int = 4096,
    max_turns: int | None = None,
    seed: int = 0,
    repeats: int = 1,
    skills: Callable[[Task], str] | None = None,
    env_kwargs: dict[str, Any] | None = None,
    engine: RolloutEngine | str = "auto",
) -> dict[str, Any]:
    """Play tasks ``0 .. num_tasks-1`` of ``split`` once each, ``batch_size`` episodes per generation batch.

    Args:
        policy: the policy to evaluate.
        env_id: Gymnasium id of the env.
        split: task split (e.g. ``eval_out_of_distribution`` for ALFWorld).
        num_tasks: how many tasks (default: the whole split).
        temperature: sampling temperature (default: the env profile's; 0 = greedy).
        repeats: episodes per task (sampled evaluation of small splits; success is averaged over all episodes).
        skills: when given, its text is shown before each prompt (evaluation with skills).
        engine: a :class:`~sdar_agent.engines.RolloutEngine` holding ``policy``'s weights, or an engine name
            (``auto``, ``vllm``, ``hf``) to make one for this call (released at the end).
        Other arguments as in :func:`sdar_agent.rollout.collect_rollouts`.

    Returns :func:`summarize`'s figures, the settings, and ``task_success`` (each task id's success, averaged over
    its ``repeats`` episodes; two evaluations of the same tasks can be compared task by task).
    """
    pool = EnvPool(env_id, batch_size * repeats, max_episode_steps=max_turns, split=split, **(env_kwargs or {}))
    owned = None
    try:
        if isinstance(engine, str):
            owned = engine = make_engine(engine, policy, max_model_len=max_prompt_tokens + max_new_tokens)
        first = pool.envs[0]
        _, info = first.reset(seed=seed)
        total = len(first.get_wrapper_attr("task_ids")())
        count = total if num_tasks is None else min(num_tasks, total)
        if temperature is None:
            temperature = profile_for(info["task"].env).eval_temperature
        episodes: list[EpisodeRecord] = []
        for start in range(0, count, batch_size):
            indices = list(range(start, min(count, start + batch_size)))
            batch = collect_rollouts(
                policy,
                pool,
                indices,
                repeats,
                seed=seed,
                first_group=start,
                engine=engine,
                max_new_tokens=max_new_tokens,
                max_prompt_tokens=max_prompt_tokens,
                temperature=temperature,
                skills=skills,
                score_old_logp=False,
            )
            for record in batch.episodes:
                record.episode_id += start * repeats
                record.group_id += start
                episodes.append(record)
    finally:
        pool.close()
        if owned is not None:
            owned.close()
    result = summarize(episodes)
    by_task: dict[str, list[bool]] = defaultdict(list)
    for episode in episodes:
        by_task[episode.task_id].append(episode.won)
    result.update(
        {
            "task_success": {task: float(np.mean(won)) for task, won in by_task.items()},
            "env_id": env_id,
            "split": split,
            "tasks": count,
            "repeats": repeats,
            "temperature": temperature,
            "with_skills": skills is not None,
            "rollout_engine": engine.name,
        }
    )
    return result
