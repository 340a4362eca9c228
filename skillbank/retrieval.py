"""Skill retrieval for the teacher: the :class:`SkillBank` and its five strategies.

Strategies (``SkillBank.retrieve(task, strategy, k)``; the candidates are always the skills of ``task.env``):

``keyword``
    Relevance score per skill: a general skill scores 1; a task-specific skill scores 3 if it is tagged with the
    task's family (for WebShop: if one of its category tags occurs in the task's category) plus 1 per distinct
    keyword found in the instruction (whole words, case-insensitive). For ALFWorld and Search-QA, whose families are
    a closed set, a skill tagged only with *other* families scores 0 whatever its keywords. Skills scoring 0 are
    never returned. ``k=None`` returns every relevant skill, the equivalent of the released code's "general file +
    task-type file"; otherwise the ``k`` highest scores (ties: bank order). Output: general skills first, then the
    rest by score, as the released code puts the general file first.
``ucb``
    The contextual bandit of :mod:`skillbank.bandit`; arms are all skills of the env, the context is
    ``(env, family)``, unpulled arms are ordered by the keyword score (``ucb_cold_start="keyword"``, the default)
    or by the seeded permutation alone (``ucb_cold_start="seeded"``, no prior knowledge). Call
    :meth:`SkillBank.update` after each episode.
``full``
    Every skill of the env, in bank order (the released code's ``skill_all=true``). Takes no ``k``.
``random``
    ``k`` skills of the env drawn uniformly without replacement from the bank's seeded generator.
``adversarial``
    ``k`` skills drawn (seeded) from the env's task-specific skills that score 0 for this task, i.e. skills of other
    task types: a robustness ablation. Returns fewer than ``k`` if fewer exist.

For ``ucb``, ``random`` and ``adversarial``, ``k=None`` means "as many as ``keyword`` would return for this task", so
ablations compare equal amounts of privileged text.

Determinism: given the seed, the sequence of ``retrieve``/``update`` calls fixes every result. The ``random`` and
``adversarial`` draws share one ``random.Random(seed)`` whose state is saved with the bandit statistics.
"""

from __future__ import annotations

import json
import os
import random
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from skillbank.bandit import DEFAULT_UCB_C, BanditStateError, UCBBandit
from skillbank.render import render
from skillbank.skill import Skill, bank_fingerprint, shipped_skills
from skillbank.task import TaskLike
from skillbank.task_types import category_matches, task_family

__all__ = ["STATE_SCHEMA", "STATE_SCHEMA_VERSION", "STRATEGIES", "SkillBank", "render"]

STRATEGIES: tuple[str, ...] = ("keyword", "ucb", "full", "random", "adversarial")
STATE_SCHEMA = "skillbank.state"
STATE_SCHEMA_VERSION = 1

_GENERAL_SCORE = 1.0
_FAMILY_SCORE = 3.0
_CLOSED_FAMILY_ENVS = frozenset({"alfworld", "searchqa"})


def _keyword_pattern(keyword: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![a-z0-9]){re.escape(keyword)}(?![a-z0-9])")


