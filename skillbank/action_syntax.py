"""Action syntax of the three environments, as a checker for the skills' worked examples.

Every action written in a skill's example must be something the agent could type into the env. These checkers accept
exactly the command forms of each env (they do not know the current state, so they check form, not admissibility):

ALFWorld (both grammars; object and receptacle names are lower-case class names followed by an instance number,
``apple 1``, ``sinkbasin 2``):
    ``go to R``, ``open R``, ``close R``, ``take O from R``, ``move O to R`` (new grammar, alfworld 0.4),
    ``put O in/on R`` (old grammar, alfworld <= 0.3; the literal text ``in/on``), ``heat O with microwave N``,
    ``cool O with fridge N``, ``clean O with sinkbasin N``, ``slice O with knife N`` / ``butterknife N``,
    ``use desklamp N``, ``examine X``, ``inventory``, ``look``, ``help``.

WebShop:
    ``search[query]`` (non-empty query) and ``click[label]`` where label is a page button (``Buy Now``,
    ``Next >``, ``< Prev``, ``Back to Search``, ``Description``, ``Features``, ``Reviews``, ``Attributes``), a
    product ASIN or an option value. ``click[search]`` is refused by WebShop, so it is not valid here either.

Search-QA:
    ``<search>query</search>`` or ``<answer>text</answer>``: exactly one tag pair with non-empty content, nothing
    around it (the verl-agent projection rejects both tags, repeated tags or neither).
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = [
    "ENVS",
    "WEBSHOP_BUTTONS",
    "is_valid_action",
    "is_valid_alfworld_action",
    "is_valid_searchqa_action",
    "is_valid_webshop_action",
]

ENVS: tuple[str, ...] = ("alfworld", "webshop", "searchqa")

_ENTITY = r"[a-z]+ [0-9]+"
_ALFWORLD_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p)
    for p in (
        rf"go to {_ENTITY}",
        rf"open {_ENTITY}",
        rf"close {_ENTITY}",
        rf"take {_ENTITY} from {_ENTITY}",
        rf"move {_ENTITY} to {_ENTITY}",
        rf"put {_ENTITY} in/on {_ENTITY}",
        rf"heat {_ENTITY} with microwave [0-9]+",
        rf"cool {_ENTITY} with fridge [0-9]+",
        rf"clean {_ENTITY} with sinkbasin [0-9]+",
        rf"slice {_ENTITY} with (?:knife|butterknife) [0-9]+",
        r"use desklamp [0-9]+",
        rf"examine {_ENTITY}",
        r"inventory",
        r"look",
        r"help",
    )
)

WEBSHOP_BUTTONS: tuple[str, ...] = (
    "buy now",
    "next >",
    "< prev",
    "back to search",
    "description",
    "features",
    "reviews",
    "attributes",
)
_WEBSHOP_ACTION = re.compile(r"(search|click)\[([^\[\]]*)\]")
_SEARCHQA_ACTION = re.compile(r"<(search|answer)>(.*?)</\1>", re.DOTALL)


def is_valid_alfworld_action(action: str) -> bool:
    """True when ``action`` is one ALFWorld command in either grammar (see the module docstring)."""
    return any(p.fullmatch(action) for p in _ALFWORLD_PATTERNS)


def is_valid_webshop_action(action: str) -> bool:
    """True for ``search[q]`` with a non-empty query, or ``click[label]`` with a non-empty label other than search."""
    match = _WEBSHOP_ACTION.fullmatch(action)
    if match is None:
        return False
    verb, arg = match.group(1), match.group(2)
    if not arg.strip() or arg != arg.strip():
        return False
    return not (verb == "click" and arg.lower() == "search")


def is_valid_searchqa_action(action: str) -> bool:
    """True for exactly one ``<search>q</search>`` or ``<answer>a</answer>`` with non-empty content."""
    match = _SEARCHQA_ACTION.fullmatch(action.strip())
    if match is None:
        return False
    content = match.group(2)
    return bool(content.strip()) and "<search>" not in content and "<answer>" not in content and "</" not in content


_CHECKERS: dict[str, Callable[[str], bool]] = {
    "alfworld": is_valid_alfworld_action,
    "webshop": is_valid_webshop_action,
    "searchqa": is_valid_searchqa_action,
}


def is_valid_action(env: str, action: str) -> bool:
    """Dispatch to the env's checker.

    Raises:
        ValueError: ``env`` is not one of ``"alfworld"``, ``"webshop"``, ``"searchqa"``.
    """
    try:
        checker = _CHECKERS[env]
    except KeyError:
        raise ValueError(f"unknown env {env!r}; expected one of {', '.join(ENVS)}") from None
    return checker(action)
