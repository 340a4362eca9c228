"""Benchmark the retrieval backends: index build time, queries/s (single and batched), recall, agreement with
Lucene, and peak memory, at Search-QA scale (50k passages by default).

Each backend runs in its own subprocess so its peak RSS is its own. Results go to stdout and, with ``--out``, to a
Markdown file (``benchmarks/results/retrieval.md``)::

    .venv/bin/python benchmarks/bench_retrieval.py --out benchmarks/results/retrieval.md

Corpus: ``--corpus PATH`` reads a Search-R1 jsonl(.gz) and queries a title-plus-words sample of its passages (the
passage the query was drawn from is its target); without it, :func:`sdar_envs.retrieval.synthetic.synthetic_corpus`
generates ``--passages`` passages and ``--queries`` questions with known target passages.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sdar_envs.retrieval import available_backends, build_index, load_index, read_corpus, split_title
from sdar_envs.retrieval.synthetic import synthetic_corpus

K = 10


def load_workload(args: argparse.Namespace) -> tuple[list[tuple[str, str]], list[tuple[str, str]], str]:
    """(docs, (query, target id) pairs, description)."""
    if args.corpus:
        docs = list(read_corpus(args.corpus))
        rng = random.Random(args.seed)
        queries = []
        for doc_id, contents in rng.sample(docs, min(args.queries, len(docs))):
            title, text = split_title(contents)
            words = text.split()
            start = rng.randrange(max(len(words) - 6, 1))
            queries.append((f"{title} {' '.join(words[start : start + 6])}", doc_id))
        return docs, queries, f"`{args.corpus}` ({len(docs)} passages), queries = title + 6 words of a passage"
    corpus = synthetic_corpus(args.passages, args.queries, seed=args.seed)
    return corpus.docs, corpus.queries, f"synthetic_corpus(num_passages={args.passages}, seed={args.seed})"


def run_one(args: argparse.Namespace) -> None:
    """Measure one backend (called in a child process); write its figures and top-10 lists as JSON."""
    docs, queries, _ = load_workload(args)
    texts = [q for q, _ in queries]
    started = time.perf_counter()
    index = build_index(docs, backend=args.one)
    build_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        index.save(tmp)
        disk_mb = sum(f.stat().st_size for f in Path(tmp).rglob("*") if f.is_file()) / 1e6
        started = time.perf_counter()
        index = load_index(tmp)
        load_s = time.perf_counter() - started
        for q in texts[:200]:  # warm-up (the JVM compiles hot paths over the first few hundred queries)
            index.search(q, K)
        started = time.perf_counter()
        top10 = [index.search(q, K) for q in texts]
        single_s = time.perf_counter() - started
        started = time.perf_counter()
        for q in texts:
            index.search(q, 3)
        single3_s = time.perf_counter() - started
        started = time.perf_counter()
        batched = index.batch_search(texts, K)
        batch_s = time.perf_counter() - started
    assert [[d for d, _ in r] for r in batched] == [[d for d, _ in r] for r in top10], "batch != single"
    hits3 = sum(target in [d for d, _ in r[:3]] for r, (_, target) in zip(top10, queries, strict=True))
    hits10 = sum(target in [d for d, _ in r] for r, (_, target) in zip(top10, queries, strict=True))
    out = {
        "backend": args.one,
        "docs": len(index),
        "build_s": build_s,
        "load_s": load_s,
        "disk_mb": disk_mb,
        "single_qps": len(texts) / single_s,
        "single_ms": 1000 * single_s / len(texts),
        "single3_qps": len(texts) / single3_s,
        "batch_qps": len(texts) / batch_s,
        "recall3": hits3 / len(queries),
        "recall10": hits10 / len(queries),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "top10": [[d for d, _ in r] for r in top10],
    }
    Path(args.result).write_text(json.dumps(out))


def overlap(a: list[list[str]], b: list[list[str]]) -> float:
    """Mean |top10(a) & top10(b)| / 10 over queries (queries where both are empty count as 1)."""
    scores = [len(set(x) & set(y)) / max(len(x), len(y)) if (x or y) else 1.0 for x, y in zip(a, b, strict=True)]
    return sum(scores) / len(scores)


def machine() -> str:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
    model = next((line.split(":", 1)[1].strip() for line in lscpu if line.startswith("Model name")), "?")
    return f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, {platform.system()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", nargs="*", default=None, help="default: every available backend")
    parser.add_argument("--passages", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--corpus", default=None, help="a Search-R1 jsonl(.gz) corpus instead of the synthetic one")
    parser.add_argument("--out", default=None, help="write a Markdown report here")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--result", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        run_one(args)
        return
    backends = args.backends or available_backends()
    _, _, workload = load_workload(args)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            result = Path(tmp) / f"{backend}.json"
            child = [sys.executable, __file__, "--one", backend, "--result", str(result), *sys.argv[1:]]
            subprocess.run(child, check=True, stdout=subprocess.DEVNULL)
            results[backend] = json.loads(result.read_text())
            r = results[backend]
            print(
                f"{backend}: build {r['build_s']:.2f}s, single {r['single_qps']:.0f} q/s ({r['single_ms']:.2f} ms), "
                f"batch {r['batch_qps']:.0f} q/s, recall@3 {r['recall3']:.3f}, RSS {r['peak_rss_mb']:.0f} MB",
                flush=True,
            )
    lines = [
        "# Retrieval backends",
        "",
        f"Command: `{' '.join(['.venv/bin/python', 'benchmarks/bench_retrieval.py', *sys.argv[1:]])}`",
        "",
        f"Machine: {machine()}. Workload: {workload}, {args.queries} queries, k={K} unless noted. Each backend "
        "runs in its own process; peak RSS includes the corpus held in Python.",
        "",
        "| backend | build (s) | load (s) | on disk (MB) | single q/s (k=10) | ms/query | single q/s (k=3) "
        "| batched q/s | recall@3 | recall@10 | peak RSS (MB) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for b, r in results.items():
        lines.append(
            f"| {b} | {r['build_s']:.2f} | {r['load_s']:.2f} | {r['disk_mb']:.1f} | {r['single_qps']:.0f} | "
            f"{r['single_ms']:.2f} | {r['single3_qps']:.0f} | {r['batch_qps']:.0f} | {r['recall3']:.3f} | "
            f"{r['recall10']:.3f} | {r['peak_rss_mb']:.0f} |"
        )
    lines += ["", "Top-10 overlap (mean |A ∩ B| / 10 per query):", "", "| | " + " | ".join(results) + " |"]
    lines.append("|---" * (len(results) + 1) + "|")
    for a in results:
        row = [f"{overlap(results[a]['top10'], results[b]['top10']):.3f}" for b in results]
        lines.append(f"| {a} | " + " | ".join(row) + " |")
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        Path(args.out).write_text(report)


if __name__ == "__main__":
    main()
