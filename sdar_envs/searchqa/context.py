"""Search-QA's privileged context: a question's gold evidence passages, or retrieved distractors that look like them.

Passages are rendered as a search result renders them (:func:`~sdar_envs.searchqa.protocol.format_passages`,
``Doc i(Title: "T") text``, one per line), so the context reads like an ``<information>`` block the agent could have
retrieved itself.

``informative``
    the task's support passages (``task.metadata["support"]``, the gold passage ids) in hop order. A question
    without support ids (real data without gold passages) gets the first passage among the top
    :data:`SEARCH_DEPTH` retrieved for the question that holds a gold answer, or ``""`` when none does (then the
    teacher sees no more than the student).
``adversarial``
    one distractor per gold passage (one for a question without support ids). For hop ``i`` it is the first passage
    retrieved (top :data:`SEARCH_DEPTH`) for the hop's queries (the queries that reach its gold passage,
    ``task.metadata["oracle_queries"][i]``, the first hop's starting with the question; then the question) that is
    no gold passage, was not picked for an earlier hop, holds no gold answer (after Search-R1's
    ``normalize_answer``, as a substring) and is titled differently from every gold passage: in the generated corpus
    that is a namesake, a person sharing the surname or a company named after one (the world plants these on
    purpose, :mod:`sdar_envs.searchqa.world`). When no retrieved passage has another title, the title rule is
    dropped; when none passes at all, the hop gets no distractor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sdar_envs.core import Task
from sdar_envs.searchqa.answer import normalize_answer
from sdar_envs.searchqa.protocol import format_passages

__all__ = ["SEARCH_DEPTH", "adversarial_context", "holds_answer", "informative_context"]

#: Passages retrieved per query when looking for a distractor (or, without gold ids, for an evidence passage).
SEARCH_DEPTH = 20

#: ``search(query, k) -> [(doc_id, contents)]``, best first (the env's retrieval).
Search = Callable[[str, int], list[tuple[str, str]]]


def holds_answer(contents: str, golden_answers: Sequence[str]) -> bool:
    """Whether a normalized gold answer occurs in the normalized passage text (title included)."""
    text = normalize_answer(contents)
    return any(normalize_answer(gold) and normalize_answer(gold) in text for gold in golden_answers)


def _title(contents: str) -> str:
    return contents.partition("\n")[0]


def informative_context(task: Task, gold_passages: Sequence[str | None], search: Search) -> str:
    """The gold passages (``gold_passages[i]``: the contents of support passage ``i``, None when it could not be
    read) rendered as search results; without support ids, the first retrieved passage that holds the answer."""
    passages = [p for p in gold_passages if p]
    if not passages and not task.metadata.get("support"):
        golden = task.metadata["golden_answers"]
        found = next((c for _, c in search(task.instruction, SEARCH_DEPTH) if holds_answer(c, golden)), None)
        passages = [found] if found else []
    return format_passages(passages).strip()


def adversarial_context(task: Task, gold_passages: Sequence[str | None], search: Search) -> str:
    """One retrieved distractor per hop (see the module docstring), rendered as search results."""
    golden = list(task.metadata["golden_answers"])
    support = list(task.metadata.get("support") or [])
    gold_titles = {_title(p) for p in gold_passages if p}
    per_hop = list(task.metadata.get("oracle_queries") or [])
    hops = max(1, len(support))
    chosen: list[str] = []
    used: set[str] = set(support)
    for hop in range(hops):
        queries = [*(per_hop[hop] if hop < len(per_hop) else []), task.instruction]
        candidates: list[tuple[str, str]] = []
        for query in dict.fromkeys(queries):  # the same query twice retrieves the same passages
            hits = search(query, SEARCH_DEPTH)
            candidates += [(d, c) for d, c in hits if d not in used and not holds_answer(c, golden)]
        pick = next(((d, c) for d, c in candidates if _title(c) not in gold_titles), None)
        pick = pick or (candidates[0] if candidates else None)
        if pick is not None:
            used.add(pick[0])
            chosen.append(pick[1])
    return format_passages(chosen).strip()
