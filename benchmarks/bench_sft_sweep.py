"""Sweep of the ``small`` recipe: which tokenizer, loss, size, layout and learning rate make SFT learn here.

Each cell is one ``sdar sft`` run (resumable: rerunning continues every unfinished cell from its checkpoint) under
``--work``; the summary table lists, per cell, the training tokens and wall-clock so far and every held-out
evaluation (success, invalid-reply rate) logged on the way::

    python benchmarks/bench_sft_sweep.py --env searchqa                 # run (or continue) every cell, then summarise
    python benchmarks/bench_sft_sweep.py --env searchqa --summarize-only  # summarise what the runs logged so far
    python benchmarks/bench_sft_sweep.py --quick --work /tmp/sweep        # two tiny cells (CI)

Results: ``benchmarks/results/sft_sweep_<env>.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from sdar_agent.leaderboard.report import load_average, machine_description
from sdar_agent.sft import SFTConfig, SFTTrainer

#: Cells: name -> SFTConfig fields (on top of BASE). Names are run directories under --work/<env>.
CELLS: dict[str, dict] = {
    "small-none": {"small_pre_tokenizer": "none"},
    "small-words-reply": {"small_pre_tokenizer": "words"},
    "small-words-env": {"small_pre_tokenizer": "words", "env_text_coef": 1.0},
    "small-words-env-lr3e-3": {"small_pre_tokenizer": "words", "env_text_coef": 1.0, "lr": 3e-3},
    "medium-words-env": {"small_pre_tokenizer": "words", "env_text_coef": 1.0, "small_hidden": 384, "small_layers": 6},
    "small-words-env-episode": {"small_pre_tokenizer": "words", "env_text_coef": 1.0, "layout": "episode"},
}
BASE: dict = {"model": "small", "epochs": 10.0, "batch_size": 32, "lr": 1e-3, "eval_every": 250, "eval_tasks": 100}
EPISODES = {"searchqa": 4000, "webshop": 1100, "alfworld": 3000}
ENV_KWARGS = {"webshop": {"transport": "inproc"}}
QUICK = {"model": "tiny", "epochs": 1.0, "batch_size": 4, "eval_every": 1, "eval_tasks": 2, "eval_max_turns": 2}


def cell_config(env: str, name: str, work: Path, quick: bool, threads: int) -> SFTConfig:
    values = {**BASE, **CELLS[name], "env": env, "episodes": 6 if quick else EPISODES[env]}
    values.update({"env_kwargs": ENV_KWARGS.get(env, {}), "output_dir": str(work / env / name), "progress": False})
    values["torch_threads"] = threads
    if quick:
        values.update(QUICK)
        values = {k: v for k, v in values.items() if not k.startswith("small_")}
    return SFTConfig(**values)


def run_cell(config: SFTConfig) -> None:
    out = Path(config.output_dir)
    if (out / "model" / "config.json").is_file():
        return
    resume = any((out / "checkpoints").glob("step_*"))
    SFTTrainer(SFTConfig(**{**vars(config), "resume": resume})).fit()


def summarise(env: str, work: Path, names: list[str]) -> str:
    lines = [f"# SFT sweep of the small recipe: {env}", ""]
    lines += [
        f"Machine: {machine_description()}; load average now {load_average()}.",
        "",
    ]
    lines += [
        "Each cell is one `sdar sft` run on expert demonstrations of the train split; `eval` = held-out success on",
        "100 test tasks (greedy for Search-QA) at that step; unfinished cells show what they logged so far.",
        "",
        "| cell | settings | steps | train tokens | train wall-clock | held-out evals (step: success, invalid) |",
        "|---|---|---|---|---|---|",
    ]
    for name in names:
        path = work / env / name / "metrics.jsonl"
        if not path.is_file():
            lines.append(f"| {name} | {CELLS.get(name, {})} | not started | | | |")
            continue
        records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        last = records[-1]
        seconds = sum(r.get("time/step", 0.0) for r in records)
        evals = "; ".join(
            f"{r['step']}: {100 * r['eval/success']:.1f}%, {100 * r['eval/invalid_rate']:.0f}%"
            for r in records
            if "eval/success" in r
        )
        done = (work / env / name / "model" / "config.json").is_file()
        steps = f"{last['step']}{'' if done else ' (unfinished)'}"
        lines.append(
            f"| {name} | {CELLS.get(name, {})} | {steps} | {last['tokens'] / 1e6:.2f}M | {seconds / 60:.0f} min | "
            f"{evals or 'none yet'} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="searchqa", choices=list(EPISODES))
    parser.add_argument("--cells", nargs="+", default=list(CELLS), choices=list(CELLS))
    parser.add_argument("--work", default="runs/sweep")
    parser.add_argument("--out", default=None, help="summary file (default benchmarks/results/sft_sweep_<env>.md)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--summarize-only", action="store_true")
    parser.add_argument("--quick", action="store_true", help="two tiny cells, a few steps (checks the script)")
    args = parser.parse_args(argv)
    work = Path(args.work)
    names = args.cells[:2] if args.quick else args.cells
    if not args.summarize_only:
        for name in names:
            run_cell(cell_config(args.env, name, work, args.quick, args.threads))
    text = summarise(args.env, work, names)
    out = Path(args.out or f"benchmarks/results/sft_sweep_{args.env}.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        text + f"\nCommand: `python benchmarks/bench_sft_sweep.py {' '.join(sys.argv[1:] if argv is None else argv)}`\n"
    )
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
