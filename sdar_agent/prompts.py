"""Prompts and action projection: the env text the model reads, and the env action read from its reply.

The trainer never parses env text; it asks this module, with the env's :class:`~sdar_agent.env_profiles.EnvProfile`
(keyed by ``info["task"].env``), for

* the chat messages of a turn (:func:`build_messages`): the verl-agent layout, in our own wording. The first turn
  shows the task, the observation and the admissible actions; later turns add the step count and the last ``K``
  (observation, action) pairs (``K = 2`` for ALFWorld/WebShop, 4 for Search-QA);
* the projection of the model's text to an env action with validity (:func:`project_action`).

An invalid turn still counts as a turn: the env is stepped with :data:`INVALID_ENV_ACTION`, a string no env accepts,
so it answers with its own "nothing happens" observation, reward 0 and an unchanged state (the env contract), and the
step limit keeps counting. Returns, penalties and the per-env settings are :mod:`sdar_agent.env_profiles`'.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sdar_agent.env_profiles import EnvProfile

__all__ = ["INVALID_ENV_ACTION", "Projection", "build_messages", "history_entry", "project_action"]

#: What the env receives when the model's text holds no valid action: no env accepts it, so the state is unchanged.
INVALID_ENV_ACTION = "(invalid response: no action)"

_ACTION_FORMAT = (
    "First reason step by step inside <think> </think> tags. Then give exactly one admissible action inside "
    "<action> </action> tags, e.g. <think>...</think><action>{example}</action>."
)
_SEARCH_FORMAT = (
    "First reason inside <think> </think> tags every time you receive new information. If you are missing "
    "knowledge, issue one search query inside <search> </search> tags and the results will come back between "
    "<information> </information> tags. When you know the answer, give it inside <answer> </answer> tags, without "
    "explanation, e.g. <answer>Paris</answer>. Each reply holds exactly one <search> or one <answer>."
)


# ---- prompts ---------------------------------------------------------------------------------------------------


def _actions_block(actions: Sequence[str]) -> str:
    shown = [a for a in actions if a != "help"]
    return "\n".join(f"'{a}'" for a in shown)


def build_messages(
    profile: EnvProfile,
    instruction: str,
    observation: str,
    admissible_actions: Sequence[str],
    history: Sequence[tuple[str, str]] = (),
    step: int = 0,
) -> list[dict[str, str]]:
    """The chat messages for one turn (a single user message, as verl-agent sends).

    Args:
        profile: the env's profile.
        instruction: the task text (``Task.instruction``).
        observation: the current observation.
        admissible_actions: the env's admissible actions now (may be empty: free-text envs).
        history: all past ``(observation, action)`` pairs of this episode, oldest first; the last
            ``profile.history_length`` are shown.
        step: number of actions taken so far (0 on the first turn).
    """
    parts = [profile.intro]
    parts.append(f"Question: {instruction}" if profile.response_format == "search" else f"Your task: {instruction}")
    shown = list(history)[-profile.history_length :] if profile.history_length > 0 else []
    if step > 0:
        first = step - len(shown) + 1
        lines = [
            f"[Observation {first + i}: '{obs}', Action {first + i}: '{act}']" for i, (obs, act) in enumerate(shown)
        ]
        parts.append(
            f"You have taken {step} step(s). Your last {len(shown)} observation(s) and action(s):\n" + "\n".join(lines)
        )
        parts.append(f"Step {step + 1}. Current observation: {observation}")
    else:
        parts.append(f"Current observation: {observation}")
    if admissible_actions:
        parts.append("Admissible actions now:\n" + _actions_block(admissible_actions))
    if profile.response_format == "search":
        parts.append(_SEARCH_FORMAT)
    else:
        parts.append(_ACTION_FORMAT.format(example=profile.example_action))
    return [{"role": "user", "content": "\n\n".join(parts)}]


# ---- projection ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Projection:
    """The env action read from a model reply.

    Attributes:
        action: what the env receives (:data:`INVALID_ENV_ACTION` when ``valid`` is False).
        valid: the reply followed the format; an invalid reply costs ``profile.invalid_penalty``.
        reason: why the reply is invalid (empty when valid).
    """

    action: str
    valid: bool
    reason: str = ""


_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def _blocks(tag: str, text: str) -> list[str]:
    return re.findall(rf"<{tag}>(.*?)</{tag}>", text, flags=re.DOTALL)


def _invalid(reason: str) -> Projection:
    return Projection(INVALID_ENV_ACTION, False, reason)


def project_action(profile: EnvProfile, text: str) -> Projection:
    """Map a model reply to an env action.

    ``"action"`` format: valid when the reply holds a ``<think>…</think>`` block followed by exactly one non-empty
    ``<action>…</action>`` block (and no CJK characters where ``reject_cjk``); the action is the block's stripped
    text. Admissibility is the env's business: a well-formed but inadmissible action is sent as is.
    ``"search"`` format: valid when the reply holds exactly one ``<search>q</search>`` or one ``<answer>a</answer>``
    block (both, repeats or neither are invalid); the env receives that block, e.g. ``<search>q</search>``.
    """
    if profile.reject_cjk and _CJK.search(text):
        return _invalid("reply contains CJK characters")
    if profile.response_format == "search":
        searches, answers = _blocks("search", text), _blocks("answer", text)
        if len(searches) + len(answers) != 1:
            return _invalid(f"expected one <search> or <answer> block, got {len(searches)} and {len(answers)}")
        tag, body = ("search", searches[0]) if searches else ("answer", answers[0])
        body = body.strip()
        if not body:
            return _invalid(f"empty <{tag}> block")
        return Projection(f"<{tag}>{body}</{tag}>", True)
    think_end = text.find("</think>")
    if "<think>" not in text or think_end < 0:
        return _invalid("missing <think>...</think>")
    actions = _blocks("action", text[think_end:])
    if len(actions) != 1:
        return _invalid(f"expected one <action> block after </think>, got {len(actions)}")
    action = actions[0].strip()
    if profile.lowercase_action:
        action = action.lower()
    if not action:
        return _invalid("empty <action> block")
    return Projection(action, True)


def history_entry(observation: str, projection: Projection, reply: str) -> tuple[str, str]:
    """The ``(observation, action)`` pair a turn adds to the episode's history (what later prompts show).

    An invalid reply has no action: the history shows the reply's last 80 characters, so the next turn sees what went
    wrong. Rollouts and expert demonstrations both use this, so their prompts agree turn for turn.
    """
    return observation, projection.action if projection.valid else reply[-80:]
