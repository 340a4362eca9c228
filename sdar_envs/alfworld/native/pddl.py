"""Parser for ALFWorld PDDL problem files (the ``pddl_problem`` field of a ``game.tw-pddl`` file).

A problem looks like::

    (define (problem plan_trial) (:domain alfred)
     (:objects agent1 - agent  AppleType - otype  CounterTop_bar__plus_00_dot_01_bar_... - receptacle ...)
     (:init (atLocation agent1 loc_bar_...) (inReceptacle Apple_bar_... CounterTop_bar_...) ...)
     (:goal (and (exists (?r - receptacle) ...))))

Names are case-insensitive in PDDL; like Fast Downward (which the TextWorld engine runs), the parser lower-cases
every name, so ids read ``apple_bar__plus_00_dot_01...``. ``;`` starts a comment that runs to the end of the line.

The goal is kept as a formula tree of tuples (see :data:`Formula`), evaluated by :mod:`.goal`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Formula", "PddlError", "Problem", "parse_problem", "parse_sexpr"]

#: A goal formula: ``("atom", pred, args)``, ``("and", f, ...)``, ``("or", f, ...)``, ``("not", f)``,
#: ``("exists", ((var, type), ...), f)`` or ``("forall", ((var, type), ...), f)``. Variables keep their ``?``.
Formula = tuple

_TOKEN = re.compile(r"\(|\)|[^\s()]+")


class PddlError(ValueError):
    """A problem text that is not a PDDL problem the native engine can play; the message says what is wrong."""


def parse_sexpr(text: str) -> list:
    """Parse PDDL text into nested lists of lower-cased atoms (strings); ``;`` comments are dropped.

    Raises :class:`PddlError` on unbalanced parentheses.
    """
    text = re.sub(r";[^\n]*", "", text).lower()
    stack: list[list] = [[]]
    for token in _TOKEN.findall(text):
        if token == "(":
            stack.append([])
        elif token == ")":
            if len(stack) == 1:
                raise PddlError("unbalanced ')' in PDDL text")
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(token)
    if len(stack) != 1:
        raise PddlError(f"PDDL text ends with {len(stack) - 1} unclosed '('")
    return stack[0]


@dataclass(frozen=True)
class Problem:
    """A parsed problem: ``objects`` maps each declared name to its type, ``init`` lists the initial facts as
    ``(predicate, arg, ...)`` tuples in file order (equality facts excluded), ``goal`` is the goal formula."""

    name: str
    objects: dict[str, str]
    init: tuple[tuple[str, ...], ...]
    goal: Formula


def _typed_list(items: list) -> list[tuple[str, str]]:
    """``[a, b, -, t, c, -, u]`` -> ``[(a, t), (b, t), (c, u)]``; untyped names get type ``object``."""
    out: list[tuple[str, str]] = []
    pending: list[str] = []
    i = 0
    while i < len(items):
        item = items[i]
        if not isinstance(item, str):
            raise PddlError(f"unexpected list {item!r} in a typed name list")
        if item == "-":
            if i + 1 >= len(items) or not isinstance(items[i + 1], str):
                raise PddlError("'-' not followed by a type name in a typed name list")
            out.extend((name, items[i + 1]) for name in pending)
            pending = []
            i += 2
            continue
        pending.append(item)
        i += 1
    out.extend((name, "object") for name in pending)
    return out


def _formula(node: list | str) -> Formula:
    if isinstance(node, str) or not node:
        raise PddlError(f"expected a formula, got {node!r}")
    head = node[0]
    if head == "and" or head == "or":
        return (head, *(_formula(n) for n in node[1:]))
    if head == "not":
        if len(node) != 2:
            raise PddlError(f"'not' takes one formula: {node!r}")
        return ("not", _formula(node[1]))
    if head == "exists" or head == "forall":
        if len(node) != 3 or isinstance(node[1], str):
            raise PddlError(f"'{head}' needs a parameter list and a formula: {node!r}")
        # ALFWorld's goal library writes parameters separated by commas in places: drop stray commas.
        params = [p.rstrip(",") for p in node[1] if p != ","]
        return (head, tuple(_typed_list(params)), _formula(node[2]))
    if head == "imply":
        return ("or", ("not", _formula(node[1])), _formula(node[2]))
    if not all(isinstance(a, str) for a in node):
        raise PddlError(f"unsupported formula {node!r}")
    return ("atom", head, tuple(node[1:]))


def parse_problem(text: str) -> Problem:
    """Parse the text of a PDDL problem; raises :class:`PddlError` with the reason if it is not one."""
    tree = parse_sexpr(text)
    if len(tree) != 1 or not isinstance(tree[0], list) or not tree[0] or tree[0][0] != "define":
        raise PddlError("a PDDL problem must be a single '(define (problem ...) ...)' form")
    name = ""
    objects: dict[str, str] = {}
    init: list[tuple[str, ...]] = []
    goal: Formula | None = None
    for section in tree[0][1:]:
        if not isinstance(section, list) or not section:
            raise PddlError(f"unexpected item {section!r} in the problem")
        key = section[0]
        if key == "problem":
            name = section[1] if len(section) > 1 else ""
        elif key == ":objects":
            objects.update(_typed_list(section[1:]))
        elif key == ":init":
            for fact in section[1:]:
                if isinstance(fact, str) or not all(isinstance(a, str) for a in fact):
                    # Numeric fluents such as (= (total-cost) 0) do not take part in the game.
                    continue
                if fact[0] == "=":
                    continue
                init.append(tuple(fact))
        elif key == ":goal":
            if len(section) != 2:
                raise PddlError("(:goal ...) must hold exactly one formula")
            goal = _formula(section[1])
    if goal is None:
        raise PddlError("the problem has no (:goal ...) section")
    return Problem(name=name, objects=objects, init=tuple(init), goal=goal)
