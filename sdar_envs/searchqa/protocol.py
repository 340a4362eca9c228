"""The Search-R1 text protocol: the question prompt, action parsing, the information block, the invalid message.

Action parsing combines Search-R1's generation loop (``search_r1/llm_agent/generation.py``) with verl-agent's
validity rule (``env_package/search/projection.py``):

1. **Cut** the action text at the first ``</search>`` or ``</answer>``; everything after it is ignored, exactly as
   Search-R1 stops generation there (a stop sequence gives the same text).
2. In what is kept, count the opening tags ``<search>`` and ``<answer>``. The action is **valid** only when there is
   exactly one opening tag and it is closed by the closing tag the text was cut at (same kind). So the kept text is
   **invalid** when it has *neither* tag (no complete block), *both* tags, or a *repeated* tag
   (``<search>a<search>b</search>``).
3. A valid action's content is the text between the tags, stripped of surrounding whitespace (Search-R1 strips).

Tags are case-sensitive, as in Search-R1's regular expression. An empty query or answer is still a valid action.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "INVALID_ACTION_MESSAGE",
    "Action",
    "format_information",
    "format_passages",
    "parse_action",
    "question_prompt",
]

# Search-R1's invalid-action observation, verbatim (search_r1/llm_agent/generation.py, execute_predictions): models
# trained with Search-R1 have seen exactly this text.
INVALID_ACTION_MESSAGE = (
    "\nMy previous action is invalid. If I want to search, I should put the query between <search> and </search>. "
    "If I want to give the final answer, I should put the answer between <answer> and </answer>. Let me try again.\n"
)

_PROMPT = (
    "Answer the given question. Every time you receive new information, reason about it first inside <think> and "
    "</think>. If you find that you lack some knowledge, you can call a search engine with <search> query </search>, "
    "and it will return the top search results between <information> and </information>. You can search as many "
    "times as you want. When you need no further external knowledge, give the answer directly inside <answer> and "
    "</answer>, without a detailed explanation. For example, <answer> Beijing </answer>. Question: {question}\n"
)

_CLOSING = re.compile(r"</(search|answer)>")


@dataclass(frozen=True)
class Action:
    """A parsed action: ``kind`` is ``"search"``, ``"answer"`` or ``"invalid"``; ``content`` the stripped text."""

    kind: str
    content: str = ""

    @property
    def valid(self) -> bool:
        return self.kind != "invalid"


def question_prompt(question: str) -> str:
    """The first observation of an episode: Search-R1's instruction structure followed by ``Question: ...``."""
    return _PROMPT.format(question=question.strip())


def parse_action(text: str) -> Action:
    """Parse one action text (see the module docstring for the rule). Never raises."""
    closing = _CLOSING.search(text)
    if closing is None:
        return Action("invalid")
    kind = closing.group(1)
    kept = text[: closing.start()]
    n_search, n_answer = kept.count("<search>"), kept.count("<answer>")
    if n_search + n_answer != 1 or (n_search if kind == "search" else n_answer) != 1:
        return Action("invalid")
    return Action(kind, kept[kept.index(f"<{kind}>") + len(kind) + 2 :].strip())


def format_passages(contents: Sequence[str]) -> str:
    """Search-R1's ``_passages2string``: ``Doc i(Title: <first line>) <rest>`` per passage, one per line.

    The title keeps its quotes, as in Search-R1: ``Doc 1(Title: "Evan Morris") Evan Morris ...``.
    """
    lines = []
    for i, text in enumerate(contents, start=1):
        title, _, body = text.partition("\n")
        lines.append(f"Doc {i}(Title: {title}) {body}\n")
    return "".join(lines)


def format_information(contents: Sequence[str]) -> str:
    """The observation after a search: ``"\\n\\n<information>" + passages (stripped) + "</information>\\n\\n"``."""
    return f"\n\n<information>{format_passages(contents).strip()}</information>\n\n"
