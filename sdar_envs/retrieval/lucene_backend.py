"""BM25 with Lucene through pyserini 0.25 (Anserini's ``SimpleIndexer`` / ``SimpleSearcher``, JDK 17).

This is the engine Search-R1 uses for its BM25 baseline, kept as the reference the pip-only backends are checked
against. Analysis is Anserini's ``DefaultEnglishAnalyzer`` (standard tokenizer, possessive filter, lower-casing,
Lucene's English stopwords, Porter stemming) run inside Lucene on the raw text; scoring is BM25 with pyserini's
defaults k1=0.9, b=0.4; queries go through Anserini's bag-of-words query generator, so no query syntax is parsed.
Anserini rounds scores to 4 decimals and separates equal scores by 1e-6 steps in doc-id order, so its order agrees
with the shared ranking rule.

Needs the optional packages ``pyserini==0.25.0`` (installed with ``--no-deps``), ``pyjnius`` and a JDK 17 ``java``;
``make install`` installs them when ``java`` is on the PATH. Every Java call runs on one dedicated thread: the JVM is
started there once per process, and no other Python thread attaches to it (pyjnius needs explicit detaching
otherwise), so the backend is safe to use from a threaded server.

On disk: Lucene's files under ``lucene/``, ``manifest.json``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import logging
import os
import shutil
import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from sdar_envs.retrieval.retriever import (
    IndexFormatError,
    Retriever,
    check_k,
    clean_query,
    index_directory,
    rank,
    unique_docs,
    write_manifest,
)

__all__ = ["LuceneRetriever", "lucene_available"]

log = logging.getLogger(__name__)

K1 = 0.9
B = 0.4
_SUBDIR = "lucene"
_BATCH = 1000
SETTINGS: dict[str, Any] = {
    "k1": K1,
    "b": B,
    "analyzer": "anserini DefaultEnglishAnalyzer (porter stemmer, lucene english stopwords)",
}

T = TypeVar("T")
_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()
_jvm_thread: threading.Thread | None = None
_java: dict[str, Any] = {}


def lucene_available() -> bool:
    """True when pyserini and pyjnius are importable and a ``java`` executable exists (no JVM is started)."""
    has_java = shutil.which("java") is not None or bool(os.environ.get("JAVA_HOME"))
    return has_java and all(importlib.util.find_spec(name) is not None for name in ("pyserini", "jnius"))


def _on_jvm(fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(*args)`` on the single JVM thread, starting the JVM on first use."""
    global _executor, _jvm_thread
    if threading.current_thread() is _jvm_thread:
        return fn(*args)
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sdar-jvm")
            _jvm_thread = _executor.submit(_start_jvm).result()
    return _executor.submit(fn, *args).result()


def _start_jvm() -> threading.Thread:
    if not lucene_available():
        raise RuntimeError(
            "the lucene backend needs pyserini 0.25.0, pyjnius and a JDK 17 `java`: run `make install` on a machine "
            "with java, or `pip install --no-deps pyserini==0.25.0 && pip install pyjnius`; "
            "or use backend='default'"
        )
    from pyserini.pyclass import autoclass  # starts the JVM with Anserini's jar on the class path

    _java["SimpleIndexer"] = autoclass("io.anserini.index.SimpleIndexer")
    _java["SimpleSearcher"] = autoclass("io.anserini.search.SimpleSearcher")
    _java["ArrayList"] = autoclass("java.util.ArrayList")
    # Bag-of-words queries over long text can exceed Lucene's default of 1024 clauses.
    autoclass("org.apache.lucene.search.IndexSearcher").setMaxClauseCount(1 << 20)
    return threading.current_thread()


