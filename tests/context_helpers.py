"""Reading an env's privileged context and tasks through the wrapper API (shared by the context tests)."""

from __future__ import annotations


def context_of(env, task_id: str, quality: str = "informative") -> str:
    return env.get_wrapper_attr("privileged_context")(task_id, quality)


def task_ids_of(env) -> list[str]:
    return list(env.get_wrapper_attr("task_ids")())


def task_of(env, task_id: str):
    return env.get_wrapper_attr("get_task")(task_id)
