"""The teacher: its input built from the student's prompt, its scores of the student's tokens, and its skills.

The teacher is the policy that sampled (pre-update weights, no gradient) reading the student's prompt with the
privileged skill text in front of it. As released (SDAR's ``build_teacher_batch``) the raw string
``"[Privileged Skill Information]\\n{skills}\\n\\n"`` is prepended BEFORE the chat-templated prompt (so before
``<|im_start|>…``), re-tokenised, and left-truncated to the prompt limit; the response tokens are the student's,
unchanged. ``placement="system"`` instead puts the same text (header included, without the trailing blank line) in
a system message in front of the student's messages (before the template's own default system text, if it has
one), then applies the chat template.

:class:`Teacher` is what the trainer holds: for one update it builds the prompts and either scores the sampled tokens
once (:meth:`Teacher.scores`, the released methods) or, for a method whose term needs the teacher's whole
distribution (:attr:`~sdar_agent.methods.MethodSpec.needs_teacher_logits`), keeps the pre-update weights to compute
logits per micro-batch (:meth:`Teacher.micro_batch`); :class:`TeacherBatch` is that per-update state.

Skills come from a :class:`skillbank.SkillBank` through a :class:`SkillProvider`: one retrieval per task per
training step (every episode of a group, and every turn of an episode, sees the same skills), with a configurable
strategy (``keyword`` default, ``ucb``, ``full``, ``random``, ``adversarial``) and ``k``. After each step the
provider credits every episode's outcome (its task score in ``[0, 1]``) to the skills retrieved for its task, which
is what the UCB strategy learns from.
"""

from __future__ import annotations

import copy
import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from sdar_agent.scoring import pad_rows, pad_samples, score_samples, score_tokens
from sdar_envs.core import Task
from skillbank.render import PREFIX_HEADER, privileged_prefix, render_body

if TYPE_CHECKING:
    from sdar_agent.policy import Policy
    from sdar_agent.rollout import TurnSample

__all__ = ["PLACEMENTS", "SkillProvider", "Teacher", "TeacherBatch", "teacher_messages", "teacher_prompt_ids"]

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


@dataclass
class TeacherBatch:
    """The teacher's side of one update (:meth:`Teacher.prepare`).

    Attributes:
        prompts: each sample's teacher prompt ids (skills + the student's prompt, left-truncated).
        responses: each sample's response ids (the student's tokens, which the teacher scores).
        logp: each sample's teacher log-probs of its response tokens (1-D), for sampled-token methods; else None.
        model: the pre-update weights that give the teacher's logits per micro-batch (``forward_kl``/``jsd``):
            the live model when the update is one optimizer step, else a frozen copy; None for sampled-token methods.
        seconds: time spent on the teacher in this update so far (prompts, scores, copy, per-micro-batch passes).
    """

    prompts: list[list[int]]
    responses: list[list[int]]
    logp: list[Tensor] | None = None
    model: torch.nn.Module | None = None
    seconds: float = 0.0


