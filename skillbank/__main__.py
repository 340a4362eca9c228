"""Command line: ``python -m skillbank show|list``.

``show`` prints exactly what a teacher would see prepended to its prompt for one task::

    python -m skillbank show --env alfworld --task-type pick_heat_then_place
    python -m skillbank show --env searchqa --data-source hotpotqa --instruction "Where was the founder of X born?"
    python -m skillbank show --env webshop --instruction "i need gluten free cookies, pack of 6" --strategy ucb --k 3

``list`` prints the skill ids, their task types and titles (optionally for one env).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from skillbank.action_syntax import ENVS
from skillbank.render import render
from skillbank.retrieval import STRATEGIES, SkillBank
from skillbank.skill import SkillDataError
from skillbank.task import TaskRecord
from skillbank.task_types import task_family


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m skillbank", description="Inspect the SDAR teacher's skills.")
    sub = parser.add_subparsers(dest="command", required=True)
    show = sub.add_parser("show", help="print the privileged prefix a teacher would see for one task")
    show.add_argument("--env", required=True, choices=ENVS)
    show.add_argument("--task-type", default="", help="ALFWorld task type, WebShop category or Search-QA family")
    show.add_argument("--data-source", default="", help="Search-QA data source (nq, hotpotqa, single_hop, ...)")
    show.add_argument("--instruction", default="", help="the task text (goal, shopping instruction or question)")
    show.add_argument("--strategy", default="keyword", choices=STRATEGIES)
    show.add_argument("--k", type=int, default=None, help="number of skills (default: the strategy's own size)")
    show.add_argument("--seed", type=int, default=0)
    show.add_argument("--state", default=None, help="a saved bandit state (JSON) to load before retrieving")
    show.add_argument("--ids", action="store_true", help="also print the chosen skill ids and the task family")
    lst = sub.add_parser("list", help="list the skills")
    lst.add_argument("--env", choices=ENVS, default=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 on bad input, with the reason on stderr)."""
    args = _parser().parse_args(argv)
    try:
        bank = SkillBank(seed=getattr(args, "seed", 0))
        if args.command == "list":
            for skill in bank.skills:
                if args.env is None or skill.env == args.env:
                    tags = ",".join(skill.task_types) or "keywords only"
                    print(f"{skill.id}\t[{tags}]\t{skill.title}")
            return 0
        if args.state is not None:
            bank.load_state(args.state)
        task = TaskRecord(
            env=args.env, task_type=args.task_type, data_source=args.data_source, instruction=args.instruction
        )
        skills = bank.retrieve(task, args.strategy, args.k)
    except (ValueError, KeyError, FileNotFoundError, SkillDataError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if args.ids:
        print(f"# family: {task_family(task) or '(unknown)'}", file=sys.stderr)
        print(f"# skills: {', '.join(s.id for s in skills) or '(none)'}", file=sys.stderr)
    if not skills:
        print("(no skills selected: the teacher's prompt would equal the student's)", file=sys.stderr)
        return 0
    sys.stdout.write(render(skills))
    return 0


if __name__ == "__main__":
    sys.exit(main())
