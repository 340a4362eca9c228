"""ALFWorld on the real engine (``alfworld`` + TextWorld's PDDL env) with games the package generates itself.

Modules: :mod:`~sdar_envs.alfworld.games` (the seeded game generator), :mod:`~sdar_envs.alfworld.manifest` (the
committed lists of solvable seeds), :mod:`~sdar_envs.alfworld.cache` (games written on demand),
:mod:`~sdar_envs.alfworld.official` (the official ``json_2.1.1`` files), :mod:`~sdar_envs.alfworld.grammar` (new and
old command sets), :mod:`~sdar_envs.alfworld.engine` (TextWorld ``PddlEnv`` + alfworld wrappers),
:mod:`~sdar_envs.alfworld.expert` (alfworld's hand-coded expert), :mod:`~sdar_envs.alfworld.verifier` and
:mod:`~sdar_envs.alfworld.env` (``sdar/ALFWorld-v0``).
"""
