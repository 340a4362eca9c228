"""The leaderboard's command line: ``sdar leaderboard ...`` and ``python benchmarks/leaderboard.py ...``.

Examples::

    python benchmarks/leaderboard.py --quick                      # make demo: GRPO + SDAR briefly (tiny, from SFT)
    python benchmarks/leaderboard.py --runs runs/grpo runs/sdar --model runs/base/model --seeds 3
    sdar leaderboard --envs searchqa --agents random expert --per-group 50
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from sdar_agent.config import ENGINES
from sdar_agent.leaderboard.agents import REFERENCE_AGENTS, BoardAgent, reference_agents, run_agent
from sdar_agent.leaderboard.cells import EvalSettings, run_cells
from sdar_agent.leaderboard.envs import ENVS, BoardEnv, available_splits
from sdar_agent.leaderboard.quick import quick_note, quick_runs
from sdar_agent.leaderboard.report import (
    load_average,
    machine_description,
    render_markdown,
    write_csv,
    write_figure,
)
from sdar_agent.leaderboard.stats import aggregate

__all__ = ["DESCRIPTION", "add_arguments", "build_parser", "main", "run"]

DESCRIPTION = "One leaderboard for every method on every env, in the layout of the SDAR paper's main table."
_DEFAULT_OUT = "runs/leaderboard"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The leaderboard's options (shared by its script and the ``sdar leaderboard`` subcommand)."""
    parser.add_argument("--out", default=_DEFAULT_OUT, help="output dir: cells/ cache, tables, figure, runs/")
    parser.add_argument("--runs", nargs="*", default=[], metavar="[LABEL=]DIR", help="trained run directories")
    parser.add_argument("--model", default="tiny", help="zero-shot model: tiny, an alias, a directory or a model id")
    parser.add_argument("--gguf-file", default=None, help="GGUF file inside --model")
    parser.add_argument(
        "--agents",
        nargs="*",
        default=list(REFERENCE_AGENTS),
        choices=list(REFERENCE_AGENTS),
        help="reference rows (default: all four)",
    )
    parser.add_argument("--envs", nargs="*", default=list(ENVS), choices=list(ENVS), help="envs (default: all present)")
    parser.add_argument("--seeds", type=int, default=None, help="seeds per cell (default 3; --quick 2)")
    parser.add_argument("--per-group", type=int, default=None, help="tasks per task type/data source (default: all)")
    parser.add_argument("--max-response-tokens", type=int, default=None, help="reply token limit (default 512)")
    parser.add_argument(
        "--max-prompt-tokens", type=int, default=None, help="prompt token limit (default 4096 - reply limit)"
    )
    parser.add_argument(
        "--skills-k", type=int, default=None, help="skills shown per task (default: every relevant one; --quick: 2)"
    )
    parser.add_argument("--batch-size", type=int, default=32, help="episodes per generation batch")
    parser.add_argument(
        "--torch-threads", type=int, default=1, help="CPU threads of the process, vLLM generation included (0: default)"
    )
    parser.add_argument(
        "--rollout-engine",
        default="auto",
        choices=ENGINES,
        help="what samples model replies (evaluation and --quick training): vllm, hf or auto (vllm where installed)",
    )
    parser.add_argument("--report", default=None, help="path prefix of the .md/.csv/.png (default: OUT/leaderboard)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="train tiny GRPO and SDAR runs for 3 steps per env, and GRPO and SDAR for 5 steps from the shipped "
        "ALFWorld warm start; evaluate on small subsets (2-core CPU, about 10 min)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def build_parser(prog: str = "leaderboard") -> argparse.ArgumentParser:
    """The parser of ``benchmarks/leaderboard.py``."""
    parser = argparse.ArgumentParser(
        prog=prog, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_arguments(parser)
    return parser


def _env_specs(names: Sequence[str], quick: bool) -> tuple[list[BoardEnv], dict[str, str]]:
    """The envs among ``names`` with the splits that can be made here (``--quick``: its splits only), and the reason
    for each ``env/split`` that cannot."""
    unavailable: dict[str, str] = {}
    specs = []
    for name in names:
        splits, reasons = available_splits(ENVS[name])
        for split, reason in reasons.items():
            unavailable[f"{name}/{split}"] = reason
            print(f"{name}/{split}: not available ({reason})", file=sys.stderr)
        if quick and ENVS[name].quick_splits is not None:
            splits = [s for s in splits if s in ENVS[name].quick_splits]
        if splits:
            specs.append(dataclasses.replace(ENVS[name], splits=tuple(splits)))
    return specs, unavailable


def _settings(args: argparse.Namespace, specs: Sequence[BoardEnv]) -> EvalSettings:
    """Eval settings from the options (``--quick``: replies <= 32 tokens, its step limits)."""
    max_new_tokens = args.max_response_tokens or (32 if args.quick else 512)
    return EvalSettings(
        per_group=args.per_group,
        max_turns={s.name: s.quick_max_turns for s in specs} if args.quick else {},
        max_new_tokens=max_new_tokens,
        # default: prompt + reply within 4096 positions (the tiny model's context; the trainer's prompt limit)
        max_prompt_tokens=args.max_prompt_tokens or 4096 - max_new_tokens,
        batch_size=args.batch_size,
        rollout_engine=args.rollout_engine,
    )


def _evaluate(
    args: argparse.Namespace,
    out: Path,
    agents: Sequence[BoardAgent],
    specs: Sequence[BoardEnv],
    seeds: Sequence[int],
    settings: EvalSettings,
) -> list[dict]:
    """Every cell, env by env (``--quick`` without ``--per-group``: each env's quick subset)."""
    results = []
    for spec in specs:
        per_group = settings.per_group
        if per_group is None and args.quick:
            per_group = spec.quick_per_group
        env_settings = dataclasses.replace(settings, per_group=per_group)
        results += run_cells(out, agents, [spec], seeds, env_settings, progress=not args.no_progress)
    return results


def _header(command: str, wall: float, seeds: int, load_at_start: str) -> str:
    return "\n".join(
        [
            "# Leaderboard",
            "",
            f"Command: `{command}`",
            "",
            f"Machine: {machine_description()}; wall time of this invocation {wall:.0f} s (cached cells are not "
            f"re-run); load average {load_at_start} at the start, {load_average()} at the end.",
            "",
            "Cells: `mean [95% interval] (episodes)` in percent; "
            + f"{seeds} seed(s); see `docs/leaderboard.md` for the interval rule.",
            "",
            "",
        ]
    )


def run(args: argparse.Namespace, command_line: Sequence[str]) -> int:
    """Evaluate and write the leaderboard for parsed ``args``; ``command_line`` is recorded in the Markdown."""
    started, load_at_start = time.perf_counter(), load_average()
    if args.torch_threads > 0:
        import torch

        torch.set_num_threads(args.torch_threads)
    out = Path("runs/leaderboard-quick" if args.quick and args.out == _DEFAULT_OUT else args.out)
    out.mkdir(parents=True, exist_ok=True)
    specs, unavailable = _env_specs(args.envs, args.quick)
    if not specs:
        print("no env could be made; see the reasons above", file=sys.stderr)
        return 2
    settings = _settings(args, specs)
    skills_k = args.skills_k if args.skills_k is not None else (2 if args.quick else None)
    agents = reference_agents(args.agents, args.model, args.gguf_file, skills_k) + [run_agent(r) for r in args.runs]
    notes: list[str] = []
    if args.quick:
        trained, quick_notes = quick_runs(out, specs, settings, skills_k)
        agents += trained
        notes += quick_notes
    seeds = list(range(args.seeds if args.seeds is not None else (2 if args.quick else 3)))
    table = aggregate(_evaluate(args, out, agents, specs, seeds, settings), specs)
    wall = time.perf_counter() - started
    if args.quick:
        notes.append(quick_note(specs, skills_k))
    markdown = _header(" ".join(shlex.quote(a) for a in command_line), wall, len(seeds), load_at_start)
    markdown += render_markdown(table, agents, specs, unavailable=unavailable, notes=notes)
    markdown = markdown.replace(str(Path.cwd()) + os.sep, "")  # repository-relative paths in the reasons
    prefix = Path(args.report) if args.report else out / "leaderboard"
    prefix.parent.mkdir(parents=True, exist_ok=True)
    prefix.with_suffix(".md").write_text(markdown)
    write_csv(prefix.with_suffix(".csv"), table)
    write_figure(prefix.with_suffix(".png"), table, agents, specs)
    print(markdown)
    print(f"wrote {prefix.with_suffix('.md')}, .csv, .png in {wall:.1f} s")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``benchmarks/leaderboard.py`` (``argv``: its arguments, default ``sys.argv[1:]``)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(arguments)
    return run(args, ["python", "benchmarks/leaderboard.py", *arguments])
