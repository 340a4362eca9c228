"""The Search-QA :class:`~sdar_envs.core.Verifier`: scores an answer string for a task without running the env."""

from __future__ import annotations

from typing import Any

from sdar_envs.core import Task, Verdict
from sdar_envs.searchqa.answer import exact_match, f1_score, substring_exact_match

__all__ = ["SearchQAVerifier"]


class SearchQAVerifier:
    """Exact match of an answer against ``task.metadata["golden_answers"]`` (the env's reward).

    ``verify(task, answer)`` returns ``Verdict(score=EM, success=EM == 1, details)`` with ``details`` holding
    ``em``, ``f1`` (token F1), ``substring_em`` and ``answer`` (the string scored). ``answer`` may be ``None``
    (no answer given), which scores 0.
    """

    def verify(self, task: Task, outcome: Any) -> Verdict:
        golden = task.metadata.get("golden_answers")
        if not golden:
            raise ValueError(f"task {task.id!r} has no metadata['golden_answers']; it cannot be scored")
        answer = "" if outcome is None else str(outcome)
        em = exact_match(answer, golden) if outcome is not None else 0.0
        details = {
            "em": em,
            "f1": f1_score(answer, golden) if outcome is not None else 0.0,
            "substring_em": substring_exact_match(answer, golden) if outcome is not None else 0.0,
            "answer": answer,
        }
        return Verdict(score=em, success=em == 1.0, details=details)
