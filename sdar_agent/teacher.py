"""The teacher branch: which skills a task gets, and the teacher's input built from the student's prompt.

The teacher is the policy that sampled (pre-update weights, no gradient) reading the student's prompt with the
privileged skill text in front of it. As released (SDAR's ``build_teacher_batch``) the raw string
``"[Privileged Skill Information]\\n{skills}\\n\\n"`` is prepended BEFORE the chat-templated prompt (so before
``<|im_start|>…``), re-tokenised, and left-truncated to the prompt limit; the response tokens are the student's,
unchanged. ``placement="system"`` instead puts the same text (header included, without the trailing blank line) in
a system message in front of the student's messages (before the template's own default system text, if it has
one), then applies the chat template.

Skills come from a :class:`skillbank.SkillBank` through a :class:`SkillProvider`: one retrieval per task per
training step (every episode of a group, and every turn of an episode, sees the same skills), with a configurable
strategy (``keyword`` default, ``ucb``, ``full``, ``random``, ``adversarial``) and ``k``. After each step the
provider credits every episode's outcome (its task score in ``[0, 1]``) to the skills retrieved for its task, which
is what the UCB strategy learns from.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from sdar_envs.core import Task
from skillbank.render import PREFIX_HEADER, privileged_prefix, render_body

__all__ = ["PLACEMENTS", "SkillProvider", "teacher_messages", "teacher_prompt_ids"]

#: Where the teacher's skill text goes: before the templated prompt (released) or in a system message.
PLACEMENTS = ("prefix", "system")


def teacher_messages(
    messages: Sequence[dict[str, str]], body: str, default_system: str | None = None
) -> list[dict[str, str]]:
    """The student's chat messages with the skill text in a system message (``placement="system"``).

    An existing leading system message keeps its content after the skills; so does ``default_system``, the system
    text the chat template adds on its own when there is none (Qwen2.5's "You are Qwen, created by Alibaba
    Cloud..."), so that the teacher differs from the student by the skills only. Without skill text nothing changes.
    """
    out = [dict(m) for m in messages]
    if not body:
        return out
    text = PREFIX_HEADER + body
    if out and out[0].get("role") == "system":
        out[0]["content"] = text + "\n\n" + out[0]["content"]
        return out
    if default_system:
        text = text + "\n\n" + default_system
    return [{"role": "system", "content": text}, *out]


def _default_system(policy: Any, messages: Sequence[dict[str, str]]) -> str | None:
    """The system text a ChatML template inserts by itself for ``messages`` (None when it inserts none)."""
    if messages and messages[0].get("role") == "system":
        return None
    rendered = policy.chat_prompt(messages)
    start = "<|im_start|>system\n"
    if not rendered.startswith(start) or "<|im_end|>" not in rendered:
        return None
    return rendered[len(start) : rendered.index("<|im_end|>")]


def teacher_prompt_ids(
    policy: Any,
    messages: Sequence[Sequence[dict[str, str]]],
    bodies: Sequence[str],
    max_prompt_tokens: int,
    placement: str = "prefix",
) -> list[list[int]]:
    """Token ids of the teacher's prompts, one per turn-sample, left-truncated to ``max_prompt_tokens``.

    Args:
        policy: a :class:`sdar_agent.policy.Policy` (its chat template and tokenizer).
        messages: each sample's chat messages, exactly as the student's prompt was rendered from.
        bodies: each sample's skill text (see :func:`skillbank.render.privileged_prefix`).
        max_prompt_tokens: the prompt limit; longer prompts lose their first tokens (the skill header goes first).
        placement: ``prefix`` (released) or ``system``.
    """
    if placement not in PLACEMENTS:
        raise ValueError(f"unknown skill placement {placement!r}; choose one of {', '.join(PLACEMENTS)}")
    out = []
    for chat, body in zip(messages, bodies, strict=True):
        if placement == "prefix":
            text = privileged_prefix(body) + policy.chat_prompt(chat)
        else:
            text = policy.chat_prompt(teacher_messages(chat, body, _default_system(policy, chat)))
        out.append(policy.encode(text)[-max_prompt_tokens:])
    return out


class SkillProvider:
    """Skill text per task from a skill bank, fixed for a task within a step; credits outcomes back to the bank.

    Call it as ``provider(task) -> str`` (the skill body, :func:`skillbank.render.render_body` of the retrieved
    skills), so ``privileged_prefix(provider(task)) == skillbank.render(skills)``.

    Args:
        bank: a :class:`skillbank.SkillBank` (its state, UCB statistics included, is what checkpoints save).
        strategy: one of :data:`skillbank.STRATEGIES`.
        k: skills per task (None: the strategy's default; must be None for ``full``).
    """

    def __init__(self, bank: Any, strategy: str = "keyword", k: int | None = None) -> None:
        from skillbank import STRATEGIES

        if strategy not in STRATEGIES:
            raise ValueError(f"unknown skill strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
        if strategy == "full" and k is not None:
            raise ValueError("skill strategy 'full' shows every skill of the env; leave skill_k unset")
        self.bank = bank
        self.strategy = strategy
        self.k = k
        self._cache: dict[tuple[str, str], tuple[list[str], str]] = {}

    def begin_step(self) -> None:
        """Forget this step's retrievals: the next call per task retrieves again (UCB sees the latest statistics)."""
        self._cache.clear()

    def retrieve(self, task: Task) -> tuple[list[str], str]:
        """``(skill ids, skill body)`` for ``task``, retrieved once per step."""
        key = (task.env, task.id)
        if key not in self._cache:
            try:
                skills = self.bank.retrieve(task, self.strategy, self.k)
            except ValueError as error:
                raise ValueError(f"skill retrieval for task {task.id!r} of env {task.env!r} failed: {error}") from error
            self._cache[key] = ([skill.id for skill in skills], render_body(skills))
        return self._cache[key]

    def __call__(self, task: Task) -> str:
        return self.retrieve(task)[1]

    def credit(self, outcomes: Sequence[tuple[Task, float]]) -> dict[str, Any]:
        """Credit each episode's ``(task, score)`` to the skills its task got this step; return the telemetry.

        Only tasks retrieved this step are credited (a method that never asked for skills changes nothing).

        Returns:
            ``skills/retrieved``: skill id -> number of episodes shown it this step; ``skills/per_episode``: mean
            number of skills per credited episode; ``skills/episodes``: credited episodes; ``skills/ucb``:
            ``"env/family"`` -> skill id -> ``[pulls, mean reward]`` after the update, for the contexts updated
            this step (arms never pulled there are left out).
        """
        from skillbank import task_family

        counts: Counter[str] = Counter()
        shown = 0
        episodes = 0
        contexts: dict[str, tuple[str, str]] = {}
        for task, score in outcomes:
            key = (task.env, task.id)
            if key not in self._cache:
                continue
            ids = self._cache[key][0]
            episodes += 1
            shown += len(ids)
            counts.update(ids)
            if ids:
                self.bank.update(task, ids, float(score))
            family = task_family(task)
            contexts[f"{task.env}/{family}"] = (task.env, family)
        ucb: dict[str, dict[str, list[float]]] = {}
        for name, (env, family) in sorted(contexts.items()):
            stats = self.bank.bandit.stats(env, family)
            ucb[name] = {arm: [pulls, total / pulls] for arm, (pulls, total) in sorted(stats.items()) if pulls > 0}
        if not episodes:
            return {}
        return {
            "skills/retrieved": dict(sorted(counts.items())),
            "skills/per_episode": shown / episodes,
            "skills/episodes": float(episodes),
            "skills/ucb": ucb,
        }
