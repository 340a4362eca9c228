"""Task-specific privileged context for the teacher: what the env knows about a task and the student does not.

The paper's teacher reads natural-language skills (:class:`sdar_agent.teacher.SkillProvider`). A small model may not
be able to use them; the other kind of privileged information is the env's own knowledge of the task (the OPSD
reference-solution setting): Search-QA the gold evidence passages, WebShop the target product, options and price
cap, ALFWorld where the goal object is and the expert's plan. Every shipped env gives it as text through the wrapper
API (``env.get_wrapper_attr("privileged_context")(task_id, quality)``, :meth:`sdar_envs.core.TextEnv
.privileged_context`); :class:`ContextProvider` turns that into the ``task -> body text`` callable the teacher
reads, so the teacher's prompt is ``privileged_prefix(context) + student prompt`` exactly as with skills.

Qualities (:data:`CONTEXT_QUALITIES`), for the gate claim: ``informative`` (the task's own), ``random`` (another
task's), ``adversarial`` (a plausible wrong one). ``sdar train --teacher-context reference --context-quality q``
trains with it, ``sdar eval --context reference`` evaluates the policy with it in its prompt (the "policy + context"
row), ``sdar sft --context-fraction F`` teaches a warm start to read it.

::

    from sdar_agent.privileged import ContextProvider

    context = ContextProvider("sdar/SearchQA-v0", "train", "informative")
    print(context(task))            # 'Doc 1(Title: "Corgard Mills") Corgard Mills (officially ...'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sdar_agent.config import resolve_env_id
from sdar_envs.core import CONTEXT_QUALITIES, Task

__all__ = ["CONTEXT_QUALITIES", "TEACHER_CONTEXTS", "ContextProvider"]

#: What the teacher reads as privileged text (``--teacher-context``): the skill bank, or the env's task context.
TEACHER_CONTEXTS: tuple[str, ...] = ("skills", "reference")


class ContextProvider:
    """``provider(task) -> str``: the env's privileged context of ``task`` (same interface as the skill providers).

    Holds its own ``gymnasium.make`` env per split (never one that plays episodes; the context does not need a
    reset), opened for ``split`` at once and for any other split on first use (a task carries its split). Texts are
    cached per ``(split, task id)``; the env computes them deterministically.

    Args:
        env_id: Gymnasium id (``"sdar/WebShop-v0"``...) or short name (``"webshop"``).
        split: the split whose env is opened now (the tasks the provider will mostly see).
        quality: one of :data:`CONTEXT_QUALITIES`.
        env_kwargs: extra ``gymnasium.make`` arguments (the same data as the training envs: catalog, corpus...).

    Raises:
        ValueError: unknown ``quality`` (naming the valid ones) or env, or an env without a privileged context.
    """

    def __init__(
        self,
        env_id: str,
        split: str,
        quality: str = "informative",
        env_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        if quality not in CONTEXT_QUALITIES:
            raise ValueError(
                f"unknown privileged-context quality {quality!r}; choose one of {', '.join(CONTEXT_QUALITIES)}"
            )
        self.env_id = resolve_env_id(env_id)
        self.split = split
        self.quality = quality
        self.env_kwargs = dict(env_kwargs or {})
        self._envs: dict[str, Any] = {}
        self._cache: dict[tuple[str, str], str] = {}
        env = self._env(split)
        try:  # an env without a privileged context fails here, not at the first teacher pass
            ids = env.get_wrapper_attr("task_ids")()
            if ids:
                self.text(ids[0], split)
        except (AttributeError, NotImplementedError) as error:
            self.close()
            raise ValueError(
                f"{self.env_id} gives no privileged context ({error}); use --teacher-context skills for it"
            ) from None

    def _env(self, split: str) -> Any:
        if split not in self._envs:
            import gymnasium as gym

            import sdar_envs  # noqa: F401  (registers sdar/*)

            self._envs[split] = gym.make(self.env_id, split=split, **self.env_kwargs)
        return self._envs[split]

    def text(self, task_id: str, split: str | None = None) -> str:
        """The context of task ``task_id`` of ``split`` (default: the provider's split)."""
        split = split or self.split
        key = (split, task_id)
        if key not in self._cache:
            self._cache[key] = self._env(split).get_wrapper_attr("privileged_context")(task_id, self.quality)
        return self._cache[key]

    def __call__(self, task: Task) -> str:
        return self.text(task.id, task.split or self.split)

    def close(self) -> None:
        """Close the provider's envs."""
        for env in self._envs.values():
            env.close()
        self._envs.clear()

    def __repr__(self) -> str:
        return f"ContextProvider({self.env_id!r}, {self.split!r}, {self.quality!r})"
