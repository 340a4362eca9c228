"""Measure the limits ``docs/hardening.md`` states: URL sizes of the longest WebShop action, a session flood against
a live env, the retriever's largest answer and a burst of new connections, a stopped local server's restart, and
what verifying the data caches costs.

Every figure comes from one run on this machine; the load average is printed with them (``os.getloadavg``)::

    .venv/bin/python benchmarks/bench_hardening.py --out benchmarks/results/hardening.md

It starts its own servers on loopback ports and writes into a temporary cache; nothing shared is touched.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import gymnasium as gym
import requests

import sdar_envs  # noqa: F401  (registers the ids)
from sdar_envs.core import MAX_ACTION_CHARS
from sdar_envs.retrieval import build_index
from sdar_envs.retrieval.server import MAX_QUERIES, MAX_RESULTS, serve_in_thread
from sdar_envs.webshop.catalog import open_catalog
from sdar_envs.webshop.engine import MAX_QUERY_CHARS, Shop, canonical_query
from sdar_envs.webshop.pages import State, render_html
from sdar_envs.webshop.server import ShopServer


def _rss_mb() -> float:
    """This process's resident memory now, in MB (``VmRSS``; the peak where ``/proc`` is missing)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def webshop_urls(shop: Shop) -> dict[str, float]:
    """The longest URL a page can hold when the agent searches the longest 4-byte-character query it may send."""
    query = canonical_query("😀" * MAX_ACTION_CHARS)
    task = shop.catalog.task(0)
    results = shop.render(State("results", query, 1), task)
    html = render_html(results, "env-" + "0" * 32, goal=0)
    longest = max(len(href) for href in _hrefs(html))
    search = "/search_results/env-x?" + urlencode({"page": 1, "keywords": query})
    return {"query_chars": len(query), "search_url_bytes": len(search), "longest_link_bytes": longest}


def _hrefs(html: str) -> list[str]:
    from bs4 import BeautifulSoup

    return [a["href"] for a in BeautifulSoup(html, "html.parser").find_all("a")]


def session_flood(shop: Shop, cache_dir: str, n: int) -> dict[str, float]:
    """A live env while ``n`` new sessions are opened (full table: refused), then while every session is idle."""
    server = ShopServer(shop, port=0, max_sessions=n // 2, idle_timeout=600.0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = gym.make("sdar/WebShop-v0", base_url=server.url, cache_dir=cache_dir)
    _, info = env.reset(options={"index": 0})
    http = requests.Session()
    http.trust_env = False
    codes: dict[int, int] = {}
    rss_before = _rss_mb()
    started = time.perf_counter()
    for i in range(n):
        code = http.get(f"{server.url}/flood-{i}?goal=1").status_code
        codes[code] = codes.get(code, 0) + 1
    seconds = time.perf_counter() - started
    table_mb = _rss_mb() - rss_before
    reward = 0.0
    while info["expert_action"]:
        _, reward, _, _, info = env.step(info["expert_action"])
    env.close()
    server.shutdown()
    server.server_close()
    return {
        "requests": n,
        "table": n // 2,
        "created": codes.get(200, 0),
        "refused_503": codes.get(503, 0),
        "sessions_per_s": n / seconds,
        "rss_growth_mb": table_mb,
        "env_reward_after_flood": reward,
    }


def retriever(num_docs: int) -> dict[str, float]:
    """The largest answer the limits allow, the refusal of an over-limit body, and 64 new connections at once."""
    from sdar_envs.searchqa.generator import generate

    corpus = dict(generate(0, num_docs).corpus)
    index = build_index(corpus.items(), backend="default")
    server, url = serve_in_thread(index, corpus)
    words = [w for text in list(corpus.values())[:MAX_QUERIES] for w in text.split()[1:3]][:MAX_QUERIES]
    topk = MAX_RESULTS // MAX_QUERIES
    started = time.perf_counter()
    answer = requests.post(url, json={"queries": words, "topk": topk}, timeout=600)
    largest_s = time.perf_counter() - started
    body = json.dumps({"queries": ["harbour"] * 3000, "topk": 1000}).encode()
    started = time.perf_counter()
    refused = requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=60)
    refused_s = time.perf_counter() - started
    barrier = threading.Barrier(64)
    latencies, failures = [], 0

    def connect(_):
        barrier.wait()
        begun = time.perf_counter()
        with requests.Session() as session:
            session.trust_env = False
            status = session.post(url, json={"query": "harbour"}, timeout=30).status_code
        return status, time.perf_counter() - begun

    with ThreadPoolExecutor(64) as pool:
        for status, seconds in pool.map(connect, range(64)):
            failures += status != 200
            latencies.append(seconds)
    server.shutdown()
    server.server_close()
    return {
        "passages": len(corpus),
        "largest_request": f"{len(words)} x {topk}",
        "largest_answer_mb": len(answer.content) / 1e6,
        "largest_answer_s": largest_s,
        "over_limit_body_kb": len(body) / 1e3,
        "over_limit_status": refused.status_code,
        "over_limit_s": refused_s,
        "burst_failures": failures,
        "burst_max_s": max(latencies),
    }


