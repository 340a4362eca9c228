"""The default backend agrees with Lucene (pyserini, Search-R1's BM25 engine): mean top-10 overlap >= 0.8.

Measured on 200 questions over a 5k-passage Search-QA corpus from the shipped generator (the 50k default corpus is
covered by ``benchmarks/bench_retrieval.py``; 5k keeps this test to a few seconds).
"""

from __future__ import annotations

import pytest

from sdar_envs.retrieval import DEFAULT_BACKEND, available_backends, build_index
from sdar_envs.searchqa.generator import generate

if "lucene" not in available_backends():
    pytest.skip(
        "the lucene backend needs pyserini 0.25.0, pyjnius and java (`make install` on a machine with a JDK 17)",
        allow_module_level=True,
    )

NUM_PASSAGES = 5_000
NUM_QUERIES = 200


def _workload() -> tuple[list[tuple[str, str]], list[str]]:
    data = generate(seed=0, num_passages=NUM_PASSAGES)
    questions = [r["question"] for split in ("test", "validation", "train") for r in data.questions[split]]
    return data.corpus, questions[:NUM_QUERIES]


@pytest.fixture(scope="module")
def results() -> dict[str, list[list[str]]]:
    docs, queries = _workload()
    assert len(queries) == NUM_QUERIES
    out = {}
    for backend in (DEFAULT_BACKEND, "lucene"):
        index = build_index(docs, backend=backend)
        out[backend] = [[doc_id for doc_id, _ in hits] for hits in index.batch_search(queries, k=10)]
    return out


def test_default_backend_top10_overlaps_lucene_by_at_least_0_8(results):
    ours, lucene = results[DEFAULT_BACKEND], results["lucene"]
    overlaps = [len(set(a) & set(b)) / 10 for a, b in zip(ours, lucene, strict=True)]
    mean = sum(overlaps) / len(overlaps)
    assert mean >= 0.8, f"mean top-10 overlap {mean:.3f} < 0.8"


def test_default_backend_and_lucene_mostly_agree_on_the_top_passage(results):
    ours, lucene = results[DEFAULT_BACKEND], results["lucene"]
    same_first = sum(a[:1] == b[:1] for a, b in zip(ours, lucene, strict=True)) / len(ours)
    assert same_first >= 0.7, f"top-1 agreement {same_first:.3f}"
