"""The ``sdar/*`` envs inside the trainers and data tools people already use.

* :mod:`sdar_envs.integrations.trl`: TRL's ``GRPOTrainer(environment_factory=...)`` (TRL 1.16): each env as a class
  whose public methods are the env's own actions, as tools (WebShop ``search``/``click``, Search-QA
  ``search``/``answer``, ALFWorld ``act``), plus :func:`~sdar_envs.integrations.trl.train_dataset`.
* :mod:`sdar_envs.integrations.verifiers`: each env as a verifiers v1 environment (Taskset + Env + an in-process
  chat harness), run by ``vf-eval sdar-verifiers --env.taskset.env sdar/WebShop-v0``.
* :mod:`sdar_envs.integrations.datasets`: every split's tasks as parquet or jsonl rows
  (``sdar-data export``), loadable with ``datasets.load_dataset("parquet", data_files=...)``.

Each module imports its library when used, never at ``import sdar_envs`` time, and none imports ``sdar_agent``.
Install the libraries with ``pip install "sdar[integrations]"`` (``docs/integrations.md``).
"""

from __future__ import annotations

from sdar_envs import ENV_IDS

__all__ = ["env_name", "env_splits", "resolve_env_id"]

#: Short env names (``Task.env``) -> Gymnasium ids.
_BY_NAME: dict[str, str] = {env_id.split("/", 1)[-1].removesuffix("-v0").lower(): env_id for env_id in ENV_IDS}

def resolve_env_id(env: str) -> str:
    """``"webshop"`` / ``"searchqa"`` / ``"alfworld"`` (any case) or a registered id -> the Gymnasium id.

    Raises:
        ValueError: not one of this package's envs (the message lists them).
    """
    if env in ENV_IDS:
        return env
    if env.lower() in _BY_NAME:
        return _BY_NAME[env.lower()]
    raise ValueError(f"unknown env {env!r}: use one of {', '.join(_BY_NAME)} or {', '.join(ENV_IDS)}")


def env_name(env: str) -> str:
    """The short name (``Task.env``: ``"webshop"``...) of an env id or name."""
    env_id = resolve_env_id(env)
    return next(name for name, known in _BY_NAME.items() if known == env_id)


def env_splits(env: str) -> tuple[str, ...]:
    """The task splits of an env's default (generated) data, as its env module defines them. WebShop's ``all`` is
    left out: it is the union of ``test`` and ``train``."""
    name = env_name(env)
    if name == "searchqa":
        from sdar_envs.searchqa.generator import SPLITS
    elif name == "webshop":
        from sdar_envs.webshop.catalog import SPLITS
    else:
        from sdar_envs.alfworld.games import SPLITS
    return tuple(split for split in SPLITS if split != "all")
