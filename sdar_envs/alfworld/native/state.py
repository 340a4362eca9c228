"""The static world of an ALFWorld problem and its compact dynamic state.

:class:`World` holds what no action changes (receptacle positions, types, ``canContain``, object properties, display
names), indexed for the engine. :class:`State` holds what actions change: the agent's location, the held object,
what is in each receptacle, where each object is, open receptacles and the hot/cool/clean/sliced/toggled flags.

The state mirrors the facts the TextWorld engine keeps, including one of its artefacts the game text depends on:
when an action deletes a fact, TextWorld records the negated fact (``not_inreceptacle(o, r)``) and keeps it until the
fact is added again (``textworld/envs/pddl/logic/__init__.py``, ``PddlState.apply``). ``look`` lists an object
"next to" the agent when it lies at the agent's location and a receptacle there holds such a negated fact for it, so
:attr:`State.not_in` is tracked.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sdar_envs.alfworld.native.names import demangle_names
from sdar_envs.alfworld.native.pddl import PddlError, Problem

__all__ = ["DYNAMIC_PREDICATES", "State", "World"]

#: Predicates that some action of the alfred domain adds or deletes; every other predicate is static.
DYNAMIC_PREDICATES: frozenset[str] = frozenset(
    {
        "atlocation",
        "opened",
        "checked",
        "inreceptacle",
        "holds",
        "holdsany",
        "objectatlocation",
        "isclean",
        "ishot",
        "iscool",
        "ison",
        "istoggled",
        "issliced",
    }
)

_FLAG_PREDICATES = ("isclean", "ishot", "iscool", "issliced", "istoggled", "ison")


@dataclass
class State:
    """The dynamic part of a game. Sets hold entity ids (lower-case PDDL names).

    ``loc`` is the agent's location; ``held`` the objects the agent holds (at most one in play); ``holds_any`` the
    ``holdsAny`` fact; ``contents[r]`` the objects in receptacle ``r``; ``in_pairs`` the same as ``(o, r)`` pairs;
    ``not_in`` the ``(o, r)`` pairs of deleted ``inReceptacle`` facts; ``obj_locs`` the ``(o, l)`` pairs of
    ``objectAtLocation``; ``opened`` the open receptacles; ``flags[p]`` the objects for which the flag ``p``
    (``isclean``, ``ishot``, ``iscool``, ``issliced``, ``istoggled``, ``ison``) holds.
    """

    loc: str
    held: set[str] = field(default_factory=set)
    holds_any: bool = False
    contents: dict[str, set[str]] = field(default_factory=dict)
    in_pairs: set[tuple[str, str]] = field(default_factory=set)
    not_in: set[tuple[str, str]] = field(default_factory=set)
    obj_locs: set[tuple[str, str]] = field(default_factory=set)
    opened: set[str] = field(default_factory=set)
    flags: dict[str, set[str]] = field(default_factory=dict)

    def copy(self) -> State:
        return State(
            loc=self.loc,
            held=set(self.held),
            holds_any=self.holds_any,
            contents={r: set(objs) for r, objs in self.contents.items()},
            in_pairs=set(self.in_pairs),
            not_in=set(self.not_in),
            obj_locs=set(self.obj_locs),
            opened=set(self.opened),
            flags={p: set(objs) for p, objs in self.flags.items()},
        )

    # -- the three inReceptacle / objectAtLocation updates the actions make --------------------------------------
    def put_in(self, obj: str, recep: str) -> None:
        self.contents.setdefault(recep, set()).add(obj)
        self.in_pairs.add((obj, recep))
        self.not_in.discard((obj, recep))

    def take_out(self, obj: str, recep: str) -> None:
        self.contents.get(recep, set()).discard(obj)
        self.in_pairs.discard((obj, recep))
        self.not_in.add((obj, recep))


class World:
    """Everything about a problem that no action changes, indexed for the engine.

    Raises :class:`~sdar_envs.alfworld.native.pddl.PddlError` if the problem does not have exactly one agent with
    one initial location.
    """

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.types: dict[str, str] = dict(problem.objects)
        static: dict[str, set[tuple[str, ...]]] = defaultdict(set)
        dynamic: list[tuple[str, ...]] = []
        entities: set[str] = set()
        for fact in problem.init:
            entities.update(fact[1:])
            if fact[0] in DYNAMIC_PREDICATES:
                dynamic.append(fact)
            else:
                static[fact[0]].add(fact[1:])
        self.static: dict[str, frozenset[tuple[str, ...]]] = {p: frozenset(f) for p, f in static.items()}
        self.names: dict[str, str] = demangle_names(entities)
        for name in entities:
            self.types.setdefault(name, "object")

        def unary(pred: str) -> frozenset[str]:
            return frozenset(args[0] for args in self.static.get(pred, ()) if len(args) == 1)

        self.openable = unary("openable")
        self.pickupable = unary("pickupable")
        self.heatable = unary("heatable")
        self.coolable = unary("coolable")
        self.cleanable = unary("cleanable")
        self.toggleable = unary("toggleable")
        self.sliceable = unary("sliceable")
        self.receptacle_objects = unary("isreceptacleobject")

        rtypes: dict[str, set[str]] = defaultdict(set)
        for r, t in self.static.get("receptacletype", ()):
            rtypes[r].add(t)
        otypes: dict[str, set[str]] = defaultdict(set)
        for o, t in self.static.get("objecttype", ()):
            otypes[o].add(t)
        self.rtypes = {r: frozenset(t) for r, t in rtypes.items()}
        self.otypes = {o: frozenset(t) for o, t in otypes.items()}
        self.can_contain = frozenset(self.static.get("cancontain", ()))

        #: ``(r, l)`` pairs of ``receptacleAtLocation`` sorted as TextWorld sorts facts (by ids).
        self.recep_locs: tuple[tuple[str, str], ...] = tuple(sorted(self.static.get("receptacleatlocation", ())))
        at: dict[str, list[str]] = defaultdict(list)
        for r, loc in self.recep_locs:
            at[loc].append(r)
        #: receptacles at each location, sorted by id.
        self.receptacles_at: dict[str, tuple[str, ...]] = {loc: tuple(sorted(rs)) for loc, rs in at.items()}
        self.knives = frozenset(o for o, ts in self.otypes.items() if ts & {"knifetype", "butterknifetype"})
        self.sinks = frozenset(r for r, ts in self.rtypes.items() if "sinkbasintype" in ts)
        self.microwaves = frozenset(r for r, ts in self.rtypes.items() if "microwavetype" in ts)
        self.fridges = frozenset(r for r, ts in self.rtypes.items() if "fridgetype" in ts)
        inner: dict[str, list[str]] = defaultdict(list)
        for o2, o in self.static.get("inreceptacleobject", ()):
            inner[o].append(o2)
        #: objects inside each receptacle object (``inReceptacleObject``, static in the alfred domain), sorted.
        self.inner_objects: dict[str, tuple[str, ...]] = {o: tuple(sorted(v)) for o, v in inner.items()}

        agents = sorted(n for n, t in problem.objects.items() if t == "agent")
        starts = [f for f in dynamic if f[0] == "atlocation"]
        if len(agents) != 1 or len(starts) != 1 or starts[0][1] != agents[0]:
            raise PddlError(
                "the native ALFWorld engine plays problems with exactly one agent and one (atLocation agent loc) "
                f"fact; this problem has agents {agents} and {len(starts)} atLocation facts"
            )
        self.agent = agents[0]
        self.initial = self._initial_state(starts[0][2], dynamic)
        by_type: dict[str, list[str]] = defaultdict(list)
        for name, t in sorted(self.types.items()):
            by_type[t].append(name)
        #: declared names of each PDDL type, sorted.
        self.by_type: dict[str, tuple[str, ...]] = {t: tuple(names) for t, names in by_type.items()}

    def _initial_state(self, start: str, dynamic: list[tuple[str, ...]]) -> State:
        state = State(loc=start, flags={p: set() for p in _FLAG_PREDICATES})
        for fact in dynamic:
            pred, args = fact[0], fact[1:]
            if pred == "inreceptacle":
                state.contents.setdefault(args[1], set()).add(args[0])
                state.in_pairs.add((args[0], args[1]))
            elif pred == "objectatlocation":
                state.obj_locs.add((args[0], args[1]))
            elif pred == "opened":
                state.opened.add(args[0])
            elif pred == "holds":
                state.held.add(args[1])
            elif pred == "holdsany":
                state.holds_any = True
            elif pred in state.flags:
                state.flags[pred].add(args[0])
        return state

    def facts(self, state: State, pred: str) -> set[tuple[str, ...]] | frozenset[tuple[str, ...]]:
        """The argument tuples for which ``pred`` is true in ``state`` (static or dynamic)."""
        if pred not in DYNAMIC_PREDICATES:
            return self.static.get(pred, frozenset())
        if pred == "inreceptacle":
            return state.in_pairs
        if pred == "atlocation":
            return {(self.agent, state.loc)}
        if pred == "holds":
            return {(self.agent, o) for o in state.held}
        if pred == "holdsany":
            return {(self.agent,)} if state.holds_any else set()
        if pred == "objectatlocation":
            return state.obj_locs
        if pred == "opened":
            return {(r,) for r in state.opened}
        if pred == "checked":
            return set()
        return {(o,) for o in state.flags[pred]}
