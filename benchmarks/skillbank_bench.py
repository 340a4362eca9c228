"""SkillBank figures: teacher-prefix sizes per env and strategy, retrieval speed, and UCB on simulated bandits.

    .venv/bin/python benchmarks/skillbank_bench.py [--out benchmarks/results/skillbank.md]

Simulated bandit: one context, ``n_arms`` skills with hidden success rates; an episode that shows the skills ``S``
succeeds with probability ``mean(rate[s] for s in S)``. Regret after ``T`` episodes is ``T * best_mean - sum of the
chosen sets' means``. Compared: UCB (this package, several ``c``), uniform random ``k`` skills, and the oracle.
All draws are seeded, so the output is reproducible.
"""

from __future__ import annotations

import argparse
import math
import platform
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

from skillbank import SkillBank, TaskRecord, UCBBandit, render

TASKS = {
    "alfworld": [
        TaskRecord(env="alfworld", task_type=t, instruction=g)
        for t, g in [
            ("pick_and_place_simple", "put some spraybottle on toilet."),
            ("look_at_obj_in_light", "look at bowl under the desklamp."),
            ("pick_clean_then_place_in_recep", "put a clean mug in coffeemachine."),
            ("pick_heat_then_place_in_recep", "heat some egg and put it in countertop."),
            ("pick_cool_then_place_in_recep", "cool some bread and put it in diningtable."),
            ("pick_two_obj_and_place", "find two cd and put them in safe."),
        ]
    ],
    "webshop": [
        TaskRecord(env="webshop", task_type=c, instruction=i)
        for c, i in [
            ("grocery", "i need gluten free oatmeal cookies, pack of 6, and price lower than 40.00 dollars"),
            ("beauty", "i want a fragrance free moisturizer for sensitive skin, size 1.7 fl oz"),
            ("electronics", "i want a usb c charging cable, 6 ft, color white, price lower than 15.00 dollars"),
            ("fashion", "i want a men's crew neck t-shirt, color navy, size large"),
            ("home", "i need a solid wood bookshelf for the living room, price lower than 150.00 dollars"),
        ]
    ],
    "searchqa": [
        TaskRecord(env="searchqa", data_source=s, task_type=s, instruction=q)
        for s, q in [
            ("single_hop", "Where was Ilsa Varn born?"),
            ("bridge", "Where was the founder of Halvard Press born?"),
            ("comparison", "Who was born earlier, Petra Holm or Ansel Wick?"),
            ("three_hop", "What is the capital of the country where the architect of the Veyra Tower was born?"),
            ("nq", "who wrote the harrowgate suite"),
        ]
    ],
}


def prefix_sizes(bank: SkillBank) -> list[str]:
    rows = [
        "| env | strategy | skills (mean) | prefix chars (mean) | prefix chars (max) | words (mean) |",
        "|---|---|---|---|---|---|",
    ]
    for env, tasks in TASKS.items():
        for strategy, k in (("keyword", None), ("keyword", 3), ("full", None)):
            counts, chars, words = [], [], []
            for task in tasks:
                skills = bank.retrieve(task, strategy, k)
                text = render(skills)
                counts.append(len(skills))
                chars.append(len(text))
                words.append(len(text.split()))
            label = strategy if k is None else f"{strategy} k={k}"
            rows.append(
                f"| {env} | {label} | {statistics.mean(counts):.1f} | {statistics.mean(chars):.0f} | {max(chars)} | "
                f"{statistics.mean(words):.0f} |"
            )
    return rows


def retrieval_speed(bank: SkillBank, calls: int = 2000) -> list[str]:
    rows = ["| strategy | µs per retrieve (mean over all tasks) |", "|---|---|"]
    tasks = [t for ts in TASKS.values() for t in ts]
    for strategy in ("keyword", "ucb", "full", "random", "adversarial"):
        start = time.perf_counter()
        for i in range(calls):
            bank.retrieve(tasks[i % len(tasks)], strategy, None)
        rows.append(f"| {strategy} | {(time.perf_counter() - start) / calls * 1e6:.1f} |")
    start = time.perf_counter()
    for i in range(calls):
        task = tasks[i % len(tasks)]
        bank.update(task, [bank.skills_for(task.env)[0].id], 1.0)
    rows.append(f"| update (one skill) | {(time.perf_counter() - start) / calls * 1e6:.1f} |")
    return rows


