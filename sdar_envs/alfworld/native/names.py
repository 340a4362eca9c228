"""Display names of ALFWorld entities ("apple 1", "sinkbasin 2", "loc 14"), numbered as ALFWorld's demangler does.

Upstream (``alfworld/agents/utils/misc.py``, ``Demangler`` with ``shuffle=False``), reproduced here:

* the entities are every name that occurs in an initial fact (declared names used by no fact get no name);
* a name with ``_bar_`` is an instance of the class before the first ``_bar_`` (``apple_bar__plus_00...`` is an
  ``apple``); ids containing ``basin`` get ``basin`` appended to the class (``sink_bar_..._bar_sinkbasin`` is a
  ``sinkbasin``);
* instances of a class are numbered over the ids sorted as strings, in reverse: the smallest id gets the highest
  number (with 4 cabinets, the first cabinet id is ``cabinet 4``);
* a name without ``_bar_`` keeps its text followed by a space (``agent1 ``); those never reach the game text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

__all__ = ["demangle_names"]

_UNMANGLE = (("_bar_", "|"), ("_minus_", "-"), ("_plus_", "+"), ("_dot_", "."), ("_comma_", ","))


def _class_name(entity_id: str) -> str | None:
    parts = entity_id.split("_bar_", 1)
    if len(parts) == 1:
        return None
    name = parts[0]
    if "basin" in entity_id:
        name += "basin"
    return name


def demangle_names(entity_ids: Iterable[str]) -> dict[str, str]:
    """Map each (lower-case, mangled) entity id to its display name, numbered per class in reverse id order."""
    ids = sorted(set(entity_ids))
    counts: Counter[str] = Counter()
    for entity_id in ids:
        cls = _class_name(entity_id)
        if cls is not None:
            counts[cls] += 1
    next_number = dict(counts)
    names: dict[str, str] = {}
    for entity_id in ids:
        text = entity_id
        for old, new in _UNMANGLE:
            text = text.replace(old, new)
        parts = text.split("|", 1)
        if len(parts) == 1:
            names[entity_id] = f"{text} "
            continue
        cls = _class_name(entity_id)
        assert cls is not None
        names[entity_id] = f"{cls} {next_number[cls]}"
        next_number[cls] -= 1
    return names
