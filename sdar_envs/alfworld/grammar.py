"""The two ALFWorld command grammars: ``new`` (alfworld 0.4.x) and ``old`` (json_2.1.1 / alfworld <= 0.3.x).

A game file carries its PDDL domain and its TextWorld grammar (``game.tw-pddl``: ``pddl_domain``, ``grammar``).
Generated games are written with the grammar shipped in the ``alfworld`` 0.4.2 wheel, the ``new`` one:

* ``move O to R`` -> ``You move the O to the R.``
* ``go to R`` -> ``You arrive at R. <receptacle description>``
* a ``help`` command.

The ``old`` grammar is what ReAct, AgentGym and most published prompts use:

* ``put O in/on R`` -> ``You put the O in/on the R.``
* ``go to R`` -> ``You arrive at loc N. <receptacle description>`` (the location's demangled name)
* no ``help`` command.

:func:`to_grammar` turns a game's domain and grammar text into either form; everything else (every other action,
feedback and description) is the same in both.
"""

from __future__ import annotations

import re

__all__ = ["GRAMMARS", "to_grammar"]

GRAMMARS: tuple[str, ...] = ("new", "old")

# (new form, old form) pairs of the grammar (twl2) text.
_TWL2_SWAPS: tuple[tuple[str, str], ...] = (
    (
        '"rhs": "You arrive at {r.name}. #examineReceptacle.feedback#"',
        '"rhs": "You arrive at {lend.name}. #examineReceptacle.feedback#"',
    ),
    ('"rhs": "You move the {o.name} to the {r.name}."', '"rhs": "You put the {o.name} in/on the {r.name}."'),
    ('template :: "move {o} to {r}";', 'template :: "put {o} in/on {r}";'),
)
_TWL2_HELP = re.compile(r"\naction help \{.*?\n\}\n", re.DOTALL)
_PDDL_HELP = re.compile(r"\n\(:action help\b.*?\n\)\n", re.DOTALL)


def to_grammar(domain: str, grammar: str, which: str) -> tuple[str, str]:
    """Return ``(domain, grammar)`` rewritten to the ``which`` grammar (``"new"`` or ``"old"``).

    Texts already in the requested form come back unchanged, so official ``json_2.1.1`` games (old form) and the
    package's games (new form) both play under either grammar. Raises ``ValueError`` for an unknown grammar name.
    """
    if which not in GRAMMARS:
        raise ValueError(f"grammar must be one of {GRAMMARS}, got {which!r}")
    if which == "old":
        for new, old in _TWL2_SWAPS:
            grammar = grammar.replace(new, old)
        grammar = _TWL2_HELP.sub("\n", grammar)
        domain = _PDDL_HELP.sub("\n", domain)
    else:
        for new, old in _TWL2_SWAPS:
            grammar = grammar.replace(old, new)
    return domain, grammar
