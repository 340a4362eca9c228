"""One leaderboard for every method on every env, in the layout of the SDAR paper's main table.

Rows are agents: the reference agents (``random``: uniform over the admissible actions, or a random well-formed
action where the action space is free text; ``expert``: ``info["expert_action"]``; both from
:mod:`sdar_envs.agents`), a zero-shot model (``--model``, default ``tiny``), the same model with skills in its prompt
(skill-bank keyword retrieval, rendered after the ``[Privileged Skill Information]`` header), and any trained runs
(``--runs DIR ...``, `sdar train` output directories; the row is the run's method, the env the one it was trained
on). Columns, per env present:

* ALFWorld (``eval_out_of_distribution`` in the main table, ``eval_in_distribution`` in a second one): success %
  per task type (Pick, Look, Clean, Heat, Cool, Pick2) and the average over all episodes (the paper's ALF Avg);
* Search-QA (``test``): exact match % per ``data_source``, in-domain (ID) and out-of-domain (OOD) marked, and the
  unweighted mean over sources (the paper's SQA Avg);
* WebShop (``test_128``, the fixed 128-goal subset): mean score x 100 and success %.

Each cell is ``mean [low, high] (n)`` (the interval rule: :mod:`sdar_agent.leaderboard.stats`); ``n`` is the number
of episodes behind the cell, all seeds together. Runs sharing a label (``LABEL=DIR``, or the same method) share a
row. Results are cached per (agent, env, split, seed) under ``OUT/cells/``; an interrupted run continues with the
cells still missing. Writes ``leaderboard.md``, ``leaderboard.csv`` and ``leaderboard.png``.

Modules: :mod:`~sdar_agent.leaderboard.envs` (the envs and their columns), :mod:`~sdar_agent.leaderboard.agents`
(the rows), :mod:`~sdar_agent.leaderboard.cells` (evaluation and cache), :mod:`~sdar_agent.leaderboard.stats`
(intervals, aggregation), :mod:`~sdar_agent.leaderboard.report` (Markdown, CSV, PNG),
:mod:`~sdar_agent.leaderboard.quick` (the ``--quick`` training runs), :mod:`~sdar_agent.leaderboard.cli` (options,
:func:`main`). Run it as ``sdar leaderboard ...`` or ``python benchmarks/leaderboard.py ...``.
"""

from sdar_agent.leaderboard.agents import BoardAgent, reference_agents, run_agent
from sdar_agent.leaderboard.cells import (
    EvalSettings,
    cell_path,
    cell_settings,
    evaluate_cell,
    play_scripted,
    run_cells,
)
from sdar_agent.leaderboard.cli import build_parser, main
from sdar_agent.leaderboard.envs import ENVS, BoardEnv, available_splits, columns_for
from sdar_agent.leaderboard.report import machine_description, render_markdown, write_csv, write_figure
from sdar_agent.leaderboard.stats import Cell, aggregate, t_quantile, wilson_interval

__all__ = [
    "ENVS",
    "BoardAgent",
    "BoardEnv",
    "Cell",
    "EvalSettings",
    "aggregate",
    "available_splits",
    "build_parser",
    "cell_path",
    "cell_settings",
    "columns_for",
    "evaluate_cell",
    "machine_description",
    "main",
    "play_scripted",
    "reference_agents",
    "render_markdown",
    "run_agent",
    "run_cells",
    "t_quantile",
    "wilson_interval",
    "write_csv",
    "write_figure",
]
