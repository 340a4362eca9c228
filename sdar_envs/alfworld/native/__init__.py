"""A pure-Python ALFWorld engine that plays the same ``game.tw-pddl`` files as the TextWorld engine, with the same text.

``NativeEngine(grammar)`` has the TextWorld engine's interface (``load``, ``reset``, ``step``); see
``docs/alfworld_native.md`` for what it reproduces and how identity with the TextWorld engine is tested.
"""

from sdar_envs.alfworld.native.engine import GRAMMARS, NativeEngine, NativeGame

__all__ = ["GRAMMARS", "NativeEngine", "NativeGame"]
