"""ALFWorld's privileged context: where the goal objects are at reset, and the expert's plan from there.

The text has two lines::

    Where the objects are: apple 1 is in fridge 1, apple 3 is on countertop 2.
    Expert plan: go to fridge 1; open fridge 1; take apple 1 from fridge 1; go to microwave 1; heat apple 1 with ...

``informative``
    every object of the goal's type (``look_at_obj_in_light``: and every lamp of the goal's type) with the receptacle
    holding it at reset (``in`` a receptacle that opens, ``on`` any other), sorted by object; then the commands the
    native expert (:class:`~sdar_envs.alfworld.native.expert.NativeExpert`, which reads the state and goes straight
    to an object) plays from reset until the goal holds (at most :data:`MAX_PLAN_COMMANDS`).
``adversarial``
    the same two lines for a what-if game in which every object of the goal's type lies in one decoy receptacle
    instead (lamps stay where they are): a receptacle that holds none of them at reset, can hold that kind of object
    (the domain's ``canContain``) and is not of the goal's target type, preferably of the same type as a true
    location (another cabinet when the apple is in a cabinet; failing any that can hold it, any other receptacle not
    of the target type); among those, the one at position ``crc32(task id)`` modulo their number. The plan is the
    expert's plan in the what-if game: it walks to the decoy, and its ``take`` fails in the real game.

Both are computed on a scratch :class:`~sdar_envs.alfworld.native.NativeEngine` session of the game (the live
episode's engine is never touched), in about a millisecond per game, whatever engine the env plays.
"""

from __future__ import annotations

import zlib

from sdar_envs.alfworld.native import NativeEngine, NativeGame
from sdar_envs.alfworld.native.expert import NativeExpert, TaskSpec, task_spec
from sdar_envs.alfworld.native.state import State, World

__all__ = ["MAX_PLAN_COMMANDS", "adversarial_context", "decoy_receptacle", "informative_context", "object_locations"]

#: Longest expert plan the context shows (the env's step limit: a longer plan could not be played anyway).
MAX_PLAN_COMMANDS = 50


def _wanted(world: World, spec: TaskSpec) -> list[str]:
    """The objects of the goal's type, by id."""
    return [o for o in world.by_type.get("object", ()) if spec.obj_type in world.otypes.get(o, ())]


def _lamps(world: World, spec: TaskSpec) -> list[str]:
    if spec.toggle_type is None:
        return []
    return [o for o in world.by_type.get("object", ()) if spec.toggle_type in world.otypes.get(o, ())]


def object_locations(world: World, state: State, objects: list[str]) -> list[tuple[str, str]]:
    """``(object, receptacle)`` id pairs for the ``objects`` that lie in a receptacle in ``state``, sorted by name."""
    pairs = [(o, r) for o, r in state.in_pairs if o in set(objects)]
    return sorted(pairs, key=lambda pair: (world.names[pair[0]], world.names[pair[1]]))


def _render(world: World, pairs: list[tuple[str, str]], plan: list[str]) -> str:
    where = ", ".join(f"{world.names[o]} is {'in' if r in world.openable else 'on'} {world.names[r]}" for o, r in pairs)
    return f"Where the objects are: {where or 'unknown'}.\nExpert plan: {'; '.join(plan) or 'none'}"


def _plan(engine: NativeEngine) -> list[str]:
    """The native expert's commands from the engine's current state until the goal holds or it has no move."""
    expert = NativeExpert(engine)
    plan: list[str] = []
    command = expert.next_command()
    while command is not None and len(plan) < MAX_PLAN_COMMANDS:
        plan.append(command)
        engine.step(command)
        command = expert.next_command()
    return plan


def informative_context(game: NativeGame, grammar: str) -> str:
    """Where the goal objects (and lamps) are at reset, and the expert's plan (see the module docstring)."""
    world = game.world
    spec = task_spec(world.problem.goal)
    engine = NativeEngine(grammar)
    engine.load(game)
    engine.reset()
    assert engine.state is not None
    pairs = object_locations(world, engine.state, _wanted(world, spec) + _lamps(world, spec))
    return _render(world, pairs, _plan(engine))


def decoy_receptacle(world: World, task_id: str) -> str:
    """The receptacle the adversarial context puts the goal objects in (rule in the module docstring)."""
    spec = task_spec(world.problem.goal)
    wanted = _wanted(world, spec)
    true = {r for _, r in object_locations(world, world.initial, wanted)}
    otypes = {t for o in wanted for t in world.otypes.get(o, ())}
    receptacles = world.by_type.get("receptacle", ())
    others = [r for r in receptacles if r not in true and spec.recep_type not in world.rtypes.get(r, ())]
    holders = [
        r for r in others if any((rt, ot) in world.can_contain for rt in world.rtypes.get(r, ()) for ot in otypes)
    ]
    true_types = {t for r in true for t in world.rtypes.get(r, ())}
    alike = [r for r in holders if world.rtypes.get(r, frozenset()) & true_types]
    group = alike or holders or others
    if not group:
        raise ValueError(f"ALFWorld task {task_id!r} has no receptacle besides its goal's to serve as a decoy")
    return group[zlib.crc32(task_id.encode()) % len(group)]


def adversarial_context(game: NativeGame, grammar: str, task_id: str) -> str:
    """Where the goal objects are and the expert's plan, for the what-if game with every goal object in the decoy."""
    world = game.world
    spec = task_spec(world.problem.goal)
    decoy = decoy_receptacle(world, task_id)
    decoy_location = dict(world.recep_locs)[decoy]
    state = world.initial.copy()
    for o, r in object_locations(world, state, _wanted(world, spec)):
        state.contents[r].discard(o)
        state.in_pairs.discard((o, r))
        state.obj_locs = {(obj, loc) for obj, loc in state.obj_locs if obj != o}
        state.put_in(o, decoy)
        state.obj_locs.add((o, decoy_location))
    engine = NativeEngine(grammar)
    engine.load(game)
    engine.reset_to(state)
    pairs = object_locations(world, state, _wanted(world, spec) + _lamps(world, spec))
    return _render(world, pairs, _plan(engine))
