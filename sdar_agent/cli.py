"""The ``sdar`` command: ``sdar train``, ``sdar sft``, ``sdar eval``, ``sdar plot``, ``sdar leaderboard``.

Examples::

    sdar train --env webshop --method grpo --model tiny --steps 2 --tasks-per-step 2 --group-size 2
    sdar train --config run.yaml --lr 2e-6            # flags override the YAML file, which overrides defaults
    sdar train --env searchqa --method sdar --skill-strategy ucb --gate soft_or --gate-beta 5 --sd-coef 0.01
    sdar sft --env searchqa --model small --episodes 3000 --output-dir runs/sft-sqa   # warm start on expert demos
    sdar train --env searchqa --model runs/sft-sqa/model --method grpo               # RL from the warm start
    sdar eval --model runs/sdar/model --env alfworld --split eval_out_of_distribution
    sdar eval --model runs/sdar/model --env searchqa --split test --rollout-engine hf  # vLLM is the default engine
    sdar eval --model runs/sft-sqa/model --env searchqa --split test --context reference  # policy + context row
    sdar train --env searchqa --method sdar --teacher-context reference --context-quality random
    sdar sft --env searchqa --context-fraction 0.5    # half the turns again, with the gold passages in front
    sdar plot runs/sdar
    sdar leaderboard --runs runs/grpo runs/sdar --seeds 3  # the paper's main table (see sdar_agent.leaderboard)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from sdar_agent.config import ENGINES, ENV_IDS, TrainConfig, field_types, load_config, resolve_env_id
from sdar_envs.core import CONTEXT_QUALITIES

__all__ = ["build_parser", "main"]


def _add_config_arguments(parser: argparse.ArgumentParser, cls: type = TrainConfig) -> None:
    """One flag per field of the config dataclass ``cls`` (values parsed by :func:`load_config`)."""
    parser.add_argument("--config", help="YAML file of config keys (flags override it)")
    types = field_types(cls)
    for item in dataclasses.fields(cls):
        flag = "--" + item.name.replace("_", "-")
        default = item.default if item.default is not dataclasses.MISSING else item.default_factory()  # type: ignore[misc]
        kind = types[item.name]
        help_text = f"{item.metadata.get('help', '')} (default: {default})"
        if item.name == "method":
            help_text += "; see sdar_agent.methods.METHODS"
        # Values stay strings here; load_config parses them to the field's type, so YAML and flags agree.
        extra = {"nargs": "?", "const": "true"} if kind is bool else {}  # `--resume` alone means true
        metavar = getattr(kind, "__name__", str(kind)).replace("typing.", "").upper()
        parser.add_argument(flag, dest=item.name, default=None, help=help_text, metavar=metavar, **extra)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sdar", description="Train and evaluate LLM agents on the sdar envs.")
    commands = parser.add_subparsers(dest="command", required=True)

    train = commands.add_parser("train", help="train a policy (GRPO and the other methods)")
    _add_config_arguments(train)

    from sdar_agent.sft import SFTConfig

    supervised = commands.add_parser(
        "sft", help="supervised fine-tuning on expert demonstrations (the warm start for RL)"
    )
    _add_config_arguments(supervised, SFTConfig)

    evaluate = commands.add_parser("eval", help="evaluate a policy on a split: success overall and per task type")
    evaluate.add_argument("--model", required=True, help="'tiny', an alias, or a model directory (a run's model/)")
    evaluate.add_argument("--gguf-file", default=None, help="GGUF file name inside --model")
    evaluate.add_argument("--env", required=True, help=f"one of {', '.join(ENV_IDS)} or a Gymnasium id")
    evaluate.add_argument("--split", required=True, help="task split, e.g. eval_out_of_distribution")
    evaluate.add_argument("--num-tasks", type=int, default=None, help="first N tasks of the split (default: all)")
    evaluate.add_argument(
        "--temperature",
        type=float,
        default=None,
        help="sampling temperature (default: 0.4 ALFWorld/WebShop, greedy Search-QA)",
    )
    evaluate.add_argument("--batch-size", type=int, default=32, help="tasks per generation batch")
    evaluate.add_argument("--repeats", type=int, default=1, help="episodes per task")
    evaluate.add_argument("--max-response-tokens", type=int, default=512, help="reply token limit per turn")
    evaluate.add_argument("--max-turns", type=int, default=None, help="episode step limit (default: the env's)")
    evaluate.add_argument("--skills-file", default=None, help="show this skill text before every prompt")
    evaluate.add_argument(
        "--skill-strategy",
        default=None,
        help="show skills from the skill bank before every prompt (keyword, ucb, full, random, adversarial), "
        "as a skill_grpo policy was trained",
    )
    evaluate.add_argument("--skill-k", type=int, default=None, help="skills per task with --skill-strategy")
    evaluate.add_argument(
        "--context",
        default="none",
        choices=("none", "reference"),
        help="reference: show the env's privileged context of each task before every prompt, as the teacher of "
        "--teacher-context reference reads it (the 'policy + context' row)",
    )
    evaluate.add_argument(
        "--context-quality",
        default=None,
        choices=CONTEXT_QUALITIES,
        help="with --context reference: the task's own context, another task's or a plausible wrong one "
        "(default: informative)",
    )
    evaluate.add_argument("--seed", type=int, default=0, help="sampling and reset seed")
    evaluate.add_argument(
        "--env-kwargs", default=None, help='JSON object of gymnasium.make arguments, e.g. \'{"transport": "inproc"}\''
    )
    evaluate.add_argument(
        "--torch-threads", type=int, default=0, help="CPU threads of the process, vLLM generation included (0: default)"
    )
    evaluate.add_argument(
        "--rollout-engine",
        default="auto",
        choices=ENGINES,
        help="what samples replies: vllm (colocated), hf (transformers generate) or auto (vllm where installed)",
    )
    evaluate.add_argument("--output", default=None, help="also write the result JSON here")

    plot = commands.add_parser("plot", help="write training-curve PNGs of a run")
    plot.add_argument("run_dir", help="a `sdar train` output directory (holds metrics.jsonl)")

    from sdar_agent.leaderboard.cli import DESCRIPTION, add_arguments

    board = commands.add_parser(
        "leaderboard", help="evaluate agents and trained runs on every env (the paper's table)", description=DESCRIPTION
    )
    add_arguments(board)
    return parser


def _train(args: argparse.Namespace) -> int:
    from sdar_agent.trainer import train

    overrides = {k: v for k, v in vars(args).items() if k not in ("command", "config") and v is not None}
    config = load_config(args.config, overrides)
    history = train(config)
    if history:
        last = history[-1]
        print(json.dumps({k: last[k] for k in ("step", "return", "success", "invalid_rate") if k in last}))
    print(f"run written to {config.output_dir}")
    return 0


def _sft(args: argparse.Namespace) -> int:
    from sdar_agent.sft import SFTConfig, sft

    overrides = {k: v for k, v in vars(args).items() if k not in ("command", "config") and v is not None}
    config = load_config(args.config, overrides, cls=SFTConfig)
    history = sft(config)
    last = history[-1] if history else {}
    print(json.dumps({k: v for k, v in last.items() if k in ("step", "loss") or k.startswith("eval/")}))
    print(f"run written to {config.output_dir}; the policy is in {config.output_dir}/model")
    return 0


def _json_object(text: str | None, flag: str) -> dict:
    """``text`` parsed as a JSON object (``{}`` when unset); a ``ValueError`` naming ``flag`` otherwise."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f'{flag} must be a JSON object, e.g. \'{{"transport": "inproc"}}\' ({error})') from None
    if not isinstance(value, dict):
        raise ValueError(f'{flag} must be a JSON object, e.g. \'{{"transport": "inproc"}}\', got {text!r}')
    return value