@dataclass
class Teacher:
    """The teacher of a method with ``use_teacher``: prompts, sampled-token scores, per-micro-batch logits.

    Attributes:
        policy: the policy whose chat template and tokenizer render the teacher's prompts (the weights that score
            are passed per call: the trainer's current, pre-update ones).
        skills: task -> skill body (``""``: none; the teacher then sees the student's prompt).
        needs_logits: the method needs the teacher's logits at every response position
            (:attr:`~sdar_agent.methods.MethodSpec.needs_teacher_logits`) rather than sampled-token scores.
        max_prompt_tokens: the prompt limit; longer teacher prompts lose their first tokens (the skill header first).
        placement: ``prefix`` (released) or ``system`` (see :func:`teacher_prompt_ids`).
        temperature: the sampling temperature the log-probs are taken at (1.0 for greedy sampling).
        micro_batch_size: rows per scoring pass of the student's pass; bounds the teacher's tokens per pass too.
        prefix_cache: score the prompt start shared by samples shown the same skills once, into a KV cache.
    """

    policy: Policy
    skills: Callable[[Task], str]
    needs_logits: bool = False
    max_prompt_tokens: int = 4096
    placement: str = "prefix"
    temperature: float = 1.0
    micro_batch_size: int = 8
    prefix_cache: bool = True
    _warned_truncation: bool = field(default=False, init=False, repr=False)

    def prompts(self, samples: Sequence[TurnSample]) -> list[list[int]]:
        """The teacher's prompt ids of each sample: skills + the student's prompt, left-truncated."""
        bodies = [self.skills(s.task) for s in samples]
        messages = [s.messages for s in samples]
        return teacher_prompt_ids(self.policy, messages, bodies, self.max_prompt_tokens, self.placement)

    def scores(
        self, model: torch.nn.Module, samples: Sequence[TurnSample], prompts: Sequence[Sequence[int]], device=None
    ) -> list[Tensor]:
        """Teacher log-probs of each sample's response tokens under ``model`` (no gradient), 1-D per sample.

        The same scoring function as the old log-probs (:func:`sdar_agent.scoring.score_samples`), with micro-batches
        of at most as many (padded) tokens as the old-log-prob pass's largest one could hold (``micro_batch_size`` x
        the longest student sequence): the skill prefix makes teacher sequences longer, so they go in fewer rows
        per micro-batch (shortest first), which keeps memory at the student's bound and avoids padding.

        With ``prefix_cache``, samples shown the same skills share the start of their teacher prompt (skill text,
        then the template's and the env's fixed text); that shared part is run once into a KV cache and each
        sample's remaining prompt and reply are scored on top of it. Same scores up to float rounding.
        """
        longest = max((len(s.prompt_ids) + len(s.response_ids) for s in samples), default=1)
        return score_samples(
            model,
            prompts,
            [s.response_ids for s in samples],
            self.policy.tokenizer.pad_token_id,
            micro_batch_size=self.micro_batch_size,
            temperature=self.temperature,
            device=device,
            max_tokens=self.micro_batch_size * longest,
            prefix_groups=[self.skills(s.task) for s in samples] if self.prefix_cache else None,
        )

    def prepare(
        self, model: torch.nn.Module, samples: Sequence[TurnSample], *, optimizer_steps: int, device=None
    ) -> TeacherBatch:
        """The teacher's side of an update of ``optimizer_steps`` steps on ``samples``, from ``model``'s current
        (pre-update) weights: the prompts, then the scores, or the weights that give logits per micro-batch."""
        started = time.perf_counter()
        prompts = self.prompts(samples)
        batch = TeacherBatch(prompts, [s.response_ids for s in samples])
        if not self.needs_logits:
            batch.logp = self.scores(model, samples, prompts, device)
        elif optimizer_steps > 1:
            # Later mini-batches must still be distilled towards the weights that sampled, not the updated ones.
            batch.model = copy.deepcopy(model).eval().requires_grad_(False)
        else:
            batch.model = model  # one optimizer step: the live weights are still the pre-update ones
        batch.seconds = time.perf_counter() - started
        return batch

    def micro_batch(
        self, batch: TeacherBatch, indices: Sequence[int], width: int, device=None
    ) -> tuple[Tensor | None, Tensor | None]:
        """The teacher's log-probs ``[B, width]`` of the samples ``indices`` (a micro-batch of the update, ``width``
        its response width) and, when :attr:`needs_logits`, its logits ``[B, width, V]`` at the response positions.

        Logits are computed here, one micro-batch at a time, so memory stays at one micro-batch's ``B x T x V``.
        """
        if batch.model is None:
            return (pad_rows([batch.logp[i] for i in indices], width, device) if batch.logp else None), None
        started = time.perf_counter()
        pad_id = self.policy.tokenizer.pad_token_id
        prompts, responses = [batch.prompts[i] for i in indices], [batch.responses[i] for i in indices]
        rows = pad_samples(prompts, responses, pad_id, device=device)
        with torch.no_grad():
            scored = score_tokens(batch.model, rows, temperature=self.temperature, with_entropy=False, with_logits=True)
        batch.seconds += time.perf_counter() - started
        return scored.logp, scored.logits

    def metrics(self, batch: TeacherBatch) -> dict[str, float]:
        """``teacher/prompt_tokens`` (mean teacher prompt length) and ``teacher/truncated_frac`` (prompts that
        reached the prompt limit, so lost their first tokens); warns the first time any prompt is truncated."""
        if not batch.prompts:
            return {}
        limit = self.max_prompt_tokens
        out = {
            "teacher/prompt_tokens": float(np.mean([len(p) for p in batch.prompts])),
            "teacher/truncated_frac": float(np.mean([len(p) >= limit for p in batch.prompts])),
        }
        if out["teacher/truncated_frac"] > 0 and not self._warned_truncation:
            self._warned_truncation = True
            warnings.warn(
                f"{out['teacher/truncated_frac']:.0%} of the teacher prompts reached max_prompt_tokens={limit} "
                "and lost their first tokens (the skill header first, as released); raise --max-prompt-tokens "
                "or lower --skill-k (teacher/truncated_frac in metrics.jsonl tracks it)",
                stacklevel=2,
            )
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
