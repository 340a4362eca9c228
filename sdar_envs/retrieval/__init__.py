"""One BM25 retrieval interface over several engines, shared by Search-QA and WebShop search.

::

    from sdar_envs.retrieval import build_index, load_index, HTTPRetriever, read_corpus

    index = build_index(read_corpus("corpus.jsonl"), backend="default")   # docs: (doc_id, text) pairs
    index.search("capital of Veloria", k=3)          # [(doc_id, bm25_score), ...], best first
    index.batch_search(["q1", "q2"], k=3)
    index.save("runs/index"); index = load_index("runs/index")

Backends (``backend=``):

``"default"``
    the pip-only engine chosen by measurement: ``DEFAULT_BACKEND`` (see ``benchmarks/results/retrieval.md``).
``"tantivy"``
    Rust BM25 (k1=1.2, b=0.75), :mod:`sdar_envs.retrieval.tantivy_backend`.
``"bm25s"``
    numpy BM25 (k1=0.9, b=0.4), :mod:`sdar_envs.retrieval.bm25s_backend`.
``"lucene"``
    pyserini 0.25 / Lucene (k1=0.9, b=0.4), optional, needs java; :mod:`sdar_envs.retrieval.lucene_backend`.

The pip-only backends share one English analysis (:mod:`sdar_envs.retrieval.analyzer`, the equivalent of Lucene's:
stopwords and Porter stemming). :class:`HTTPRetriever` reaches a Search-R1-style ``/retrieve`` server instead;
:mod:`sdar_envs.retrieval.server` (``sdar-retriever``) is such a server over any backend.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from sdar_envs.retrieval.corpus import read_corpus, split_title
from sdar_envs.retrieval.http_client import HTTPRetriever, RetrievalServerError
from sdar_envs.retrieval.lucene_backend import lucene_available
from sdar_envs.retrieval.retriever import IndexFormatError, Retriever, read_manifest

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "HTTPRetriever",
    "IndexFormatError",
    "RetrievalServerError",
    "Retriever",
    "available_backends",
    "build_index",
    "load_index",
    "read_corpus",
    "split_title",
]

#: The engine ``backend="default"`` resolves to: the faster pip-only engine at 50k passages on 2 cores, whose
#: top-10 also agrees with Lucene's (figures in ``benchmarks/results/retrieval.md``).
DEFAULT_BACKEND = "tantivy"
#: Every backend ``build_index`` knows.
BACKENDS: tuple[str, ...] = ("tantivy", "bm25s", "lucene")


def available_backends() -> list[str]:
    """The backends usable on this machine: ``tantivy`` and ``bm25s`` always, ``lucene`` when pyserini, pyjnius
    and java are installed (checked without starting a JVM)."""
    return [name for name in BACKENDS if name != "lucene" or lucene_available()]


def build_index(
    docs: Iterable[tuple[str, str]], backend: str = "default", *, path: str | os.PathLike[str] | None = None
) -> Retriever:
    """Index ``(doc_id, text)`` pairs with ``backend`` and return the :class:`Retriever`.

    Doc ids are strings (others are converted with ``str``) and must be unique (``ValueError`` otherwise). With
    ``path`` the index is written straight into that directory (as :meth:`Retriever.save` would); without it, it
    lives in memory or a private temporary directory removed when the retriever is garbage-collected.
    """
    name = _resolve(backend)
    if name == "tantivy":
        from sdar_envs.retrieval.tantivy_backend import TantivyRetriever

        return TantivyRetriever.build(docs, path)
    if name == "bm25s":
        from sdar_envs.retrieval.bm25s_backend import Bm25sRetriever

        return Bm25sRetriever.build(docs, path)
    from sdar_envs.retrieval.lucene_backend import LuceneRetriever

    return LuceneRetriever.build(docs, path)


def load_index(path: str | os.PathLike[str]) -> Retriever:
    """Reopen an index saved with :meth:`Retriever.save` (or built with ``build_index(..., path=...)``).

    Raises ``FileNotFoundError`` when nothing is saved at ``path`` and :class:`IndexFormatError` when the directory
    is corrupt or from another version; both messages say how to rebuild.
    """
    path = Path(path)
    manifest = read_manifest(path)
    backend = manifest["backend"]
    if backend == "tantivy":
        from sdar_envs.retrieval.tantivy_backend import TantivyRetriever

        return TantivyRetriever.load(path, manifest)
    if backend == "bm25s":
        from sdar_envs.retrieval.bm25s_backend import Bm25sRetriever

        return Bm25sRetriever.load(path, manifest)
    if backend == "lucene":
        from sdar_envs.retrieval.lucene_backend import LuceneRetriever

        return LuceneRetriever.load(path, manifest)
    if backend == "http":
        settings = manifest["settings"]
        return HTTPRetriever(settings.get("url", ""), settings.get("timeout", 60.0), settings.get("retries", 3))
    raise IndexFormatError(f"{path} holds an index of unknown backend {backend!r}; {manifest['rebuild_hint']}")


def _resolve(backend: str) -> str:
    name = DEFAULT_BACKEND if backend == "default" else backend
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {['default', *BACKENDS]}")
    if name == "lucene" and not lucene_available():
        raise RuntimeError(
            "the lucene backend needs pyserini 0.25.0, pyjnius and a JDK 17 `java`: run `make install` on a machine "
            "with java, or `pip install --no-deps pyserini==0.25.0 && pip install pyjnius`; or use backend='default'"
        )
    return name
