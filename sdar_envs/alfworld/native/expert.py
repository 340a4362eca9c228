"""A native expert for the six ALFWorld task types, planning on the native engine's state.

It reads the task from the goal formula (the object type, the receptacle type, the required ``isHot``/``isCool``/
``isClean`` flag, two objects, or a lamp to switch on while holding the object) and, from the current state, gives
the next command of a short plan: go to a receptacle holding a wanted object, open it if closed, take the object,
heat/cool/clean it at a microwave/fridge/sinkbasin, go to the target receptacle, open it, put the object there (twice
for ``pick_two_obj_and_place``), or carry the object to the lamp and ``use`` it. It re-plans at every call, so it also
recovers after other commands were played. It knows where every object is (it reads the state, not the text),
so its plans are shorter than alfworld's hand-coded expert, which searches receptacles one by one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sdar_envs.alfworld.native.engine import NativeEngine
from sdar_envs.alfworld.native.pddl import Formula
from sdar_envs.alfworld.native.state import State, World

__all__ = ["NativeExpert", "TaskSpec", "task_spec"]

_FLAG_APPLIANCE = {"ishot": ("heat", "microwaves"), "iscool": ("cool", "fridges"), "isclean": ("clean", "sinks")}


@dataclass(frozen=True)
class TaskSpec:
    """What a goal asks for: ``obj_type`` (e.g. ``appletype``), ``recep_type`` (``None`` for the lamp task),
    ``flag`` (``ishot``/``iscool``/``isclean`` or ``None``), ``count`` (1 or 2) and ``toggle_type`` (lamp task)."""

    obj_type: str
    recep_type: str | None
    flag: str | None
    count: int
    toggle_type: str | None


def _atoms(formula: Formula) -> Iterable[tuple[str, tuple[str, ...]]]:
    if formula[0] == "atom":
        yield formula[1], formula[2]
    elif formula[0] in ("and", "or"):
        for sub in formula[1:]:
            yield from _atoms(sub)
    elif formula[0] == "not":
        yield from _atoms(formula[1])
    else:
        yield from _atoms(formula[2])


def task_spec(goal: Formula) -> TaskSpec:
    """Read an ALFWorld goal (``alfworld/gen/goal_library.py`` forms); raises ``ValueError`` for other goals."""
    atoms = list(_atoms(goal))
    obj_types = {args[0]: args[1] for pred, args in atoms if pred == "objecttype" and not args[1].startswith("?")}
    recep_types = [args[1] for pred, args in atoms if pred == "receptacletype" and not args[1].startswith("?")]
    preds = {pred for pred, _ in atoms}
    if "istoggled" in preds:
        toggled = {args[0] for pred, args in atoms if pred == "istoggled"}
        toggle_type = next((t for v, t in obj_types.items() if v in toggled), None)
        obj_type = next((t for v, t in obj_types.items() if v not in toggled), None)
        if toggle_type is None or obj_type is None:
            raise ValueError("a look-at-object goal needs an object type and a toggleable type")
        return TaskSpec(obj_type, None, None, 1, toggle_type)
    if not obj_types or not recep_types:
        raise ValueError("the native expert handles the six ALFWorld goal forms; this goal names no object/receptacle")
    flag = next((p for p in ("ishot", "iscool", "isclean") if p in preds), None)
    count = 2 if len(set(obj_types)) >= 2 and "=" in preds else 1
    return TaskSpec(next(iter(obj_types.values())), recep_types[0], flag, count, None)


class NativeExpert:
    """The next command towards the goal for a :class:`NativeEngine` that has been reset.

    ``next_command()`` returns an admissible command, or ``None`` once the game is won or no plan exists.
    """

    def __init__(self, engine: NativeEngine) -> None:
        self.engine = engine

    def start(self, feedback: str) -> str | None:
        """The first command after reset (same interface as the env's hand-coded ``Expert``)."""
        return self.next_command()

    def next_action(self, state: Mapping[str, Any], last_command: str, admissible: Sequence[str]) -> str | None:
        """The next command after a step (same interface as the env's hand-coded ``Expert``; reads the engine)."""
        return self.next_command()

    def next_command(self) -> str | None:
        engine = self.engine
        if engine.state is None or engine.game is None or engine.won:
            return None
        world, state = engine.game.world, engine.state
        spec = task_spec(world.problem.goal)
        commands = engine.commands

        def command(test: Callable[[tuple[str, ...]], bool]) -> str | None:
            return next((c for c, a in sorted(commands.items()) if test(a)), None)

        def go_to(recep: str) -> str | None:
            if recep in world.receptacles_at.get(state.loc, ()):
                return None
            return command(lambda a: a[0] == "goto" and a[1] == recep)

        def open_here(recep: str) -> str | None:
            if recep in world.openable and recep not in state.opened:
                return command(lambda a: a == ("open", recep))
            return None

        wanted = [o for o in world.by_type.get("object", ()) if spec.obj_type in world.otypes.get(o, ())]
        held = sorted(state.held)
        if spec.toggle_type is not None:
            return self._look_task(spec, world, state, wanted, held, command, go_to)

        targets = [r for r in world.by_type.get("receptacle", ()) if spec.recep_type in world.rtypes.get(r, ())]
        if not targets:
            return None

        def done(o: str) -> bool:
            return spec.flag is None or o in state.flags[spec.flag]

        # The target receptacle: the one already holding the most finished objects (ties: first id).
        target = max(targets, key=lambda r: sum(1 for o in state.contents.get(r, ()) if o in wanted and done(o)))
        placed = {o for o in state.contents.get(target, ()) if o in wanted and done(o)}
        if held:
            o = held[0]
            if o in wanted and o not in placed:
                if not done(o):
                    verb, appliances = _FLAG_APPLIANCE[spec.flag]  # type: ignore[index]
                    appliance = sorted(getattr(world, appliances))
                    if not appliance:
                        return None
                    step = command(lambda a: a[0] == verb and a[1] == o)
                    return step or go_to(appliance[0])
                return go_to(target) or open_here(target) or command(lambda a: a == ("put", o, target))
            # Holding something else: put it down here if possible, else on a receptacle that accepts it.
            step = command(lambda a: a[0] == "put" and a[1] == o)
            if step:
                return step
            for r in world.by_type.get("receptacle", ()):
                types = world.rtypes.get(r, frozenset())
                if any((rt, ot) in world.can_contain for rt in types for ot in world.otypes.get(o, ())):
                    return go_to(r) or open_here(r)
            return None
        return self._fetch(world, state, [o for o in wanted if o not in placed], command, go_to, open_here)

    def _fetch(
        self,
        world: World,
        state: State,
        candidates: list[str],
        command: Callable[[Callable[[tuple[str, ...]], bool]], str | None],
        go_to: Callable[[str], str | None],
        open_here: Callable[[str], str | None],
    ) -> str | None:
        """Walk to, open and take one of ``candidates`` (objects in receptacles here first)."""
        here = set(world.receptacles_at.get(state.loc, ()))
        options = sorted(
            ((r not in here, o, r) for (o, r) in state.in_pairs if o in candidates and o in world.pickupable),
        )
        for _, o, r in options:
            step = command(lambda a, o=o, r=r: a == ("take", o, r))
            if step:
                return step
            step = go_to(r) or open_here(r)
            if step:
                return step
        return None

    def _look_task(
        self,
        spec: TaskSpec,
        world: World,
        state: State,
        wanted: list[str],
        held: list[str],
        command: Callable[[Callable[[tuple[str, ...]], bool]], str | None],
        go_to: Callable[[str], str | None],
    ) -> str | None:
        if not any(o in wanted for o in held):
            if held:
                return command(lambda a: a[0] == "put" and a[1] == held[0])
            return self._fetch(world, state, wanted, command, go_to, self._opener(world, state, command))
        lamps = [o for o in world.by_type.get("object", ()) if spec.toggle_type in world.otypes.get(o, ())]
        for lamp in lamps:
            for o, r in sorted(state.in_pairs):
                if o != lamp:
                    continue
                step = command(lambda a, lamp=lamp: a[0] == "use" and a[1] == lamp)
                if step:
                    return step
                return go_to(r)
        return None

    @staticmethod
    def _opener(
        world: World, state: State, command: Callable[[Callable[[tuple[str, ...]], bool]], str | None]
    ) -> Callable[[str], str | None]:
        def open_here(recep: str) -> str | None:
            if recep in world.openable and recep not in state.opened:
                return command(lambda a: a == ("open", recep))
            return None

        return open_here
