"""Seeded generator of ALFWorld-format games (``traj_data.json`` + ``game.tw-pddl``).

A game is drawn from ``(split, task_type, seed)`` alone, with Python's ``random.Random`` seeded by a string, so the
same triple always gives byte-identical files. The room comes from the floorplan inventories shipped in the
``alfworld`` wheel (``alfworld/gen/layouts/FloorPlan*-{objects,openable}.json`` and ``-layout.npy``): the receptacles
with their real THOR ids and agent poses, the object classes present in the scene, the reachable grid points. Objects
are placed respecting ALFWorld's ``canContain`` table (``alfworld.gen.constants.VAL_RECEPTACLE_OBJECTS``) and the goal
comes from ``alfworld.gen.goal_library`` with one of its two task sentences per type.

These are ALFWorld-format games on ALFRED floorplans, not the official ALFWorld instances (whose problem files were
produced from THOR scene metadata and cannot be rebuilt offline).

On disk a game looks exactly like an official one::

    <root>/<split>/<task_type>-<Object>-None-<Receptacle>-<scene>/trial_S<seed>/traj_data.json
                                                                          /game.tw-pddl

so upstream ``AlfredTWEnv`` reads a generated split unchanged.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from alfworld.gen import constants, goal_library
from alfworld.info import ALFRED_PDDL_PATH, ALFRED_TWL2_PATH

__all__ = [
    "CHECKSUM_NAME",
    "SPLITS",
    "SPLIT_SCENES",
    "TASK_SHARES",
    "TASK_TYPES",
    "GameSpec",
    "floorplan_room",
    "mangle",
    "sample_game",
    "write_game",
]

#: ALFWorld's six task types, in upstream's numbering order (``alfred_tw_env.TASK_TYPES``).
TASK_TYPES: tuple[str, ...] = (
    "pick_and_place_simple",
    "look_at_obj_in_light",
    "pick_clean_then_place_in_recep",
    "pick_heat_then_place_in_recep",
    "pick_cool_then_place_in_recep",
    "pick_two_obj_and_place",
)

SPLITS: tuple[str, ...] = ("train", "eval_in_distribution", "eval_out_of_distribution")

#: Games per task type in the official ALFWorld splits (ALFWorld paper, Table 1: train 3553, valid_seen 140,
#: valid_unseen 134). The generated splits use the same counts.
TASK_SHARES: Mapping[str, Mapping[str, int]] = {
    "train": dict(zip(TASK_TYPES, (790, 308, 650, 459, 533, 813), strict=True)),
    "eval_in_distribution": dict(zip(TASK_TYPES, (35, 13, 27, 16, 25, 24), strict=True)),
    "eval_out_of_distribution": dict(zip(TASK_TYPES, (24, 18, 31, 23, 21, 17), strict=True)),
}

#: Floorplans per split: train and in-distribution eval share ALFRED's training floorplans
#: (``constants.TRAIN_SCENE_NUMBERS``); out-of-distribution eval uses the held-out ones (``TEST_SCENE_NUMBERS``).
SPLIT_SCENES: Mapping[str, tuple[int, ...]] = {
    "train": tuple(constants.TRAIN_SCENE_NUMBERS),
    "eval_in_distribution": tuple(constants.TRAIN_SCENE_NUMBERS),
    "eval_out_of_distribution": tuple(constants.TEST_SCENE_NUMBERS),
}

#: The file beside a written game's two files that holds their SHA-256s (``{name: hex digest}``).
CHECKSUM_NAME = ".sha256.json"

_LAYOUTS = Path(constants.__file__).resolve().parent / "layouts"
_GRID = constants.AGENT_STEP_SIZE  # 0.25 m: ALFRED's navigation grid, the unit of location ids
_OPENABLE = set(constants.OPENABLE_CLASS_LIST)
_MOVABLE = set(constants.MOVABLE_RECEPTACLES)
_CAN_CONTAIN: dict[str, set[str]] = {r: set(objs) for r, objs in constants.VAL_RECEPTACLE_OBJECTS.items()}
#: Receptacle classes that stand in the room (the canContain keys that are not objects one can carry).
_STATIC_RECEPTACLES = sorted(set(_CAN_CONTAIN) - _MOVABLE)
#: Object classes one can carry: anything some receptacle can contain, sliced variants excluded (ALFWorld drops them).
_PICKUPABLE = sorted({o for objs in _CAN_CONTAIN.values() for o in objs if not o.endswith("Sliced")})
#: Appliance each state-change task needs, and the receptacle type the domain's action checks.
_APPLIANCE = {
    "pick_heat_then_place_in_recep": "Microwave",
    "pick_cool_then_place_in_recep": "Fridge",
    "pick_clean_then_place_in_recep": "SinkBasin",
}
_STATE_CLASS = {
    "pick_heat_then_place_in_recep": "Heatable",
    "pick_cool_then_place_in_recep": "Coolable",
    "pick_clean_then_place_in_recep": "Cleanable",
}
#: Types the domain's actions name (HeatObject, CoolObject, CleanObject, SliceObject): a problem must declare them.
_DOMAIN_RTYPES = ("FridgeType", "MicrowaveType", "SinkBasinType")
_DOMAIN_OTYPES = ("ButterKnifeType", "KnifeType")
#: Where desk lamps stand (they are not in the canContain table: they never move).
_LAMP_STANDS = ("Desk", "Dresser", "SideTable")
#: Synthesised instance counts for receptacle classes a floorplan's partial ``openable.json`` does not list.
_EXTRA_COUNTS = {"StoveBurner": 4}
_MAX_INSTANCES = constants.MAX_NUM_OF_OBJ_INSTANCES  # 3
#: How many other object classes of the floorplan a game holds (inclusive range), and the weights of 1, 2, 3
#: instances per class. A subset keeps problems near the size of ALFRED's (20-40 objects), which sets the engine's
#: reset and step time.
_DISTRACTOR_CLASSES = (8, 14)
_INSTANCE_WEIGHTS = (5, 3, 1)
_MAX_TARGETS = constants.PICKUP_REPEAT_MAX  # 4


def mangle(thor_id: str) -> str:
    """A THOR id as a PDDL name (``Apple|+00.1|...`` -> ``Apple_bar__plus_00_dot_1...``), ALFWorld's encoding."""
    for old, new in (("|", "_bar_"), ("-", "_minus_"), ("+", "_plus_"), (".", "_dot_"), (",", "_comma_")):
        thor_id = thor_id.replace(old, new)
    return thor_id