def simulate(rates: list[float], k: int, rounds: int, seed: int, policy: str, c: float) -> tuple[float, float]:
    """Returns (regret, mean share of the best set among the chosen skills over the last 20 % of rounds)."""
    arms = [f"a{i}" for i in range(len(rates))]
    rate = dict(zip(arms, rates, strict=True))
    best_set = set(sorted(arms, key=rate.get, reverse=True)[:k])
    best_mean = statistics.mean(rate[a] for a in best_set)
    bandit = UCBBandit({"sim": arms}, c=c, seed=seed)
    pick = random.Random(seed + 1)
    draw = random.Random(seed + 2)
    regret, overlap, tail = 0.0, 0.0, rounds // 5
    for t in range(rounds):
        if policy == "ucb":
            chosen = bandit.select("sim", "ctx", k)
        elif policy == "random":
            chosen = pick.sample(arms, k)
        else:
            chosen = sorted(best_set)
        mean = statistics.mean(rate[a] for a in chosen)
        bandit.update("sim", "ctx", chosen, 1.0 if draw.random() < mean else 0.0)
        regret += best_mean - mean
        if t >= rounds - tail:
            overlap += len(best_set.intersection(chosen)) / k
    return regret, overlap / tail


def bandit_table(seeds: int = 10) -> list[str]:
    rows = [
        "| arms | k | rounds | policy | c | regret (mean ± sd over seeds) | best-k share of chosen, last 20 % |",
        "|---|---|---|---|---|---|---|",
    ]
    for n_arms, k, rounds in ((15, 1, 500), (15, 1, 2000), (15, 3, 2000), (15, 5, 2000)):
        for policy, c in (("ucb", math.sqrt(2)), ("ucb", 1.0), ("ucb", 0.5), ("ucb", 0.25), ("random", 0.0)):
            regrets, shares = [], []
            for seed in range(seeds):
                gen = random.Random(1000 + seed)
                # rates of a skill-helpfulness profile: a few good skills, many mediocre ones
                rates = [round(gen.uniform(0.1, 0.5), 3) for _ in range(n_arms - k)] + [
                    round(gen.uniform(0.6, 0.8), 3) for _ in range(k)
                ]
                gen.shuffle(rates)
                regret, share = simulate(rates, k, rounds, seed, policy, c)
                regrets.append(regret)
                shares.append(share)
            c_label = f"{c:.3g}" if policy == "ucb" else "-"
            rows.append(
                f"| {n_arms} | {k} | {rounds} | {policy} | {c_label} | {statistics.mean(regrets):.1f} ± "
                f"{statistics.stdev(regrets):.1f} | {statistics.mean(shares):.0%} |"
            )
    return rows


def machine() -> str:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        model = next((ln.split(":", 1)[1].strip() for ln in lscpu.splitlines() if ln.startswith("Model name")), "?")
    except OSError:
        model = "?"
    nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout.strip()
    return f"{model}, nproc={nproc}, Python {platform.python_version()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=None, help="write the Markdown report here (default: stdout)")
    args = parser.parse_args()
    bank = SkillBank(seed=0)
    lines = [
        "# SkillBank benchmark",
        "",
        "Command: `.venv/bin/python benchmarks/skillbank_bench.py --out benchmarks/results/skillbank.md`  ",
        f"Machine: {machine()}",
        "",
        "## Teacher prefix size (`render(retrieve(...))`, sample tasks of every family)",
        "",
        *prefix_sizes(bank),
        "",
        "## Retrieval speed",
        "",
        "Single-threaded; the machine is shared by several users, so timings vary by up to about 2x between runs.",
        "",
        *retrieval_speed(SkillBank(seed=0)),
        "",
        "## UCB on simulated skill bandits (10 seeds each)",
        "",
        "Success rates: k good skills drawn from U(0.6, 0.8), the rest from U(0.1, 0.5); an episode succeeds with",
        "the mean rate of the skills shown; every shown skill is credited with the episode's 0/1 reward. The oracle's",
        "regret is 0 by definition. The last column is |chosen ∩ best k| / k averaged over the last 20 % of rounds.",
        "",
        *bandit_table(),
        "",
    ]
    text = "\n".join(lines)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
