"""What the scripted policies of the integration tests play: per env, two tasks, one won with the expert's actions
and one played with a plan that scores less, and the score the env gives each plan when played directly."""

from __future__ import annotations

import gymnasium as gym

from sdar_envs.agents import ExpertAgent, play

__all__ = ["CASES", "plans", "replayed_score"]

#: env id -> (split, gymnasium.make arguments) the integration tests play.
CASES: dict[str, tuple[str, dict]] = {
    "sdar/SearchQA-v0": ("test", {}),
    "sdar/WebShop-v0": ("test", {"transport": "inproc"}),
    "sdar/ALFWorld-v0": ("eval_out_of_distribution", {}),
}


def plans(env_id: str, env: gym.Env, task_ids: list[str]) -> dict[str, list[str]]:
    """Task id -> env actions: the expert's on the first task; on the others a plan that loses (Search-QA: a wrong
    answer; WebShop: the right product without its options; ALFWorld: the expert's first two commands only)."""
    result = {}
    for n, task_id in enumerate(task_ids):
        expert = list(play(env, ExpertAgent(), options={"task_id": task_id}, record=True).actions)
        if n == 0:
            result[task_id] = expert
        elif env_id == "sdar/SearchQA-v0":
            result[task_id] = [*expert[:-1], "<answer>nobody at all</answer>"]
        elif env_id == "sdar/WebShop-v0":
            result[task_id] = [a for a in expert if a.startswith("search[") or a in (expert[1], "click[buy now]")]
        else:
            result[task_id] = expert[:2]
    return result


def replayed_score(env: gym.Env, task_id: str, actions: list[str]) -> float:
    """The env's score for ``actions`` played directly, with no trainer in between."""
    _, info = env.reset(options={"task_id": task_id})
    for action in actions:
        _, _, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            break
    return info["score"]