def floorplan_room(scene: int) -> str:
    """``"Kitchen"``, ``"LivingRoom"``, ``"Bedroom"`` or ``"Bathroom"`` for an ALFRED floorplan number."""
    for room, numbers in constants.SCENE_TYPE.items():
        if scene in numbers:
            return room
    raise ValueError(f"floorplan {scene} is not an ALFRED floorplan (1-30, 201-230, 301-330, 401-430)")


def _coord(value: float) -> str:
    return f"{value:+06.2f}"


def _location(x: float, z: float, rotation: int, horizon: int) -> str:
    return f"loc|{round(x / _GRID)}|{round(z / _GRID)}|{(rotation // 90) % 4}|{horizon}"


def _receptacle_class(thor_id: str) -> str:
    """The receptacle type of a THOR id: ``Sink|..|SinkBasin`` is a SinkBasin, ``Cabinet|..`` a Cabinet."""
    parts = thor_id.split("|")
    return parts[-1] if parts[0] in ("Sink", "Bathtub") else parts[0]


@dataclass(frozen=True, eq=False)
class Room:
    """A floorplan's fixed furniture: receptacle THOR id -> location id, the object classes present, free spots."""

    scene: int
    receptacles: Mapping[str, str]
    object_classes: tuple[str, ...]
    free_locations: tuple[str, ...]

    @property
    def receptacle_classes(self) -> set[str]:
        return {_receptacle_class(r) for r in self.receptacles}


