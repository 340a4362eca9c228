"""The verifiers v1 environment ``sdar-verifiers``: ``vf-eval sdar-verifiers --env.taskset.env sdar/WebShop-v0``.

verifiers imports an environment id as a top-level module and reads its ``__all__`` (one ``Taskset``, one ``Env``,
one ``Harness``); the classes live in :mod:`sdar_envs.integrations.verifiers`.
"""

from sdar_envs.integrations.verifiers import SdarChatHarness, SdarEnv, SdarTaskset

__all__ = ["SdarChatHarness", "SdarEnv", "SdarTaskset"]
