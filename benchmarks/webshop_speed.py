"""WebShop speed: catalog generation, env steps/s (in-process and HTTP), search latency at 1k and 100k products, and
the 32-client load test. Writes Markdown to stdout (committed as ``benchmarks/results/webshop.md``).

    .venv/bin/python benchmarks/webshop_speed.py [--large 100000] [--cache-dir DIR] [--skip-large]

Step mix: the oracle's action 70% of the time, else a random admissible click (a fresh search per episode, so most
searches miss the query cache). Targets: in-process >= 500 steps/s, HTTP >= 100 steps/s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from sdar_envs.webshop.catalog import catalog_cli_args, ensure_generated, open_catalog
from sdar_envs.webshop.engine import canonical_query
from sdar_envs.webshop.env import WebShopEnv
from sdar_envs.webshop.load import run_load
from sdar_envs.webshop.search import ProductSearch
from sdar_envs.webshop.transport import local_server


def steps_per_second(env: WebShopEnv, n_steps: int, seed: int = 0) -> tuple[float, int]:
    rng = random.Random(seed)
    _, info = env.reset(options={"index": 0})
    episodes, done = 1, 0
    start = time.perf_counter()
    while done < n_steps:
        if info["expert_action"] and rng.random() < 0.7:
            action = info["expert_action"]
        else:
            choices = [a for a in info["admissible_actions"] if a != "search[<query>]"] or ["search[black chair]"]
            action = rng.choice(choices)
        _, _, terminated, _, info = env.step(action)
        done += 1
        if terminated or done % 15 == 0:
            _, info = env.reset(options={"index": episodes % env.num_tasks})
            episodes += 1
    return n_steps / (time.perf_counter() - start), episodes


def search_latency(products, queries: list[str], index_dir: Path | None) -> tuple[float, float, float]:
    """(index build or load seconds, median ms, p95 ms) over uncached queries."""
    start = time.perf_counter()
    search = ProductSearch(products, index_dir=index_dir)
    build = time.perf_counter() - start
    times = []
    for query in queries:
        t = time.perf_counter()
        search._search(canonical_query(query))
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return build, statistics.median(times), times[int(0.95 * (len(times) - 1))]


def machine() -> str:
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
    model = next((line.split(":", 1)[1].strip() for line in cpu if line.startswith("Model name")), "?")
    return f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, {platform.system()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--inproc-steps", type=int, default=3000)
    parser.add_argument("--http-steps", type=int, default=500)
    args = parser.parse_args()
    cache = Path(args.cache_dir or tempfile.mkdtemp(prefix="webshop-bench-"))
    lines = [f"Machine: {machine()}; load average at start: {os.getloadavg()[0]:.1f}", ""]

    start = time.perf_counter()
    ensure_generated(cache_dir=cache)
    generation = time.perf_counter() - start
    start = time.perf_counter()
    catalog = open_catalog(cache_dir=cache)
    load = time.perf_counter() - start
    lines += [
        "| measure | value |",
        "|---|---|",
        f"| generate 1,000 products + {len(catalog.goals):,} goals (cold) | {generation:.2f} s |",
        f"| load the generated catalog | {load:.2f} s |",
    ]

    inproc = WebShopEnv("test", transport="inproc", cache_dir=cache)
    inproc.reset(options={"index": 0})  # builds the index
    rate, episodes = steps_per_second(inproc, args.inproc_steps)
    lines.append(f"| in-process steps/s ({args.inproc_steps} steps, {episodes} episodes; target >= 500) | {rate:.0f} |")
    inproc.close()

    url = local_server([*catalog_cli_args(cache_dir=cache), "--search-backend", "default"]).url
    http = WebShopEnv("test", base_url=url, cache_dir=cache)
    rates = sorted(steps_per_second(http, args.http_steps, seed=1 + i)[0] for i in range(3))
    lines.append(
        f"| HTTP steps/s, 1 client, median of 3 runs of {args.http_steps} steps (target >= 100) | "
        f"{rates[1]:.0f} (runs: {', '.join(f'{r:.0f}' for r in rates)}) |"
    )
    http.close()

    report = run_load(lambda: WebShopEnv("all", base_url=url, cache_dir=cache), clients=32, steps=200)
    lines.append(
        f"| load test 32 clients x 200 steps: time / steps/s / errors / isolation violations | "
        f"{report.seconds:.1f} s / {report.steps_per_second:.0f} / {len(report.errors)} / "
        f"{len(report.isolation_violations)} |"
    )

    queries = [g["instruction_text"] for g in catalog.goals[:300]]
    build, median, p95 = search_latency(catalog.products, queries, None)
    lines.append(f"| search 1k products: index build / median / p95 per query | {build:.2f} s / {median:.2f} ms / "
                 f"{p95:.2f} ms |")  # fmt: skip

    if not args.skip_large:
        start = time.perf_counter()
        ensure_generated(n_products=args.large, cache_dir=cache)
        generation = time.perf_counter() - start
        large = open_catalog(n_products=args.large, cache_dir=cache)
        lines.append(f"| generate {args.large:,} products + {len(large.goals):,} goals (cold) | {generation:.1f} s |")
        queries = [g["instruction_text"] for g in large.goals[:300]]
        build, median, p95 = search_latency(large.products, queries, None)
        lines.append(
            f"| search {args.large // 1000}k products: index build / median / p95 per query | {build:.1f} s / "
            f"{median:.2f} ms / {p95:.2f} ms |"
        )
    lines += ["", f"Load average at the end: {os.getloadavg()[0]:.1f} (the machine is shared)"]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