@functools.lru_cache(maxsize=256)
def load_room(scene: int) -> Room | None:
    """The furniture of ALFRED floorplan ``scene`` (``None`` if the wheel ships no layout for it).

    Receptacles listed in ``FloorPlan<N>-openable.json`` keep their THOR ids and agent poses. Receptacle classes the
    scene's ``objects.json`` lists but ``openable.json`` lacks (the file is partial) get one instance (four stove
    burners) at a reachable grid point, drawn with a generator seeded by the floorplan alone, so a floorplan's
    furniture is the same in every game.
    """
    stem = _LAYOUTS / f"FloorPlan{scene}"
    paths = [Path(f"{stem}-{part}") for part in ("objects.json", "openable.json", "layout.npy")]
    if not all(p.exists() for p in paths):
        return None
    classes = json.loads(paths[0].read_text())
    poses: dict[str, list[float]] = json.loads(paths[1].read_text())
    points = [(float(x), float(z)) for x, z in np.load(paths[2])]
    rng = random.Random(f"sdar-alfworld/floorplan/{scene}")

    receptacles: dict[str, str] = {}
    for thor_id in sorted(poses):
        if _receptacle_class(thor_id) not in _CAN_CONTAIN:
            continue
        x, z, rotation, horizon = poses[thor_id]
        receptacles[thor_id] = _location(x, z, int(rotation), int(horizon))

    present = {_receptacle_class(r) for r in receptacles}
    wanted = []
    for cls in sorted(set(classes)):
        if cls in ("Sink", "SinkBasin"):
            cls = "SinkBasin"
        elif cls in ("Bathtub", "BathtubBasin"):
            cls = "BathtubBasin"
        if cls in _STATIC_RECEPTACLES and cls not in present and cls not in wanted:
            wanted.append(cls)
    for cls in wanted:
        for _ in range(_EXTRA_COUNTS.get(cls, 1)):
            x, z = rng.choice(points)
            y = rng.uniform(0.0, 1.5)
            ox, oz = x + rng.uniform(-0.6, 0.6), z + rng.uniform(-0.6, 0.6)
            coords = f"{_coord(ox)}|{_coord(y)}|{_coord(oz)}"
            thor_id = {"SinkBasin": f"Sink|{coords}|SinkBasin", "BathtubBasin": f"Bathtub|{coords}|BathtubBasin"}.get(
                cls, f"{cls}|{coords}"
            )
            receptacles[thor_id] = _location(x, z, rng.choice((0, 90, 180, 270)), rng.choice((0, 30)))

    used = set(receptacles.values())
    free = sorted(
        {_location(x, z, r, 30) for x, z in points for r in (0, 90, 180, 270)} - used,
    )
    object_classes = tuple(sorted(c for c in set(classes) if c in _PICKUPABLE or c == "DeskLamp"))
    return Room(
        scene=scene,
        receptacles=dict(sorted(receptacles.items())),
        object_classes=object_classes,
        free_locations=tuple(free),
    )


