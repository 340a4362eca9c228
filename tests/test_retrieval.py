"""The retrieval layer: every backend ranks, breaks ties, saves, reloads and survives any query the same way."""

from __future__ import annotations

import gzip
import itertools
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdar_envs.retrieval import (
    DEFAULT_BACKEND,
    IndexFormatError,
    available_backends,
    build_index,
    load_index,
    read_corpus,
    split_title,
)
from sdar_envs.retrieval.analyzer import analyze

BACKENDS = available_backends()

DOCS = [
    ("p0", '"Varro Mills"\nVarro Mills is a textile firm founded in 1871 by the engineer Ada Varro in Quelton.'),
    ("p1", '"Ada Varro"\nAda Varro (born 1840 in Brindle) was an engineer and the founder of Varro Mills.'),
    ("p2", '"Quelton"\nQuelton is a river port with 40,000 inhabitants and the capital of Ostmark.'),
    ("p3", '"Brindle"\nBrindle is a hill town known for its horses; the running of horses is held each spring.'),
    ("p4", '"Ostmark"\nOstmark is a small country whose capital is Quelton.'),
    ("p5", '"Tomas Varro"\nTomas Varro, a painter, was the nephew of the engineer Ada Varro.'),
]


@pytest.fixture(scope="module", params=BACKENDS)
def index(request):
    return build_index(DOCS, backend=request.param)


def ids(hits):
    return [doc_id for doc_id, _ in hits]


def test_pip_backends_are_always_available():
    assert {"tantivy", "bm25s"} <= set(BACKENDS)
    assert DEFAULT_BACKEND in BACKENDS


def test_default_backend_resolves_to_the_measured_choice():
    assert build_index(DOCS).backend == DEFAULT_BACKEND


@pytest.mark.parametrize(
    ("query", "best"),
    [
        ("Who founded Varro Mills?", "p0"),
        ("When was Ada Varro born?", "p1"),
        ("What is the capital of Ostmark?", "p4"),
        ("Which town is famous for horse running?", "p3"),
        ("painter nephew", "p5"),
    ],
)
def test_each_backend_ranks_the_relevant_passage_first(index, query, best):
    hits = index.search(query, k=3)
    assert hits[0][0] == best
    assert all(a[1] >= b[1] > 0 for a, b in itertools.pairwise(hits))


def test_stemming_and_stopwords_make_inflected_queries_match(index):
    # "horse" and "runs" reach "horses" and "running" only through stemming.
    assert ids(index.search("horse runs", k=1)) == ["p3"]
    assert index.search("the of and is with", k=5) == []


def test_a_query_matching_nothing_returns_an_empty_list(index):
    assert index.search("zyxxy quorblat", k=5) == []
    assert index.search("", k=5) == []


def test_k_bounds_the_number_of_results(index):
    assert len(index.search("Varro", k=2)) == 2
    assert len(index.search("Varro", k=100)) == 3
    assert index.search("Varro", k=0) == []


def test_batch_search_equals_single_searches(index):
    queries = ["Ada Varro engineer", "capital", "", "horses", "zyxxy"]
    assert index.batch_search(queries, k=3) == [index.search(q, k=3) for q in queries]


def test_len_and_backend_name(index):
    assert len(index) == len(DOCS)
    assert index.backend in BACKENDS


