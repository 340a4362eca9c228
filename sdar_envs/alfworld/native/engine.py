"""The native ALFWorld engine: plays ``game.tw-pddl`` files in pure Python with the TextWorld engine's exact text.

It implements the alfred PDDL domain (``alfworld/data/alfred.pddl``) and the alfred TextWorld grammar
(``alfworld/data/alfred.twl2``) directly instead of translating the problem with Fast Downward and deriving text with
TextWorld's context-sensitive grammar. What the TextWorld engine does, and this one reproduces:

* **Admissible commands** are the commands of the domain's applicable grounded actions, sorted and deduplicated:
  ``go to R`` for every receptacle not at the agent's location; ``open``/``close R`` for an openable receptacle
  here; ``take O from R`` with empty hands from an open (or non-openable) receptacle here; ``move O to R`` (grammar
  ``new``) or ``put O in/on R`` (grammar ``old``) when ``canContain`` allows it; ``heat``/``cool``/``clean O with R``
  with a microwave/fridge/sinkbasin here (no need to open it); ``use O`` for a toggleable object in any receptacle
  here, even a closed one; ``slice O with K`` holding a knife; ``examine R`` for receptacles here; ``examine O``
  for the held object only; ``look``; ``inventory``; ``help`` (grammar ``new`` only).
* **Commands** match exactly after stripping surrounding whitespace (no lower-casing); anything else gives
  ``Nothing happens.`` and leaves the state as it was.
* **Text** follows the grammar's rules in order, with lists sorted by entity id, joined by ``", "`` and a final
  ``", and "``, and ``nothing`` for an empty list; the article is always ``a``.
* **Quirks**: ``look`` before any move says the room holds nothing (the initial location has no receptacle);
  examining a held receptacle object says ``This is a normal mug 1. In it, you see nothing.`` whatever its state;
  receptacles sharing a location cannot be reached from each other with ``go to``; heating and cooling do not need
  the appliance open; ``isToggled`` is never cleared, so ``use`` always says ``You turn on``; objects put down at a
  location one of whose receptacles they were taken from show up in ``look`` as "next to" the agent.

``won`` is the problem's goal formula evaluated on the current facts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sdar_envs.alfworld.native.goal import evaluate
from sdar_envs.alfworld.native.pddl import PddlError, parse_problem
from sdar_envs.alfworld.native.state import State, World

__all__ = ["GRAMMARS", "NativeEngine", "NativeGame", "read_game_file", "task_sentence"]

#: The two command grammars: ``new`` (alfworld 0.4.x, ``move O to R``, ``help``) and ``old`` (json_2.1.1 /
#: alfworld <= 0.3.x, ``put O in/on R``, ``You arrive at loc N.``).
GRAMMARS: tuple[str, ...] = ("new", "old")

NOTHING_HAPPENS = "Nothing happens."
BANNER = "-= Welcome to TextWorld, ALFRED! =-"
HELP_TEXT = (
    "Available commands:\n"
    "  look:                             look around your current location\n"
    "  inventory:                        check your current inventory\n"
    "  go to (receptacle):               move to a receptacle\n"
    "  open (receptacle):                open a receptacle\n"
    "  close (receptacle):               close a receptacle\n"
    "  take (object) from (receptacle):  take an object from a receptacle\n"
    "  move (object) to (receptacle):  place an object in or on a receptacle\n"
    "  examine (something):              examine a receptacle or an object\n"
    "  use (object):                     use an object\n"
    "  heat (object) with (receptacle):  heat an object using a receptacle\n"
    "  clean (object) with (receptacle): clean an object using a receptacle\n"
    "  cool (object) with (receptacle):  cool an object using a receptacle\n"
    "  slice (object) with (object):     slice an object using a sharp object\n"
)

_TASK_RULE = re.compile(r'"task"\s*:\s*\[\s*\{\s*"rhs"\s*:\s*"((?:[^"\\]|\\.)*)"')

# Actions are tuples: (kind, *entity ids). Kinds whose effects cannot change the goal's truth.
_READ_ONLY = frozenset({"look", "inventory", "help", "examine_r", "examine_o"})


def task_sentence(grammar: str) -> str:
    """The task line of a game's grammar text, e.g. ``"Your task is to: put a hot potato in fridge."``.

    Raises ``ValueError`` if the grammar has no ``"task"`` rule.
    """
    match = _TASK_RULE.search(grammar)
    if match is None:
        raise ValueError('the game grammar has no "task" rule; is this an ALFWorld game.tw-pddl file?')
    return json.loads(f'"{match.group(1)}"')


def read_game_file(path: str | Path) -> dict[str, Any]:
    """The JSON of a ``game.tw-pddl`` file; ``ValueError`` naming the file when it is truncated or not a game."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(
            f"{path} is not a valid game.tw-pddl file ({err}): it is truncated or corrupt; restore it from the "
            "official release, or delete it if it is a generated game (it is written again on the next reset)"
        ) from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds a JSON {type(data).__name__}, not a game.tw-pddl object")
    return data