@dataclass(frozen=True)
class GameSpec:
    """One generated game: everything needed to write its files.

    Attributes:
        split, task_type, seed: what the game was drawn from.
        scene: ALFRED floorplan number.
        object_target, parent_target, toggle_target: ALFRED class names (``""`` when unused).
        instruction: the task sentence (``"put a clean mug in coffeemachine"``), without the trailing period.
        problem: the PDDL problem text.
    """

    split: str
    task_type: str
    seed: int
    scene: int
    object_target: str
    parent_target: str
    toggle_target: str
    instruction: str
    problem: str

    @property
    def folder(self) -> str:
        """Upstream's folder name: ``<task_type>-<Object>-<MovableRecep>-<Receptacle>-<scene>``."""
        recep = self.parent_target or self.toggle_target
        return f"{self.task_type}-{self.object_target}-None-{recep}-{self.scene}"

    @property
    def trial(self) -> str:
        return f"trial_S{self.seed:06d}"

    @property
    def task_id(self) -> str:
        """``<folder>/<trial>``: unique within the split."""
        return f"{self.folder}/{self.trial}"

    @property
    def pddl_params(self) -> dict[str, object]:
        """``traj_data.json``'s ``pddl_params`` (what the hand-coded expert reads)."""
        return {
            "object_target": self.object_target,
            "parent_target": self.parent_target,
            "toggle_target": self.toggle_target,
            "mrecep_target": "",
            "object_sliced": False,
        }


@functools.lru_cache(maxsize=1024)
def _goal_choices(task_type: str, room: Room) -> list[tuple[str, str]]:
    """Feasible ``(object, receptacle-or-toggle)`` class pairs for ``task_type`` in ``room``."""
    classes = room.receptacle_classes
    if task_type == "look_at_obj_in_light":
        if "DeskLamp" not in room.object_classes or not classes & set(_LAMP_STANDS):
            return []
        return [(o, "DeskLamp") for o in room.object_classes if o != "DeskLamp" and _placeable(o, room, "")]
    appliance = _APPLIANCE.get(task_type)
    if appliance == "SinkBasin" and not classes & {"SinkBasin", "BathtubBasin"}:
        return []
    if appliance in ("Microwave", "Fridge") and appliance not in classes:
        return []
    state_class = _STATE_CLASS.get(task_type)
    pairs = []
    for obj in room.object_classes:
        if obj == "DeskLamp" or (state_class and obj not in constants.VAL_ACTION_OBJECTS[state_class]):
            continue
        for parent in sorted(classes):
            if parent in ("SinkBasin", "BathtubBasin", appliance) or obj not in _CAN_CONTAIN.get(parent, ()):
                continue
            if _placeable(obj, room, parent):
                pairs.append((obj, parent))
    return pairs


def _placeable(obj: str, room: Room, excluded_parent: str) -> bool:
    return any(obj in _CAN_CONTAIN[c] for c in room.receptacle_classes if c != excluded_parent and c in _CAN_CONTAIN)


@functools.lru_cache(maxsize=32)
def _eligible_rooms(split: str, task_type: str) -> list[Room]:
    """The split's floorplans whose room type allows ``task_type`` and that hold a feasible goal."""
    rooms = []
    for scene in SPLIT_SCENES[split]:
        if floorplan_room(scene) not in constants.GOALS_VALID[task_type]:
            continue
        room = load_room(scene)
        if room is not None and _goal_choices(task_type, room):
            rooms.append(room)
    return rooms


def sample_game(split: str, task_type: str, seed: int) -> GameSpec:
    """Draw the game ``seed`` of ``task_type`` in ``split`` (pure and fast: no engine involved).

    Raises ``ValueError`` for an unknown split or task type.
    """
    if split not in SPLIT_SCENES:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    if task_type not in TASK_TYPES:
        raise ValueError(f"unknown task type {task_type!r}; expected one of {TASK_TYPES}")
    rng = random.Random(f"sdar-alfworld/{split}/{task_type}/{seed}")
    rooms = _eligible_rooms(split, task_type)
    room = rng.choice(rooms)
    obj, target = rng.choice(_goal_choices(task_type, room))
    parent, toggle = ("", target) if task_type == "look_at_obj_in_light" else (target, "")

    objects = _place_objects(rng, room, task_type, obj, parent)
    start = rng.choice(room.free_locations)
    goal_entry = goal_library.gdict[task_type]
    template = rng.choice(goal_entry["templates"])
    instruction = template.format(obj=obj.lower(), recep=parent.lower(), toggle=toggle.lower())
    goal = goal_entry["pddl"].format(obj=obj, recep=parent, toggle=toggle).replace("#", "-")
    problem = _problem_text(room, objects, start, goal)
    return GameSpec(split, task_type, seed, room.scene, obj, parent, toggle, instruction, problem)


