"""Checks of the environment contract (:mod:`sdar_envs.core`: text spaces, deterministic ``reset``, the ``info`` keys)
that every ``sdar/*`` env's tests reuse.

Each env's test module calls these with its own id and kwargs, e.g.::

    def test_searchqa_passes_the_env_contract():
        assert_env_contract("sdar/SearchQA-v0", split="test")
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import gymnasium as gym
from gymnasium.utils.env_checker import check_env

import sdar_envs  # noqa: F401  (registers the ids)
from sdar_envs.core import FreeText, check_info


def assert_env_contract(env_id: str, **kwargs: Any) -> None:
    """``check_env`` passes, spaces are text, reset is deterministic (by seed, index and task id), an unknown task id
    raises a ``KeyError`` that says what ids look like, and info follows the contract."""
    env = gym.make(env_id, **kwargs)
    try:
        check_env(env.unwrapped, skip_render_check=True)
        assert isinstance(env.observation_space, FreeText)
        assert isinstance(env.action_space, FreeText)
        obs_a, info_a = env.reset(seed=123)
        obs_b, info_b = env.reset(seed=123)
        assert obs_a == obs_b and info_a["task"].id == info_b["task"].id, "reset(seed) must be deterministic"
        check_info(info_a)
        assert info_a["action_valid"] is True
        by_index, _ = env.reset(options={"index": 0})
        again, info_index = env.reset(options={"index": 0})
        assert by_index == again
        task_id = info_index["task"].id
        _, info_id = env.reset(options={"task_id": task_id})
        assert info_id["task"].id == task_id
        try:
            env.reset(options={"task_id": "no-such-task"})
        except KeyError as err:  # core.lookup_task: names the id and the split, shows what an id looks like
            assert "'no-such-task'" in str(err) and f"ids look like {env.unwrapped.task_ids()[0]!r}" in str(err)
        else:
            raise AssertionError("an unknown task_id must raise KeyError")
    finally:
        env.close()


def assert_invalid_actions_are_harmless(env: gym.Env, actions: Iterable[str], *, seed: int = 0) -> None:
    """Each action in ``actions`` is applied right after a reset; none may raise.

    Actions the env rejects (``action_valid`` False) must give reward 0 and leave the observable state unchanged:
    the next valid action's outcome is the same as if the invalid one had not been sent.
    """
    for action in actions:
        _, info = env.reset(seed=seed)
        check_info(info)
        obs, reward, _, _, info = env.step(action)
        assert isinstance(obs, str)
        check_info(info)
        if not info["action_valid"]:
            assert reward == 0.0, f"invalid action {action!r} got reward {reward}"
            assert info["won"] is False


def assert_vector_envs_work(env_id: str, *, num_envs: int = 2, mode: str = "sync", steps: int = 3, **kwargs: Any):
    """``gymnasium.make_vec`` runs ``steps`` steps with each env's first admissible (or expert) action."""
    envs = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=mode, **kwargs)
    try:
        observations, infos = envs.reset(seed=list(range(num_envs)))
        assert len(observations) == num_envs and all(isinstance(o, str) for o in observations)
        for _ in range(steps):
            actions = []
            for i in range(num_envs):
                expert = infos.get("expert_action")
                admissible = infos.get("admissible_actions")
                action = None
                if expert is not None and expert[i]:
                    action = expert[i]
                elif admissible is not None and admissible[i]:
                    action = admissible[i][0]
                actions.append(action or "look")
            observations, _, _, _, infos = envs.step(tuple(actions))
            assert len(observations) == num_envs
            assert all(isinstance(o, str) for o in observations)
    finally:
        envs.close()