def _eval(args: argparse.Namespace) -> int:
    import torch

    from sdar_agent.evaluation import evaluate
    from sdar_agent.policy import load_policy

    if args.torch_threads > 0:
        torch.set_num_threads(args.torch_threads)
    torch.manual_seed(args.seed)
    env_kwargs = _json_object(args.env_kwargs, "--env-kwargs")
    chosen = {
        "--skills-file": bool(args.skills_file),
        "--skill-strategy": bool(args.skill_strategy),
        "--context reference": args.context == "reference",
    }
    shown = [name for name, on in chosen.items() if on]
    if len(shown) > 1:
        raise ValueError(f"{' and '.join(shown)} each choose the text shown before the prompt; pass one of them")
    if args.context_quality is not None and args.context != "reference":
        raise ValueError("--context-quality applies with --context reference only")
    quality = args.context_quality or "informative"
    policy = load_policy(args.model, gguf_file=args.gguf_file)
    skills = None
    context = None
    if args.context == "reference":
        from sdar_agent.privileged import ContextProvider

        skills = context = ContextProvider(args.env, args.split, quality, env_kwargs)
    elif args.skills_file:
        text = Path(args.skills_file).read_text()
        skills = lambda task: text  # noqa: E731
    elif args.skill_strategy:
        from sdar_agent.teacher import SkillProvider
        from skillbank import SkillBank

        skills = SkillProvider(SkillBank(seed=args.seed), args.skill_strategy, args.skill_k)
    try:
        result = evaluate(
            policy,
            resolve_env_id(args.env),
            split=args.split,
            num_tasks=args.num_tasks,
            temperature=args.temperature,
            batch_size=args.batch_size,
            max_new_tokens=args.max_response_tokens,
            max_turns=args.max_turns,
            seed=args.seed,
            repeats=args.repeats,
            skills=skills,
            env_kwargs=env_kwargs,
            engine=args.rollout_engine,
        )
    finally:
        if context is not None:
            context.close()
    result["context"] = args.context
    if context is not None:
        result["context_quality"] = quality
    text = json.dumps(result, indent=2)
    print(text)
    if args.output:
        Path(args.output).write_text(text + "\n")
    return 0


def _plot(args: argparse.Namespace) -> int:
    from sdar_agent.plot import plot_run

    for path in plot_run(args.run_dir):
        print(path)
    return 0


def _leaderboard(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    from sdar_agent.leaderboard.cli import run

    # the command as typed goes into the leaderboard's Markdown
    return run(args, ["sdar", *(sys.argv[1:] if argv is None else argv)])


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sdar`` command."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "leaderboard":
            return _leaderboard(args, argv)
        return {"train": _train, "sft": _sft, "eval": _eval, "plot": _plot}[args.command](args)
    except (FileNotFoundError, ValueError, ModuleNotFoundError) as error:
        print(f"sdar {args.command}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