class LuceneRetriever(Retriever):
    """BM25 retrieval with Lucene (pyserini). Build with :meth:`build`, reopen with :meth:`load`."""

    backend = "lucene"

    def __init__(self, index_dir: Path, ids_count: int, *, owns_dir: bool) -> None:
        self._dir = index_dir
        self._num_docs = ids_count
        self._searcher = _on_jvm(_open_searcher, str(index_dir / _SUBDIR)) if ids_count else None
        self._cleanup = weakref.finalize(self, shutil.rmtree, index_dir, True) if owns_dir else None

    @classmethod
    def build(cls, docs: Iterable[tuple[str, str]], path: str | os.PathLike[str] | None = None) -> LuceneRetriever:
        """Index ``docs`` into directory ``path`` (a private temporary directory when ``None``)."""
        with index_directory(path, "sdar-lucene-") as (index_dir, owns_dir):
            (index_dir / _SUBDIR).mkdir(exist_ok=True)
            count = _on_jvm(_write_index, str(index_dir / _SUBDIR), docs)
            retriever = cls(index_dir, count, owns_dir=owns_dir)
        if not owns_dir:
            retriever._write_manifest(index_dir)
        return retriever

    @classmethod
    def load(cls, path: Path, manifest: dict[str, Any]) -> LuceneRetriever:
        if manifest["num_docs"] and not (path / _SUBDIR).is_dir():
            raise IndexFormatError(f"{path} has no {_SUBDIR}/ directory; {manifest['rebuild_hint']}")
        try:
            retriever = cls(path, manifest["num_docs"], owns_dir=False)
        except RuntimeError:
            raise
        except Exception as exc:  # jnius.JavaException: a broken Lucene directory
            raise IndexFormatError(
                f"cannot open the Lucene index at {path} ({exc}); {manifest['rebuild_hint']}"
            ) from None
        return retriever

    def __len__(self) -> int:
        return self._num_docs

    def search(self, query: str, k: int = 10) -> list[tuple[str, float]]:
        k = check_k(k)
        query = clean_query(query)
        if k == 0 or self._searcher is None or not query.strip():
            return []
        return _on_jvm(_search, self._searcher, query, k)

    def batch_search(self, queries: Sequence[str], k: int = 10) -> list[list[tuple[str, float]]]:
        k = check_k(k)
        if self._searcher is None or k == 0:
            return [[] for _ in queries]
        return _on_jvm(_batch_search, self._searcher, [clean_query(q) for q in queries], k)

    def save(self, path: str | os.PathLike[str]) -> None:
        target = Path(path)
        if target.resolve() != self._dir.resolve():
            if (target / _SUBDIR).exists():
                shutil.rmtree(target / _SUBDIR)
            target.mkdir(parents=True, exist_ok=True)
            shutil.copytree(self._dir / _SUBDIR, target / _SUBDIR, ignore=shutil.ignore_patterns("write.lock"))
        self._write_manifest(target)

    def _write_manifest(self, target: Path) -> None:
        write_manifest(target, self.backend, importlib.metadata.version("pyserini"), SETTINGS, self._num_docs)


def _write_index(lucene_dir: str, docs: Iterable[tuple[str, str]]) -> int:
    indexer = _java["SimpleIndexer"](lucene_dir, False, 1)
    count = 0
    batch: list[str] = []
    try:
        for doc_id, text in unique_docs(docs):
            batch.append(json.dumps({"id": doc_id, "contents": clean_query(text)}))
            count += 1
            if len(batch) == _BATCH:
                indexer.addRawDocuments(batch)
                batch = []
        if batch:
            indexer.addRawDocuments(batch)
    finally:
        indexer.close()
    return count


def _open_searcher(lucene_dir: str) -> Any:
    searcher = _java["SimpleSearcher"](lucene_dir)
    searcher.set_bm25(K1, B)
    return searcher


def _tied(a: float, b: float) -> bool:
    # Anserini's scores are rounded to 4 decimals, then equal ones are spread by 1e-6 steps.
    return round(a, 4) == round(b, 4)


def _search(searcher: Any, query: str, k: int) -> list[tuple[str, float]]:
    from jnius import JavaException

    limit = k + 8
    try:
        while True:
            hits = searcher.search(query, limit)
            if len(hits) < limit or not _tied(hits[-1].score, hits[min(k, len(hits)) - 1].score):
                break
            limit *= 4
    except JavaException as exc:
        log.warning("Lucene rejected the query %r (%s); returning no results", query[:200], exc)
        return []
    return rank(((hit.docid, float(hit.score)) for hit in hits), k)


def _batch_search(searcher: Any, queries: list[str], k: int) -> list[list[tuple[str, float]]]:
    from jnius import JavaException

    limit = k + 8
    jqueries, jqids = _java["ArrayList"](), _java["ArrayList"]()
    for i, query in enumerate(queries):
        jqueries.add(query)
        jqids.add(str(i))
    try:
        by_qid = searcher.batch_search(jqueries, jqids, limit, 1)
    except JavaException:
        return [_search(searcher, query, k) for query in queries]
    results = []
    for i, query in enumerate(queries):
        hits = by_qid.get(str(i))
        hits = list(hits) if hits is not None else []
        if len(hits) == limit and _tied(hits[-1].score, hits[k - 1].score):
            results.append(_search(searcher, query, k))  # ties beyond the window: widen for this query
        else:
            results.append(rank(((hit.docid, float(hit.score)) for hit in hits), k))
    return results
