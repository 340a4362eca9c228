"""The Search-QA oracle: searches the gold chain with queries that retrieve each gold passage, then answers.

Given a task and the passage ids the episode has shown so far, :meth:`SearchQAOracle.next_action` returns

* ``<search> q </search>`` for the first support passage not yet shown, where ``q`` is the first of the task's
  ``oracle_queries`` for that passage whose top-``k`` results contain it (checked against the env's own retriever,
  remembered per task), else the last candidate;
* ``<answer> gold </answer>`` (the first gold answer) once every support passage has been shown, or at once for
  tasks without ``support`` (real data without gold passages).

So the oracle follows the episode: if the agent already found a gold passage, the oracle skips that search.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from sdar_envs.core import Task

__all__ = ["SearchQAOracle"]


class SearchQAOracle:
    """``search(query, k) -> [doc ids]`` is the env's retrieval; ``k`` the number of passages a search shows."""

    def __init__(self, search: Callable[[str, int], list[str]], k: int = 3) -> None:
        self._search = search
        self.k = k
        self._queries: dict[tuple[str, int], str] = {}

    def query_for(self, task: Task, position: int) -> str:
        """The search query for support passage ``position`` of ``task``."""
        key = (task.id, position)
        if key not in self._queries:
            gold = task.metadata["support"][position]
            per_passage = task.metadata.get("oracle_queries") or []
            candidates = list(per_passage[position]) if position < len(per_passage) else []
            candidates = candidates or [task.instruction]
            chosen = candidates[-1]
            for query in candidates:
                if gold in self._search(query, self.k):
                    chosen = query
                    break
            self._queries[key] = chosen
        return self._queries[key]

    def next_action(self, task: Task, seen: Collection[str]) -> str:
        """The oracle's next action text given the passage ids already shown in this episode."""
        for position, gold in enumerate(task.metadata.get("support") or []):
            if gold not in seen:
                return f"<search> {self.query_for(task, position)} </search>"
        return f"<answer> {task.metadata['golden_answers'][0]} </answer>"