def stopped_server(cache_dir: str) -> dict[str, float]:
    env = gym.make("sdar/WebShop-v0", cache_dir=cache_dir, upstream_option_quirk=True)  # a server of its own
    env.reset(options={"index": 0})
    server = env.unwrapped.local_server
    os.kill(server.process.pid, signal.SIGSTOP)
    time.sleep(0.5)  # signal delivery is asynchronous; a reset at once would wait for one timeout first
    started = time.perf_counter()
    env.reset(options={"index": 1})
    seconds = time.perf_counter() - started
    restarted = env.unwrapped.local_server is not server
    env.close()
    return {"reset_with_restart_s": seconds, "restarted": str(restarted)}


def cache_checks(cache_dir: str) -> dict[str, float]:
    from sdar_envs.alfworld.cache import _VERIFIED, cache_root, ensure_game
    from sdar_envs.alfworld.manifest import load_manifest
    from sdar_envs.searchqa.generator import dataset_intact, ensure_dataset
    from sdar_envs.webshop.generator import _matches_meta, ensure_generated, generated_dir

    ensure_generated(cache_dir=cache_dir)
    expected = {"generator_version": 2, "seed": 0, "n_products": 1000, "n_goals": 1600}
    started = time.perf_counter()
    assert _matches_meta(generated_dir(cache_dir=cache_dir), expected)
    webshop_ms = (time.perf_counter() - started) * 1e3
    directory = ensure_dataset(0, 50_000, Path(cache_dir) / "searchqa")
    started = time.perf_counter()
    assert dataset_intact(directory)
    searchqa_ms = (time.perf_counter() - started) * 1e3
    root = cache_root(Path(cache_dir) / "alfworld")
    entries = load_manifest("eval_out_of_distribution")[:50]
    for entry in entries:
        ensure_game(root, "eval_out_of_distribution", entry)
    _VERIFIED.clear()
    started = time.perf_counter()
    for entry in entries:
        ensure_game(root, "eval_out_of_distribution", entry)
    alfworld_first_ms = (time.perf_counter() - started) * 1e3 / len(entries)
    started = time.perf_counter()
    for entry in entries:
        ensure_game(root, "eval_out_of_distribution", entry)
    alfworld_again_ms = (time.perf_counter() - started) * 1e3 / len(entries)
    return {
        "webshop_verify_ms": webshop_ms,
        "searchqa_verify_ms": searchqa_ms,
        "alfworld_first_check_ms": alfworld_first_ms,
        "alfworld_repeat_check_ms": alfworld_again_ms,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flood", type=int, default=20_000, help="new sessions opened against a live env")
    parser.add_argument("--passages", type=int, default=50_000, help="retriever corpus size")
    parser.add_argument("--out", default=None, help="also write the Markdown table here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        os.environ["SDAR_CACHE"] = cache
        shop = Shop(open_catalog(cache_dir=cache))
        sections = {
            "WebShop URL of the longest search": webshop_urls(shop),
            "WebShop session flood": session_flood(shop, cache, args.flood),
            "WebShop stopped local server": stopped_server(cache),
            "Retriever limits": retriever(args.passages),
            "Cache verification": cache_checks(cache),
        }
    load = "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    lines = [f"# Hardening figures ({os.cpu_count()} CPUs, {load})", ""]
    lines.append(f"WebShop query cap {MAX_QUERY_CHARS} characters; retriever --max-queries {MAX_QUERIES}, ")
    lines[-1] += f"--max-results {MAX_RESULTS}."
    for title, values in sections.items():
        lines += ["", f"## {title}", "", "| figure | value |", "|---|---|"]
        for key, value in values.items():
            shown = f"{value:.3g}" if isinstance(value, float) else str(value)
            lines.append(f"| {key} | {shown} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text)


if __name__ == "__main__":
    main()
