"""The TextWorld engine that plays ALFWorld games: ``textworld.envs.PddlEnv`` with alfworld's own wrappers.

This is the stack upstream's ``AlfredTWEnv`` builds (``alfworld/agents/environment/alfred_tw_env.py``):
``PddlEnv`` -> ``AlfredDemangler`` (THOR ids to ``"apple 1"`` names) -> ``AlfredInfos`` (the game file in the
state), asked for ``won``, ``admissible_commands`` and ``facts`` (the expert reads the facts). The engine
is selected by name (``engine="textworld"``) so that another implementation of :class:`TextWorldEngine`'s small
interface (``load``, ``reset``, ``step``) can stand beside it.

Cost on 2 cores (see ``benchmarks/results/alfworld.md``): ``load`` + ``reset`` each run Fast Downward's PDDL to SAS
translation of the problem (about a second together); ``step`` re-derives every admissible command through the
grammar (about 0.1 s).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import textworld
from alfworld.agents.environment.alfred_tw_env import AlfredDemangler, AlfredInfos
from textworld.envs import PddlEnv

from sdar_envs.alfworld.grammar import to_grammar
from sdar_envs.alfworld.native.engine import read_game_file

__all__ = ["ENGINES", "EngineState", "TextWorldEngine", "make_engine"]

#: Engine names ``ALFWorldEnv(engine=...)`` accepts.
ENGINES: tuple[str, ...] = ("textworld", "native")

#: What a reset or step returns: ``feedback`` (str), ``admissible_commands`` (sorted list[str], ``help`` included
#: under the new grammar), ``won`` (bool), ``facts`` (textworld Propositions with demangled names).
EngineState = Mapping[str, Any]


class TextWorldEngine:
    """One TextWorld ``PddlEnv`` game session with alfworld's ``AlfredDemangler`` and ``AlfredInfos``.

    Args:
        grammar: ``"new"`` (``move O to R``) or ``"old"`` (``put O in/on R``); see :mod:`sdar_envs.alfworld.grammar`.
    """

    name = "textworld"

    def __init__(self, grammar: str = "new") -> None:
        self.grammar = grammar
        infos = textworld.EnvInfos(won=True, admissible_commands=True, facts=True, extras=["gamefile"])
        self._env = AlfredInfos(AlfredDemangler(PddlEnv(infos), shuffle=False))
        self.gamefile: str | None = None

    def load(self, gamefile: str | Path) -> None:
        """Load a ``game.tw-pddl`` file, rewriting its domain and grammar text to this engine's grammar."""
        data = read_game_file(gamefile)
        data["pddl_domain"], data["grammar"] = to_grammar(data["pddl_domain"], data["grammar"], self.grammar)
        argv = sys.argv  # fast_downward's pddl2sas overwrites sys.argv (fast_downward/interface.py): restore it
        try:
            self._env.load(data)
        finally:
            sys.argv = argv
        self.gamefile = str(gamefile)

    def reset(self) -> EngineState:
        argv = sys.argv
        try:
            return self._env.reset()
        finally:
            sys.argv = argv

    def step(self, command: str) -> EngineState:
        state, _, _ = self._env.step(command)
        return state

    def close(self) -> None:
        self._env.close()


def make_engine(engine: str, grammar: str) -> Any:
    """The engine named ``engine`` (one of :data:`ENGINES`) using ``grammar``: ``"textworld"`` (this module) or
    ``"native"`` (:class:`sdar_envs.alfworld.native.NativeEngine`, pure Python, same text)."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if engine == "native":
        from sdar_envs.alfworld.native import NativeEngine

        return NativeEngine(grammar)
    return TextWorldEngine(grammar)