def join_list(items: list[str]) -> str:
    """TextWorld's list rendering: ``nothing``, ``a``, ``a, and b``, ``a, b, and c``."""
    if not items:
        return "nothing"
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + ", and " + items[-1]


class NativeGame:
    """A loaded game: the parsed problem's :class:`World`, the task line, and the per-location command tables.

    Build one per game file and share it between engines: nothing in it changes during play (per-location command
    tables are filled on a location's first visit and then only read).
    """

    def __init__(self, data: Mapping[str, Any]) -> None:
        if "pddl_problem" not in data or "grammar" not in data:
            raise PddlError("a game.tw-pddl file needs 'pddl_problem' and 'grammar' fields")
        self.world = World(parse_problem(data["pddl_problem"]))
        self.task = task_sentence(data["grammar"])
        w = self.world
        self.name = w.names
        # "go to R" and "examine R" depend only on the agent's location: tabulated per location on first visit.
        self._goto = [(f"go to {w.names[r]}", r, lend) for r, lend in w.recep_locs]
        self._location_commands: dict[str, dict[str, tuple[str, ...]]] = {}

    def location_commands(self, loc: str) -> dict[str, tuple[str, ...]]:
        """``go to``, ``examine R``, ``look`` and ``inventory`` commands at ``loc`` (a cached table; do not mutate)."""
        table = self._location_commands.get(loc)
        if table is None:
            table = {}
            for command, r, lend in self._goto:
                if lend != loc:
                    table.setdefault(command, ("goto", r, lend))
            for r in self.world.receptacles_at.get(loc, ()):
                table.setdefault(f"examine {self.world.names[r]}", ("examine_r", r))
            table["look"] = ("look",)
            table["inventory"] = ("inventory",)
            self._location_commands[loc] = table
        return table

    @classmethod
    def from_file(cls, path: str | Path) -> NativeGame:
        """Load a ``game.tw-pddl`` file (JSON with ``pddl_problem`` and ``grammar``)."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"ALFWorld game file not found at {path}; pass the path of a game.tw-pddl file")
        return cls(read_game_file(path))


class NativeEngine:
    """One game session on the native engine; the same small interface as the TextWorld engine.

    ``load(gamefile)`` reads a game, ``reset()`` and ``step(command)`` return a dict with ``feedback`` (str),
    ``admissible_commands`` (sorted list[str]; includes ``help`` under the ``new`` grammar) and ``won`` (bool).

    Args:
        grammar: ``"new"`` (``move O to R``, ``You arrive at R.``, ``help``) or ``"old"`` (``put O in/on R``,
            ``You arrive at loc N.``, no ``help``).
    """

    name = "native"

    def __init__(self, grammar: str = "new") -> None:
        if grammar not in GRAMMARS:
            raise ValueError(f"grammar must be one of {GRAMMARS}, got {grammar!r}")
        self.grammar = grammar
        self.game: NativeGame | None = None
        self.gamefile: str | None = None
        self.state: State | None = None
        self.won = False
        self._commands: dict[str, tuple[str, ...]] = {}
        self._sorted: list[str] = []

    # -- session ---------------------------------------------------------------------------------------------------
    def load(self, gamefile: str | Path | Mapping[str, Any] | NativeGame) -> None:
        """Load a game: a ``game.tw-pddl`` path, its parsed JSON, or a :class:`NativeGame` (shared, no re-parse)."""
        if isinstance(gamefile, NativeGame):
            self.game = gamefile
        elif isinstance(gamefile, Mapping):
            self.game = NativeGame(gamefile)
        else:
            self.game = NativeGame.from_file(gamefile)
            self.gamefile = str(gamefile)
        self.state = None

    def _require_game(self) -> NativeGame:
        if self.game is None:
            raise RuntimeError("no game loaded; call load(gamefile) first")
        return self.game

    def reset(self) -> dict[str, Any]:
        game = self._require_game()
        self.state = game.world.initial.copy()
        feedback = f"{BANNER}\n\n{self._look(None)}\n\n{game.task}"
        self.won = self._check_goal()
        return self._result(feedback)

    def reset_to(self, state: State) -> dict[str, Any]:
        """Start play from a copy of ``state`` (a state of the loaded game's world) instead of the initial one, with
        empty feedback: planning on a what-if state (objects moved elsewhere) uses it; ``reset`` undoes it."""
        self._require_game()
        self.state = state.copy()
        self.won = self._check_goal()
        return self._result("")

    def step(self, command: str) -> dict[str, Any]:
        if self.state is None:
            raise RuntimeError("call reset() before step()")
        action = self._commands.get(command.strip()) if isinstance(command, str) else None
        if action is None:  # the state is unchanged, and so are the admissible commands
            return {"feedback": NOTHING_HAPPENS, "admissible_commands": list(self._sorted), "won": self.won}
        feedback = self._apply(action)
        if action[0] not in _READ_ONLY:
            self.won = self._check_goal()
        return self._result(feedback)

    def close(self) -> None:
        self.state = None

    @property
    def commands(self) -> Mapping[str, tuple[str, ...]]:
        """The admissible commands now, each with its grounded action ``(kind, *entity ids)``."""
        return self._commands

    def admissible_commands(self) -> list[str]:
        return list(self._sorted)

    def _result(self, feedback: str) -> dict[str, Any]:
        self._commands = self._applicable()
        self._sorted = sorted(self._commands)
        return {"feedback": feedback, "admissible_commands": list(self._sorted), "won": self.won}

    def _check_goal(self) -> bool:
        w = self._require_game().world
        state = self.state
        assert state is not None
        return evaluate(w.problem.goal, lambda pred: w.facts(state, pred), lambda t: w.by_type.get(t, ()), {})

    # -- admissible commands ---------------------------------------------------------------------------------------
    def _applicable(self) -> dict[str, tuple[str, ...]]:
        game = self._require_game()
        w, s, names = game.world, self.state, game.name
        assert s is not None
        loc = s.loc
        cmds = dict(game.location_commands(loc))
        if self.grammar == "new":
            cmds["help"] = ("help",)
        held = sorted(s.held)
        for r in w.receptacles_at.get(loc, ()):
            rname = names[r]
            openable = r in w.openable
            accessible = not openable or r in s.opened
            if openable:
                if r in s.opened:
                    cmds[f"close {rname}"] = ("close", r)
                else:
                    cmds[f"open {rname}"] = ("open", r)
            contents = s.contents.get(r, ())
            for o in contents:
                if o in w.toggleable:
                    cmds.setdefault(f"use {names[o]}", ("use", o, r))
            if accessible and not s.holds_any:
                for o in contents:
                    if o in w.pickupable:
                        cmds[f"take {names[o]} from {rname}"] = ("take", o, r)
            for o in held:
                oname = names[o]
                if accessible:
                    rtypes = w.rtypes.get(r, ())
                    otypes = w.otypes.get(o, ())
                    if any((rt, ot) in w.can_contain for rt in rtypes for ot in otypes):
                        if self.grammar == "new":
                            cmds[f"move {oname} to {rname}"] = ("put", o, r)
                        else:
                            cmds[f"put {oname} in/on {rname}"] = ("put", o, r)
                if r in w.microwaves and o in w.heatable:
                    cmds[f"heat {oname} with {rname}"] = ("heat", o, r)
                if r in w.fridges and o in w.coolable:
                    cmds[f"cool {oname} with {rname}"] = ("cool", o, r)
                if r in w.sinks and o in w.cleanable:
                    cmds[f"clean {oname} with {rname}"] = ("clean", o, r)
        for o in held:
            cmds[f"examine {names[o]}"] = ("examine_o", o)
            if o in w.knives:
                for co, oloc in s.obj_locs:
                    if oloc == loc and co in w.sliceable:
                        cmds[f"slice {names[co]} with {names[o]}"] = ("slice", co, o)
        return cmds

    # -- effects and feedback --------------------------------------------------------------------------------------
    def _apply(self, action: tuple[str, ...]) -> str:
        game = self._require_game()
        s, names = self.state, game.name
        assert s is not None
        kind = action[0]
        if kind == "goto":
            _, r, lend = action
            s.loc = lend
            where = names[r] if self.grammar == "new" else names[lend]
            return f"You arrive at {where}. {self._describe(r)}"
        if kind == "open":
            r = action[1]
            s.opened.add(r)
            return f"You open the {names[r]}. {self._describe(r)}"
        if kind == "close":
            r = action[1]
            s.opened.discard(r)
            return f"You close the {names[r]}."
        if kind == "take":
            _, o, r = action
            s.take_out(o, r)
            s.held.add(o)
            s.holds_any = True
            s.obj_locs.discard((o, s.loc))
            return f"You pick up the {names[o]} from the {names[r]}."
        if kind == "put":
            _, o, r = action
            s.put_in(o, r)
            s.obj_locs.add((o, s.loc))
            s.held.discard(o)
            s.holds_any = False
            if self.grammar == "new":
                return f"You move the {names[o]} to the {names[r]}."
            return f"You put the {names[o]} in/on the {names[r]}."
        if kind == "heat":
            _, o, r = action
            s.flags["ishot"].add(o)
            s.flags["iscool"].discard(o)
            return f"You heat the {names[o]} using the {names[r]}."
        if kind == "cool":
            _, o, r = action
            s.flags["iscool"].add(o)
            s.flags["ishot"].discard(o)
            return f"You cool the {names[o]} using the {names[r]}."
        if kind == "clean":
            _, o, r = action
            s.flags["isclean"].add(o)
            return f"You clean the {names[o]} using the {names[r]}."
        if kind == "use":
            o = action[1]
            # ToggleObject lists both conditional effects on isOn; TextWorld applies them in order, so isOn ends true.
            s.flags["ison"].add(o)
            s.flags["istoggled"].add(o)
            return f"You turn on the {names[o]}."
        if kind == "slice":
            _, co, ko = action
            s.flags["issliced"].add(co)
            return f"You sliced the {names[co]} with the {names[ko]}."
        if kind == "examine_r":
            return self._describe(action[1])
        if kind == "examine_o":
            return self._examine_object(action[1])
        if kind == "look":
            return self._look(s.loc)
        if kind == "inventory":
            if s.holds_any:
                return f"You are carrying: {join_list([f'a {names[o]}' for o in sorted(s.held)])}."
            return "You are not carrying anything."
        return HELP_TEXT  # "help"

    def _describe(self, r: str) -> str:
        """``examineReceptacle.feedback``: what the agent sees in or on receptacle ``r``."""
        game = self._require_game()
        w, s, names = game.world, self.state, game.name
        assert s is not None
        if r in w.openable:
            if r not in s.opened:
                return f"The {names[r]} is closed."
            items = join_list([f"a {names[o]}" for o in sorted(s.contents.get(r, ()))])
            return f"The {names[r]} is open. In it, you see {items}."
        items = join_list([f"a {names[o]}" for o in sorted(s.contents.get(r, ()))])
        return f"On the {names[r]}, you see {items}."

    def _examine_object(self, o: str) -> str:
        """``examineObject.feedback``: the first grammar rule whose condition holds for held object ``o``."""
        game = self._require_game()
        w, s, names = game.world, self.state, game.name
        assert s is not None
        name = names[o]
        if o in w.receptacle_objects:
            inside = join_list([f"a {names[o2]}" for o2 in w.inner_objects.get(o, ()) if o2 != o])
            return f"This is a normal {name}. In it, you see {inside}."
        f = s.flags
        clean, hot, cool, sliced = o in f["isclean"], o in f["ishot"], o in f["iscool"], o in f["issliced"]
        if sliced:
            if clean and hot:
                return f"This is a hot and clean sliced {name}."
            if clean and cool:
                return f"This is a cool and clean sliced {name}."
            if clean:
                return f"This is a clean sliced {name}."
            if hot:
                return f"This is a hot sliced {name}."
            if cool:
                return f"This is a cool sliced {name}."
        if clean and hot:
            return f"This is a hot and clean {name}."
        if clean and cool:
            return f"This is a cool and clean {name}."
        if hot:
            return f"This is a hot {name}."
        if clean:
            return f"This is a clean {name}."
        if cool:
            return f"This is a cold {name}."
        if o in w.toggleable and o in f["istoggled"]:
            return f"This {name} is on."
        # The grammar's "is off" rule needs a not_istoggled fact, which no action of the domain ever creates.
        if o in w.sliceable and sliced:
            return f"This is a sliced {name}."
        return f"There's nothing special about {name}."

    def _look(self, loc: str | None) -> str:
        """``look.feedback``; ``loc`` is the look action's location, ``None`` for the reset text (no binding)."""
        game = self._require_game()
        w, s, names = game.world, self.state, game.name
        assert s is not None
        here = w.receptacles_at.get(s.loc, ())
        if here:
            facing = join_list([names[r] for r in here])
            floor = []
            for o, oloc in sorted(s.obj_locs):
                if oloc != s.loc:
                    continue
                floor.extend(f"a {names[o]}" for r in here if (o, r) in s.not_in)
            return f"You are facing the {facing}. Next to it, you see {join_list(floor)}."
        if loc is None:
            appliances = [f"a {names[r]}" for r, _ in w.recep_locs]
        else:
            appliances = [f"a {names[r]}" for r in w.receptacles_at.get(loc, ())]
        return f"You are in the middle of a room. Looking quickly around you, you see {join_list(appliances)}."
