"""Evaluation of a PDDL goal formula (``and``/``or``/``not``/``exists``/``forall``/``=``) against a set of facts.

The six ALFWorld goals (``alfworld/gen/goal_library.py``) are existential conjunctions such as::

    (exists (?r - receptacle) (exists (?o - object)
        (and (inReceptacle ?o ?r) (objectType ?o AppleType) (receptacleType ?r FridgeType))))

An ``exists`` is solved as a conjunctive query: its variables are bound by joining the positive atoms of its body
against the true facts (most constrained atom first), and the remaining conjuncts are checked once their variables
are bound, so a check costs a few dozen set look-ups rather than a product over every object and receptacle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from sdar_envs.alfworld.native.pddl import Formula

__all__ = ["evaluate"]

#: ``facts(pred)`` -> the set of argument tuples for which ``pred`` holds now.
FactSource = Callable[[str], "set[tuple[str, ...]] | frozenset[tuple[str, ...]]"]
#: ``objects_of_type(t)`` -> every object of PDDL type ``t``.
TypeSource = Callable[[str], Iterable[str]]


def _value(arg: str, binding: Mapping[str, str]) -> str | None:
    if arg.startswith("?"):
        return binding.get(arg)
    return arg


def _free_vars(formula: Formula, out: set[str]) -> set[str]:
    kind = formula[0]
    if kind == "atom":
        out.update(a for a in formula[2] if a.startswith("?"))
    elif kind in ("and", "or"):
        for sub in formula[1:]:
            _free_vars(sub, out)
    elif kind == "not":
        _free_vars(formula[1], out)
    else:  # exists / forall
        inner: set[str] = set()
        _free_vars(formula[2], inner)
        out.update(inner - {v for v, _ in formula[1]})
    return out


def _flatten(formula: Formula, variables: list[tuple[str, str]], conjuncts: list[Formula]) -> None:
    """Pull nested ``and``/``exists`` of a conjunctive body into one variable list and one conjunct list."""
    kind = formula[0]
    if kind == "and":
        for sub in formula[1:]:
            _flatten(sub, variables, conjuncts)
    elif kind == "exists":
        variables.extend(formula[1])
        _flatten(formula[2], variables, conjuncts)
    else:
        conjuncts.append(formula)


def _atom_holds(formula: Formula, binding: Mapping[str, str], facts: FactSource) -> bool:
    pred, args = formula[1], formula[2]
    values = tuple(_value(a, binding) for a in args)
    if pred == "=":
        return values[0] == values[1]
    return values in facts(pred)


def evaluate(formula: Formula, facts: FactSource, objects_of_type: TypeSource, binding: Mapping[str, str]) -> bool:
    """Whether ``formula`` holds under ``binding`` (variable -> object) given the true ``facts``."""
    kind = formula[0]
    if kind == "atom":
        return _atom_holds(formula, binding, facts)
    if kind == "and":
        return all(evaluate(sub, facts, objects_of_type, binding) for sub in formula[1:])
    if kind == "or":
        return any(evaluate(sub, facts, objects_of_type, binding) for sub in formula[1:])
    if kind == "not":
        return not evaluate(formula[1], facts, objects_of_type, binding)
    if kind == "forall":
        variables = formula[1]
        return not _solve(
            list(variables), [("not", formula[2])], dict(binding), facts, objects_of_type
        )  # forall x. f  ==  not exists x. not f
    variables: list[tuple[str, str]] = []
    conjuncts: list[Formula] = []
    _flatten(formula, variables, conjuncts)
    return _solve(variables, conjuncts, dict(binding), facts, objects_of_type)


def _solve(
    variables: list[tuple[str, str]],
    conjuncts: list[Formula],
    binding: dict[str, str],
    facts: FactSource,
    objects_of_type: TypeSource,
) -> bool:
    """Search for values of ``variables`` (shadowing ``binding``) that satisfy every conjunct."""
    unbound = {v for v, _ in variables}
    for v in unbound:
        binding.pop(v, None)
    types = dict(variables)
    return _search(conjuncts, binding, unbound, types, facts, objects_of_type)


def _search(
    conjuncts: list[Formula],
    binding: dict[str, str],
    unbound: set[str],
    types: Mapping[str, str],
    facts: FactSource,
    objects_of_type: TypeSource,
) -> bool:
    # Check every conjunct whose variables are all bound; pick the best atom to bind the rest.
    best: Formula | None = None
    best_score = -1
    pending: list[Formula] = []
    for conjunct in conjuncts:
        free = _free_vars(conjunct, set()) & unbound
        if not free:
            if not evaluate(conjunct, facts, objects_of_type, binding):
                return False
            continue
        pending.append(conjunct)
        if conjunct[0] == "atom" and conjunct[1] != "=":
            score = len(conjunct[2]) - len(free)
            if score > best_score:
                best, best_score = conjunct, score
    if not pending:
        return True
    if best is not None:
        args = best[2]
        bound_values = [_value(a, binding) if not (a.startswith("?") and a in unbound) else None for a in args]
        for fact in facts(best[1]):
            if len(fact) != len(args):
                continue
            new: dict[str, str] = {}
            ok = True
            for arg, want, got in zip(args, bound_values, fact, strict=True):
                if want is not None:
                    if want != got:
                        ok = False
                        break
                elif arg in new:
                    if new[arg] != got:
                        ok = False
                        break
                else:
                    new[arg] = got
            if not ok:
                continue
            binding.update(new)
            if _search(pending, binding, unbound - new.keys(), types, facts, objects_of_type):
                return True
            for arg in new:
                del binding[arg]
        return False
    # No atom can bind the remaining variables: enumerate the first one over its type.
    var = sorted(_free_vars(pending[0], set()) & unbound)[0]
    for value in objects_of_type(types.get(var, "object")):
        binding[var] = value
        if _search(pending, binding, unbound - {var}, types, facts, objects_of_type):
            del binding[var]
            return True
        del binding[var]
    return False