@pytest.mark.parametrize("backend", BACKENDS)
def test_equal_scores_are_ordered_by_doc_id(backend):
    twins = [(doc_id, "the same words about a lighthouse keeper") for doc_id in ("d", "b", "e", "a", "c")]
    index = build_index([*twins, ("z", "a lighthouse on a cliff with a keeper and a long keeper history")], backend)
    hits = index.search("lighthouse keeper", k=3)
    assert ids(hits) in (["a", "b", "c"], ["z", "a", "b"])
    twin_ids = [d for d in ids(index.search("lighthouse keeper", k=6)) if d != "z"]
    assert twin_ids == ["a", "b", "c", "d", "e"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_save_then_load_gives_the_same_results(backend, tmp_path):
    index = build_index(DOCS, backend=backend)
    index.save(tmp_path / "idx")
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    assert manifest["backend"] == backend
    assert manifest["num_docs"] == len(DOCS)
    assert "k1" in manifest["settings"]
    del index
    reloaded = load_index(tmp_path / "idx")
    assert reloaded.backend == backend
    assert len(reloaded) == len(DOCS)
    fresh = build_index(DOCS, backend=backend)
    for query in ("Ada Varro", "capital of Ostmark", "horses"):
        assert reloaded.search(query, k=4) == fresh.search(query, k=4)


@pytest.mark.parametrize("backend", BACKENDS)
def test_build_index_with_a_path_saves_directly(backend, tmp_path):
    build_index(DOCS, backend=backend, path=tmp_path / "direct")
    assert ids(load_index(tmp_path / "direct").search("Ostmark capital", k=1)) == ["p4"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_empty_corpus_gives_an_index_that_finds_nothing(backend, tmp_path):
    index = build_index([], backend=backend)
    assert len(index) == 0
    assert index.search("anything", k=3) == []
    index.save(tmp_path / "empty")
    assert load_index(tmp_path / "empty").search("anything") == []


def test_loading_a_missing_index_says_how_to_build_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="build_index"):
        load_index(tmp_path / "nowhere")
    (tmp_path / "not-an-index").mkdir()
    with pytest.raises(FileNotFoundError, match=r"manifest\.json"):
        load_index(tmp_path / "not-an-index")


def test_loading_a_corrupt_manifest_raises_a_clear_error(tmp_path):
    build_index(DOCS, backend="bm25s").save(tmp_path / "idx")
    (tmp_path / "idx" / "manifest.json").write_text("{not json")
    with pytest.raises(IndexFormatError, match=r"corrupt.*rebuild"):
        load_index(tmp_path / "idx")


@pytest.mark.parametrize("backend", ["tantivy", "bm25s"])
def test_loading_an_index_with_a_missing_file_raises_a_clear_error(backend, tmp_path):
    build_index(DOCS, backend=backend).save(tmp_path / "idx")
    (tmp_path / "idx" / "ids.json").unlink()
    with pytest.raises(IndexFormatError, match="rebuild"):
        load_index(tmp_path / "idx")


def test_an_index_from_another_format_version_is_refused(tmp_path):
    build_index(DOCS, backend="tantivy").save(tmp_path / "idx")
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    manifest["format_version"] = 999
    (tmp_path / "idx" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexFormatError, match="version 999"):
        load_index(tmp_path / "idx")


@pytest.mark.parametrize("backend", ["tantivy", "bm25s"])
def test_duplicate_doc_ids_are_rejected(backend):
    with pytest.raises(ValueError, match="duplicate doc id 'x'"):
        build_index([("x", "one"), ("y", "two"), ("x", "three")], backend=backend)


def test_an_unknown_backend_lists_the_known_ones():
    with pytest.raises(ValueError, match="tantivy"):
        build_index(DOCS, backend="elasticsearch")


def test_the_analyzer_mirrors_lucene_english_analysis():
    assert analyze("The Founders' guild of Ashford's 3.5 mills") == ["founder", "guild", "ashford", "3.5", "mill"]
    assert analyze("") == []
    assert analyze("!!! ... ???") == []


TRICKY = [
    "",
    " ",
    '"unbalanced',
    "title:Varro AND NOT (engineer OR",
    "Varro^2 ~ * ? \\ / [1 TO 5] {a} <b> &&||!",
    "\x00Varro\x00",
    "\ud800 lone surrogate Varro",
    "Ünïcödé — 北京 Варро 🙂",
    "Varro " * 3000,
]


@pytest.mark.parametrize("query", TRICKY)
def test_query_syntax_is_never_interpreted(index, query):
    hits = index.search(query, k=3)
    assert isinstance(hits, list)
    if "Varro" in query:
        assert hits and hits[0][0] in {"p0", "p1", "p5"}


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.text(max_size=200), k=st.integers(min_value=-2, max_value=20))
def test_search_never_raises_on_arbitrary_text(backend, query, k):
    if backend not in _SMALL_INDEXES:
        _SMALL_INDEXES[backend] = build_index(DOCS, backend=backend)
    index = _SMALL_INDEXES[backend]
    hits = index.search(query, k=k)
    assert len(hits) <= max(k, 0)
    assert all(isinstance(d, str) and isinstance(s, float) for d, s in hits)


_SMALL_INDEXES: dict = {}


def test_read_corpus_reads_plain_and_gzipped_search_r1_jsonl(tmp_path):
    rows = [{"id": "0", "contents": '"Evan Morris"\nEvan Morris was a lobbyist.'}, {"id": 1, "contents": '"X"\ny'}]
    plain = tmp_path / "corpus.jsonl"
    plain.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    packed = tmp_path / "corpus.jsonl.gz"
    with gzip.open(packed, "wt", encoding="utf-8") as f:
        f.write("\n".join(json.dumps(r) for r in rows))
    expected = [("0", '"Evan Morris"\nEvan Morris was a lobbyist.'), ("1", '"X"\ny')]
    assert list(read_corpus(plain)) == expected
    assert list(read_corpus(packed)) == expected
    assert split_title(expected[0][1]) == ("Evan Morris", "Evan Morris was a lobbyist.")


def test_read_corpus_accepts_title_and_text_rows(tmp_path):
    path = tmp_path / "dpr.jsonl"
    path.write_text(json.dumps({"id": "7", "title": "Quelton", "text": "A port."}) + "\n")
    assert list(read_corpus(path)) == [("7", '"Quelton"\nA port.')]


def test_read_corpus_names_the_file_and_line_of_a_bad_row(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"id": "0", "contents": "ok"}) + "\n{broken\n")
    with pytest.raises(ValueError, match=r"bad\.jsonl:2"):
        list(read_corpus(path))
    with pytest.raises(FileNotFoundError, match="Search-R1 corpus"):
        list(read_corpus(Path(tmp_path / "missing.jsonl")))


@pytest.mark.parametrize("backend", ["tantivy", "bm25s"])
def test_an_index_built_with_another_analyzer_version_is_refused(backend, tmp_path):
    build_index(DOCS, backend=backend).save(tmp_path / "idx")
    manifest = json.loads((tmp_path / "idx" / "manifest.json").read_text())
    manifest["settings"]["analyzer"]["version"] = 0
    (tmp_path / "idx" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexFormatError, match="analyzer settings"):
        load_index(tmp_path / "idx")