class SkillBank:
    """All skills, their retrieval and the UCB statistics.

    Args:
        skills: the skills to serve; default: the validated data shipped in ``skillbank/skills``.
        seed: fixes random draws, UCB cold-start order and tie-breaking.
        ucb_c: UCB exploration weight ``c`` in reward units (default 0.5, for rewards in ``[0, 1]``).
        ucb_cold_start: order of never-used arms: ``"keyword"`` (keyword score, then seeded) or ``"seeded"``.

    Example::

        >>> from skillbank import SkillBank, TaskRecord, render
        >>> bank = SkillBank(seed=0)
        >>> task = TaskRecord(env="alfworld", task_type="pick_heat_then_place_in_recep",
        ...                   instruction="heat some egg and put it in countertop.")
        >>> skills = bank.retrieve(task, "ucb", k=3)
        >>> render(skills).startswith("[Privileged Skill Information]\\n")
        True
        >>> bank.update(task, [s.id for s in skills], reward=1.0)
    """

    def __init__(
        self,
        skills: Sequence[Skill] | None = None,
        *,
        seed: int = 0,
        ucb_c: float = DEFAULT_UCB_C,
        ucb_cold_start: str = "keyword",
    ) -> None:
        if ucb_cold_start not in ("keyword", "seeded"):
            raise ValueError(f"ucb_cold_start must be 'keyword' or 'seeded', got {ucb_cold_start!r}")
        self.ucb_cold_start = ucb_cold_start
        self._skills: tuple[Skill, ...] = shipped_skills() if skills is None else tuple(skills)
        if not self._skills:
            raise ValueError("a SkillBank needs at least one skill")
        self._by_id: dict[str, Skill] = {}
        for skill in self._skills:
            if skill.id in self._by_id:
                raise ValueError(f"duplicate skill id {skill.id!r}")
            self._by_id[skill.id] = skill
        self._by_env: dict[str, tuple[Skill, ...]] = {}
        for skill in self._skills:
            self._by_env[skill.env] = (*self._by_env.get(skill.env, ()), skill)
        self._patterns = {s.id: tuple(_keyword_pattern(kw) for kw in s.keywords) for s in self._skills}
        self.seed = int(seed)
        self.fingerprint = bank_fingerprint(self._skills)
        self.bandit = UCBBandit({env: [s.id for s in group] for env, group in self._by_env.items()}, ucb_c, self.seed)
        self._rng = random.Random(self.seed)

    # ----------------------------------------------------------------------------------------------- lookup
    @property
    def skills(self) -> tuple[Skill, ...]:
        """Every skill, in bank order."""
        return self._skills

    def skill(self, skill_id: str) -> Skill:
        """The skill with this id.

        Raises:
            KeyError: no such id.
        """
        try:
            return self._by_id[skill_id]
        except KeyError:
            raise KeyError(f"no skill with id {skill_id!r}; list them with `python -m skillbank list`") from None

    def skills_for(self, env: str) -> tuple[Skill, ...]:
        """The skills of ``env`` in bank order.

        Raises:
            ValueError: the bank has no skills for ``env``.
        """
        try:
            return self._by_env[env]
        except KeyError:
            raise ValueError(f"no skills for env {env!r}; known envs: {sorted(self._by_env)}") from None

    # -------------------------------------------------------------------------------------------- relevance
    def relevance(self, task: TaskLike) -> dict[str, float]:
        """Keyword relevance of every skill of the task's env (see the module docstring); 0 = not relevant."""
        family = task_family(task)
        instruction = task.instruction.lower()
        gate = task.env in _CLOSED_FAMILY_ENVS and family != ""
        scores: dict[str, float] = {}
        for skill in self.skills_for(task.env):
            if skill.is_general:
                scores[skill.id] = _GENERAL_SCORE
                continue
            if task.env == "webshop":
                family_match = any(category_matches(t, family) for t in skill.task_types)
            else:
                family_match = family in skill.task_types
            if gate and skill.task_types and not family_match:
                scores[skill.id] = 0.0
                continue
            hits = sum(1 for p in self._patterns[skill.id] if p.search(instruction))
            scores[skill.id] = (_FAMILY_SCORE if family_match else 0.0) + hits
        return scores

    # -------------------------------------------------------------------------------------------- retrieval
    def retrieve(self, task: TaskLike, strategy: str = "keyword", k: int | None = None) -> list[Skill]:
        """The skills to show the teacher for ``task`` (see the module docstring for each strategy).

        Raises:
            ValueError: unknown strategy or env, ``k`` negative, or ``k`` given with ``full``.
        """
        if strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
        if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 0):
            raise ValueError(f"k must be an integer >= 0 or None, got {k!r}")
        candidates = self.skills_for(task.env)
        if strategy == "full":
            if k is not None:
                raise ValueError("strategy 'full' returns every skill of the env; call it with k=None")
            return list(candidates)
        scores = self.relevance(task)
        if strategy == "keyword":
            return self._keyword(candidates, scores, k)
        size = len(self._keyword(candidates, scores, None)) if k is None else k
        if strategy == "random":
            return self._rng.sample(list(candidates), min(size, len(candidates)))
        if strategy == "adversarial":
            pool = [s for s in candidates if not s.is_general and scores[s.id] == 0.0]
            return self._rng.sample(pool, min(size, len(pool)))
        prior = scores if self.ucb_cold_start == "keyword" else None
        ids = self.bandit.select(task.env, task_family(task), size, prior=prior)
        return [self._by_id[i] for i in ids]

    @staticmethod
    def _keyword(candidates: Sequence[Skill], scores: Mapping[str, float], k: int | None) -> list[Skill]:
        order = {s.id: i for i, s in enumerate(candidates)}
        relevant = sorted((s for s in candidates if scores[s.id] > 0), key=lambda s: (-scores[s.id], order[s.id]))
        chosen = relevant if k is None else relevant[:k]
        return sorted(chosen, key=lambda s: (not s.is_general, -scores[s.id], order[s.id]))

    def prefix(self, task: TaskLike, strategy: str = "keyword", k: int | None = None) -> str:
        """``render(self.retrieve(task, strategy, k))``: the text prepended to the teacher's prompt."""
        return render(self.retrieve(task, strategy, k))

    def update(self, task: TaskLike, skill_ids: Iterable[str], reward: float) -> None:
        """Credit ``reward`` (the episode's task score, best in ``[0, 1]``) to the skills the teacher was shown.

        Raises:
            KeyError: an id is not a skill of the task's env.
            ValueError: duplicate ids or a non-finite reward.
        """
        self.bandit.update(task.env, task_family(task), skill_ids, reward)

    # ---------------------------------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """The learnable state as JSON-ready data: UCB statistics and the random generator's state."""
        version, internal, gauss = self._rng.getstate()
        return {
            "schema": STATE_SCHEMA,
            "schema_version": STATE_SCHEMA_VERSION,
            "fingerprint": self.fingerprint,
            "skill_ids": sorted(self._by_id),
            "seed": self.seed,
            "rng_state": {"version": version, "internal": list(internal), "gauss_next": gauss},
            "ucb": self.bandit.state_dict(),
        }

    def load_state_dict(self, state: Any) -> None:
        """Restore a :meth:`state_dict`; the bank is unchanged if the state is rejected.

        Raises:
            BanditStateError: wrong schema or version, a different skill bank (fingerprint), different seed or
                ``c``, or a malformed field. Never resets silently.
        """
        if not isinstance(state, Mapping):
            raise BanditStateError("skill bank state must be a JSON object (see SkillBank.state_dict)")
        if state.get("schema") != STATE_SCHEMA:
            raise BanditStateError(f"not a skill bank state: schema {state.get('schema')!r}, expected {STATE_SCHEMA!r}")
        if state.get("schema_version") != STATE_SCHEMA_VERSION:
            raise BanditStateError(
                f"skill bank state schema_version {state.get('schema_version')!r} is not supported "
                f"(this version of skillbank reads {STATE_SCHEMA_VERSION})"
            )
        if state.get("fingerprint") != self.fingerprint:
            saved = state.get("skill_ids")
            detail = ""
            if isinstance(saved, list):
                theirs, ours = {str(x) for x in saved}, set(self._by_id)
                detail = f" (only in the state: {sorted(theirs - ours)}; only in the bank: {sorted(ours - theirs)})"
            raise BanditStateError(
                "skill bank state was learned on a different set of skills" + detail + "; load it with the skill "
                "data it was saved with, or start a fresh state deliberately by not loading it"
            )
        if state.get("seed") != self.seed:
            raise BanditStateError(f"state was saved with seed={state.get('seed')!r}; construct SkillBank(seed=...)")
        rng_state = self._parse_rng(state.get("rng_state"))
        # UCBBandit.load_state_dict validates everything before it assigns, so a rejection changes nothing.
        self.bandit.load_state_dict(state.get("ucb"))  # type: ignore[arg-type]
        self._rng.setstate(rng_state)

    @staticmethod
    def _parse_rng(raw: Any) -> tuple[Any, ...]:
        if not isinstance(raw, Mapping) or set(raw) != {"version", "internal", "gauss_next"}:
            raise BanditStateError("skill bank state field 'rng_state' must have version, internal, gauss_next")
        internal = raw["internal"]
        if not isinstance(internal, list) or len(internal) != 625 or not all(isinstance(x, int) for x in internal):
            raise BanditStateError("skill bank state field 'rng_state.internal' must be a list of 625 integers")
        gauss = raw["gauss_next"]
        if gauss is not None and not isinstance(gauss, float):
            raise BanditStateError("skill bank state field 'rng_state.gauss_next' must be null or a number")
        state = (raw["version"], tuple(internal), gauss)
        try:
            random.Random().setstate(state)
        except (TypeError, ValueError) as err:
            raise BanditStateError(f"skill bank state field 'rng_state' is not a valid generator state: {err}") from err
        return state

    def save_state(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`state_dict` as JSON to ``path`` atomically (a temporary file, then rename). Returns the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.state_dict(), indent=1, sort_keys=True, allow_nan=False)
        fd, tmp = tempfile.mkstemp(prefix=target.name, suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text + "\n")
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def load_state(self, path: str | os.PathLike[str]) -> None:
        """Read a state written by :meth:`save_state`.

        Raises:
            FileNotFoundError: no file at ``path``.
            BanditStateError: the file is not valid JSON or the state does not fit this bank (message says why).
        """
        source = Path(path)
        if not source.is_file():
            raise FileNotFoundError(f"skill bank state not found at {source}; save one with SkillBank.save_state")
        try:
            state = json.loads(source.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise BanditStateError(f"skill bank state at {source} is not valid JSON ({err}); file corrupted") from err
        try:
            self.load_state_dict(state)
        except BanditStateError as err:
            raise BanditStateError(f"{source}: {err}") from err
