"""Gymnasium text environments for LLM agents.

Importing this package registers the environment ids (one table, below)::

    import gymnasium as gym
    import sdar_envs  # noqa: F401  (registers sdar/*)

    env = gym.make("sdar/SearchQA-v0", split="test")
    obs, info = env.reset(seed=0)
"""

from gymnasium.envs.registration import register, registry

from sdar_envs.core import FreeText, Task, TextEnv, Verdict, Verifier, check_info, make_info

__all__ = ["ENV_IDS", "FreeText", "Task", "TextEnv", "Verdict", "Verifier", "check_info", "make_info"]
__version__ = "0.1.0"

# id -> (entry point, default max_episode_steps). Truncation at the step limit is Gymnasium's TimeLimit wrapper.
_ENVS: dict[str, tuple[str, int]] = {
    "sdar/SearchQA-v0": ("sdar_envs.searchqa.env:SearchQAEnv", 4),
    "sdar/WebShop-v0": ("sdar_envs.webshop.env:WebShopEnv", 15),
    "sdar/ALFWorld-v0": ("sdar_envs.alfworld.env:ALFWorldEnv", 50),
}

ENV_IDS: tuple[str, ...] = tuple(_ENVS)

for _env_id, (_entry_point, _max_steps) in _ENVS.items():
    if _env_id not in registry:
        register(id=_env_id, entry_point=_entry_point, max_episode_steps=_max_steps)
