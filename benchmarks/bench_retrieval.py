"""Benchmark the retrieval backends: index build time, queries/s (single and batched), recall, agreement with
Lucene, and peak memory, at Search-QA scale (50k passages by default).

Each backend runs in its own subprocess so its peak RSS is its own. Results go to stdout and, with ``--out``, to a
Markdown file (``benchmarks/results/retrieval.md``)::

    .venv/bin/python benchmarks/bench_retrieval.py --out benchmarks/results/retrieval.md

Corpus: by default the Search-QA generator's corpus (``sdar_envs.searchqa.generator.generate``) with its questions
as queries (target: the question's first gold passage); ``--workload synthetic`` uses
:func:`synthetic_corpus.synthetic_corpus` (``benchmarks/synthetic_corpus.py``) instead; ``--corpus PATH`` reads a
Search-R1 jsonl(.gz) and queries a title-plus-words sample of its passages (the passage the query was drawn from is
its target).
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

from synthetic_corpus import synthetic_corpus  # benchmarks/synthetic_corpus.py, beside this script

from sdar_envs.retrieval import available_backends, build_index, load_index, read_corpus, split_title

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
    if args.workload in ("auto", "searchqa"):
        try:
            from sdar_envs.searchqa.generator import generate
        except ImportError:
            if args.workload == "searchqa":
                raise
        else:
            data = generate(seed=args.seed, num_passages=args.passages)
            records = [r for split in ("test", "validation", "train") for r in data.questions[split]]
            queries = [(r["question"], r["support"][0]) for r in records[: args.queries]]
            return (
                data.corpus,
                queries,
                f"Search-QA generator corpus (`generate(seed={args.seed}, num_passages={args.passages})`, "
                f"{len(data.corpus)} passages); queries = the first {len(queries)} questions of test, validation, "
                "train; target = the question's first gold passage",
            )
    corpus = synthetic_corpus(args.passages, args.queries, seed=args.seed)
    return (
        corpus.docs,
        corpus.queries,
        f"`synthetic_corpus(num_passages={args.passages}, seed={args.seed})`; target = the passage asked about",
    )


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


def bench_server(docs: list[tuple[str, str]], queries: list[str]) -> dict[str, float]:
    """Loopback round trips through ``sdar-retriever``'s server and :class:`HTTPRetriever` (default backend, k=3)."""
    from sdar_envs.retrieval import HTTPRetriever
    from sdar_envs.retrieval.server import serve_in_thread

    index = build_index(docs)
    server, url = serve_in_thread(index, dict(docs))
    try:
        client = HTTPRetriever(url, timeout=30, retries=0)
        for q in queries[:50]:
            client.search_documents(q, 3)
        started = time.perf_counter()
        for q in queries:
            client.search_documents(q, 3)
        single_s = time.perf_counter() - started
        started = time.perf_counter()
        client.batch_search_documents(queries, 3)
        batch_s = time.perf_counter() - started
    finally:
        server.shutdown()
        server.server_close()
    return {"backend": index.backend, "single_qps": len(queries) / single_s, "batch_qps": len(queries) / batch_s}


def overlap(a: list[list[str]], b: list[list[str]]) -> float:
    """Mean |top10(a) & top10(b)| / 10 over queries (queries where both are empty count as 1)."""
    scores = [len(set(x) & set(y)) / max(len(x), len(y)) if (x or y) else 1.0 for x, y in zip(a, b, strict=True)]
    return sum(scores) / len(scores)


def machine() -> str:
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
    model = next((line.split(":", 1)[1].strip() for line in lscpu if line.startswith("Model name")), "?")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, {platform.system()}; "
        f"load average at the end {load} (the machine is shared)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backends", nargs="*", default=None, help="default: every available backend")
    parser.add_argument("--passages", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--corpus", default=None, help="a Search-R1 jsonl(.gz) corpus instead of a generated one")
    parser.add_argument(
        "--workload",
        choices=["auto", "searchqa", "synthetic"],
        default="auto",
        help="generated corpus: the Search-QA generator's (auto: when importable) or the synthetic encyclopedia",
    )
    parser.add_argument("--out", default=None, help="write a Markdown report here")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--result", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        run_one(args)
        return
    backends = args.backends or available_backends()
    docs, query_pairs, workload = load_workload(args)
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
        f"Machine: {machine()}.",
        "",
        f"Workload: {workload}. k={K} unless noted. Each backend runs in its own process, one thread of queries; "
        "peak RSS includes the corpus held in Python. Build = analysis + indexing into a temporary directory; "
        "load = reopening the saved index; single = one `search` call per query (after 200 warm-up queries); "
        "batched = one `batch_search` call.",
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
    server = bench_server(docs, [q for q, _ in query_pairs])
    lines += [
        "",
        f"HTTP server on loopback (`serve_in_thread` + `HTTPRetriever`, {server['backend']} backend, k=3, "
        f"{len(query_pairs)} queries, client and server in one process): "
        f"{server['single_qps']:.0f} single-query requests/s, {server['batch_qps']:.0f} queries/s in one batched "
        "request.",
    ]
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        Path(args.out).write_text(report)


if __name__ == "__main__":
    main()
