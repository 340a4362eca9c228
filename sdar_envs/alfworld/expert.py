"""ALFWorld's hand-coded expert (``alfworld.agents.expert.HandCodedTWAgent``) driven next to an episode.

This reproduces what upstream's ``AlfredExpert`` wrapper (``alfworld/agents/environment/alfred_tw_env.py``) does,
with three differences that make it usable inside a Gymnasium env:

* Determinism: the upstream expert draws from the global ``random`` module (which object to take, a random
  admissible command when it repeats itself). Each :class:`Expert` owns its own seeded generator and swaps it in
  only for the duration of a call, so two envs in one process do not disturb each other or the user's ``random``.
* Failure is a value: when the expert gives up (``HandCodedAgentFailed``) or times out (200 steps), the next
  action is ``None`` instead of an exception.
* The grammars: the expert reasons in the new command set (``move O to R``). Under ``grammar="old"`` it sees the
  admissible ``put O in/on R`` commands as ``move O to R`` and its answer is translated back.
* One upstream bug fixed: the expert recognises a placement by the word ``put`` in its previous command, so under
  the new grammar (``move O to R``) it never empties its inventory record and fails every pick_two game. It is
  always shown its previous command in the ``put O in/on R`` form.

Upstream semantics kept: the first suggestion after a reset is ``look``; an expert command that is not admissible
is replaced by ``look``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

from alfworld.agents.expert import HandCodedTWAgent

__all__ = ["EXPERT_MAX_STEPS", "Expert"]

#: Step budget of the expert (upstream ``AlfredExpert`` uses ``HandCodedTWAgent(max_steps=200)``).
EXPERT_MAX_STEPS = 200

_OLD_PUT = re.compile(r"^put (.+) in/on (.+)$")
_NEW_MOVE = re.compile(r"^move (.+) to (.+)$")


def _old_to_new(command: str) -> str:
    return _OLD_PUT.sub(r"move \1 to \2", command)


def _new_to_old(command: str) -> str:
    return _NEW_MOVE.sub(r"put \1 in/on \2", command)


class Expert:
    """The hand-coded expert following one episode of one game.

    Args:
        gamefile: the game's ``game.tw-pddl`` path; the expert reads ``traj_data.json`` beside it.
        seed: seed of the expert's private random generator.
        grammar: ``"new"`` or ``"old"``, the command set the episode uses.
    """

    def __init__(self, gamefile: str, *, seed: int, grammar: str = "new") -> None:
        self._rng = random.Random(seed)
        self._old = grammar == "old"
        self._agent = HandCodedTWAgent(max_steps=EXPERT_MAX_STEPS)
        self._failed = False
        self._with_rng(self._agent.reset, gamefile)

    def _with_rng(self, fn: Any, *args: Any) -> Any:
        saved = random.getstate()
        random.setstate(self._rng.getstate())
        try:
            return fn(*args)
        finally:
            self._rng.setstate(random.getstate())
            random.setstate(saved)

    def start(self, feedback: str) -> str | None:
        """Observe the reset text; return the first suggestion (always ``look``, as upstream)."""
        self._with_rng(self._agent.observe, feedback)
        return "look"

    def next_action(self, state: Mapping[str, Any], last_command: str, admissible: Sequence[str]) -> str | None:
        """The expert's next command after ``last_command`` led to ``state`` (``None`` once it has given up).

        ``state`` needs ``feedback``, ``facts`` (with human-readable names), ``won``; ``admissible`` is the
        engine's admissible command list in the episode's grammar.
        """
        if self._failed:
            return None
        view = dict(state)
        if self._old:
            admissible = [_old_to_new(c) for c in admissible]
        view["admissible_commands"] = list(admissible)
        # The expert tracks what it holds by the word "put" in its last command (handcoded_expert.py,
        # update_state_tracking), which the new grammar's "move O to R" lacks: upstream 0.4.2's expert then never
        # drops the first object from its inventory and cannot solve pick_two. It is shown the old form.
        tracked = _new_to_old(last_command)
        try:
            action = self._with_rng(self._agent.act, view, 0, view.get("won", False), tracked)
        except Exception:  # upstream treats any expert error as "cannot solve" (alfworld-generate is_solvable)
            self._failed = True
            return None
        if action not in admissible:
            action = "look"
        return _new_to_old(action) if self._old else action


def solve(
    gamefile: str, *, seed: int, max_steps: int = 50, grammar: str = "new", engine: Any = None
) -> list[str] | None:
    """Play ``gamefile`` with the expert on the TextWorld engine; return its walkthrough if it wins within
    ``max_steps`` commands, else ``None`` (the check ``alfworld-generate`` runs, with a step cap added so every
    shipped game is solvable under the env's default limit of 50 steps).

    ``engine``: a :class:`~sdar_envs.alfworld.engine.TextWorldEngine` of ``grammar`` to reuse (it loads the game and
    stays open). Reuse it when solving many games in one process: every new TextWorld engine maps its own copy of
    Fast Downward's library (33 MB of disk, from a deleted temporary file) that is only given back when the process
    ends.
    """
    from sdar_envs.alfworld.engine import TextWorldEngine

    own = engine is None
    if engine is None:
        engine = TextWorldEngine(grammar)
    try:
        engine.load(gamefile)
        state = engine.reset()
        expert = Expert(gamefile, seed=seed, grammar=grammar)
        action = expert.start(state["feedback"])
        walkthrough: list[str] = []
        while action is not None and len(walkthrough) < max_steps:
            state = engine.step(action)
            walkthrough.append(action)
            if state["won"]:
                return walkthrough
            action = expert.next_action(state, action, state["admissible_commands"])
        return None
    finally:
        if own:
            engine.close()