def _place_objects(rng: random.Random, room: Room, task_type: str, target: str, parent: str) -> dict[str, str]:
    """Object THOR id -> receptacle THOR id. No instance of the target class starts inside a parent-class
    receptacle, so the goal never holds at the start."""
    placed: dict[str, str] = {}
    receptacles = list(room.receptacles)
    others = [c for c in room.object_classes if c not in (target, "DeskLamp")]
    keep = set(rng.sample(others, min(len(others), rng.randint(*_DISTRACTOR_CLASSES))))
    for cls in room.object_classes:
        if cls not in keep and cls not in (target, "DeskLamp"):
            continue
        if cls == "DeskLamp":
            stands = [r for r in receptacles if _receptacle_class(r) in _LAMP_STANDS]
            if not stands:
                continue
            count, hosts = 1, stands
        else:
            hosts = [r for r in receptacles if cls in _CAN_CONTAIN.get(_receptacle_class(r), ())]
            if cls == target:
                hosts = [r for r in hosts if _receptacle_class(r) != parent]
                low = 2 if task_type == "pick_two_obj_and_place" else 1
                count = rng.randint(low, _MAX_TARGETS)
            else:
                count = rng.choices(range(1, _MAX_INSTANCES + 1), weights=_INSTANCE_WEIGHTS)[0]
            if not hosts:
                continue
        for _ in range(count):
            host = rng.choice(hosts)
            hx, hy, hz = (float(v) for v in host.split("|")[1:4])
            while True:
                coords = (hx + rng.uniform(-0.3, 0.3), hy + rng.uniform(0.0, 0.2), hz + rng.uniform(-0.3, 0.3))
                thor_id = f"{cls}|" + "|".join(_coord(v) for v in coords)
                if thor_id not in placed:
                    break
            placed[thor_id] = host
    return dict(sorted(placed.items()))


def _problem_text(room: Room, objects: Mapping[str, str], start: str, goal: str) -> str:
    receptacles = room.receptacles
    rtypes = sorted({f"{_receptacle_class(r)}Type" for r in receptacles} | set(_DOMAIN_RTYPES))
    object_classes = sorted({o.split("|")[0] for o in objects})
    otypes = sorted({f"{c}Type" for c in object_classes} | set(_DOMAIN_OTYPES))
    locations = sorted(set(receptacles.values()) | {start})

    decl = ["agent1 - agent"]
    decl += [f"{t} - otype" for t in otypes]
    decl += [f"{t} - rtype" for t in rtypes]
    decl += [f"{mangle(r)} - receptacle" for r in receptacles]
    decl += [f"{mangle(o)} - object" for o in objects]
    decl += [f"{mangle(loc)} - location" for loc in locations]

    init = [f"(atLocation agent1 {mangle(start)})"]
    for r, loc in receptacles.items():
        cls = _receptacle_class(r)
        init.append(f"(receptacleType {mangle(r)} {cls}Type)")
        init.append(f"(receptacleAtLocation {mangle(r)} {mangle(loc)})")
        if cls in _OPENABLE:
            init.append(f"(openable {mangle(r)})")
    actions = constants.VAL_ACTION_OBJECTS
    for o, r in objects.items():
        cls = o.split("|")[0]
        name = mangle(o)
        init.append(f"(objectType {name} {cls}Type)")
        init.append(f"(inReceptacle {name} {mangle(r)})")
        init.append(f"(objectAtLocation {name} {mangle(receptacles[r])})")
        if cls != "DeskLamp":
            init.append(f"(pickupable {name})")
        if cls in _MOVABLE:
            init.append(f"(isReceptacleObject {name})")
        for prop, table in (
            ("heatable", "Heatable"),
            ("coolable", "Coolable"),
            ("cleanable", "Cleanable"),
            ("toggleable", "Toggleable"),
            ("sliceable", "Sliceable"),
        ):
            if cls in actions[table]:
                init.append(f"({prop} {name})")
    for rtype in rtypes:
        for cls in sorted(_CAN_CONTAIN.get(rtype[: -len("Type")], ())):
            if cls in object_classes:
                init.append(f"(canContain {rtype} {cls}Type)")

    lines = ["(define (problem plan_trial)", "(:domain alfred)", "(:objects"]
    lines += [f"  {d}" for d in decl]
    lines += [")", "(:init"]
    lines += [f"  {fact}" for fact in init]
    lines += [")", goal.strip()]
    return "\n".join(lines) + "\n"


@functools.lru_cache(maxsize=1)
def domain_text() -> str:
    """The alfred PDDL domain shipped in the ``alfworld`` wheel (``alfworld/data/alfred.pddl``)."""
    return Path(ALFRED_PDDL_PATH).read_text()


@functools.lru_cache(maxsize=1)
def grammar_template() -> str:
    """The alfred TextWorld grammar shipped in the wheel (``alfworld/data/alfred.twl2``, new command set)."""
    return Path(ALFRED_TWL2_PATH).read_text()


def traj_data(spec: GameSpec) -> dict[str, object]:
    """``traj_data.json`` content: the fields ``AlfredTWEnv`` and the hand-coded expert read, plus provenance."""
    return {
        "task_id": spec.trial,
        "task_type": spec.task_type,
        "pddl_params": spec.pddl_params,
        "scene": {"floor_plan": f"FloorPlan{spec.scene}", "scene_num": spec.scene},
        "turk_annotations": {"anns": [{"task_desc": spec.instruction}]},
        "sdar": {"generator": "sdar_envs.alfworld.games", "split": spec.split, "seed": spec.seed},
    }


def game_data(spec: GameSpec, walkthrough: Sequence[str] | None, solvable: bool | None) -> dict[str, object]:
    """``game.tw-pddl`` content, as ``alfworld-generate`` writes it."""
    return {
        "pddl_domain": domain_text(),
        "grammar": grammar_template().replace("UNKNOWN GOAL", spec.instruction),
        "pddl_problem": spec.problem,
        "solvable": solvable,
        "walkthrough": list(walkthrough) if walkthrough is not None else None,
    }


def write_game(
    spec: GameSpec, root: str | Path, *, walkthrough: Sequence[str] | None = None, solvable: bool | None = None
) -> Path:
    """Write ``<root>/<split>/<folder>/<trial>/{traj_data.json, game.tw-pddl}``; return the ``game.tw-pddl`` path.

    Files are written to a temporary name and renamed, so concurrent builders never see a half-written game; then
    :data:`CHECKSUM_NAME` records their SHA-256s (``sdar_envs.alfworld.cache`` checks them before a game is played).
    """
    trial_dir = Path(root) / spec.split / spec.folder / spec.trial
    trial_dir.mkdir(parents=True, exist_ok=True)
    texts = {
        "traj_data.json": json.dumps(traj_data(spec), indent=2) + "\n",
        "game.tw-pddl": json.dumps(game_data(spec, walkthrough, solvable), indent=2) + "\n",
    }
    digests = {name: hashlib.sha256(text.encode()).hexdigest() for name, text in texts.items()}
    texts[CHECKSUM_NAME] = json.dumps(digests, indent=2, sort_keys=True) + "\n"  # last: it vouches for the others
    for name, text in texts.items():
        tmp = trial_dir / f".{name}.{os.getpid()}.tmp"
        tmp.write_text(text)
        tmp.replace(trial_dir / name)
    return trial_dir / "game.tw-pddl"
