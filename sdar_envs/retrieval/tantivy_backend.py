"""BM25 over a tantivy index (Rust, pip-only).

Text is analysed in Python by :mod:`sdar_envs.retrieval.analyzer` and handed to tantivy as space-separated terms
(tantivy's ``whitespace`` tokenizer), so tantivy ranks exactly the terms the other backends rank. A query is a
bag-of-words ``BooleanQuery`` of ``SHOULD`` term queries (a term repeated n times is boosted n times, as Lucene's
bag-of-words query does); no query syntax is parsed. Scoring is tantivy's BM25 with its fixed k1=1.2, b=0.75 and
document lengths quantised to one byte, as in Lucene.

On disk: tantivy's segment files, ``ids.json`` (ordinal -> doc id) and ``manifest.json``.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import weakref
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import tantivy

from sdar_envs.retrieval.analyzer import ANALYZER_SETTINGS, analyze
from sdar_envs.retrieval.retriever import (
    IDS_NAME,
    IndexFormatError,
    Retriever,
    check_analyzer,
    check_k,
    clean_query,
    index_directory,
    rank,
    read_doc_ids,
    unique_docs,
    write_doc_ids,
    write_manifest,
)

__all__ = ["TantivyRetriever"]

_WRITER_HEAP_BYTES = 200_000_000
SETTINGS: dict[str, Any] = {"k1": 1.2, "b": 0.75, "analyzer": ANALYZER_SETTINGS}


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_unsigned_field("ord", stored=False, indexed=False, fast=True)
    builder.add_text_field("body", stored=False, tokenizer_name="whitespace", index_option="freq")
    return builder.build()


class TantivyRetriever(Retriever):
    """BM25 retrieval with tantivy. Build with :meth:`build`, reopen with :meth:`load`."""

    backend = "tantivy"

    def __init__(self, index_dir: Path, ids: list[str], *, owns_dir: bool) -> None:
        self._dir = index_dir
        self._ids = ids
        self._index = tantivy.Index.open(str(index_dir))
        self._schema = self._index.schema
        self._searcher = self._index.searcher()
        if self._searcher.num_docs != len(ids):
            raise IndexFormatError(
                f"tantivy index at {index_dir} holds {self._searcher.num_docs} documents but {IDS_NAME} lists "
                f"{len(ids)}; rebuild the index"
            )
        self._cleanup = weakref.finalize(self, shutil.rmtree, index_dir, True) if owns_dir else None

    @classmethod
    def build(cls, docs: Iterable[tuple[str, str]], path: str | os.PathLike[str] | None = None) -> TantivyRetriever:
        """Index ``docs`` into directory ``path`` (a private temporary directory when ``None``)."""
        with index_directory(path, "sdar-tantivy-") as (index_dir, owns_dir):
            retriever = cls(index_dir, _write_index(index_dir, docs), owns_dir=owns_dir)
        if not owns_dir:
            retriever._write_manifest(index_dir)
        return retriever

    @classmethod
    def load(cls, path: Path, manifest: dict[str, Any]) -> TantivyRetriever:
        check_analyzer(manifest, ANALYZER_SETTINGS)
        ids = read_doc_ids(path, manifest)
        try:
            return cls(path, ids, owns_dir=False)
        except ValueError as exc:
            hint = manifest["rebuild_hint"]
            raise IndexFormatError(f"cannot open the tantivy index at {path} ({exc}); {hint}") from None

    def __len__(self) -> int:
        return len(self._ids)

    def search(self, query: str, k: int = 10) -> list[tuple[str, float]]:
        k = check_k(k)
        terms = Counter(analyze(clean_query(query)))
        if not terms or k == 0 or not self._ids:
            return []
        clauses = []
        for term, count in terms.items():
            clause = tantivy.Query.term_query(self._schema, "body", term)
            if count > 1:
                clause = tantivy.Query.boost_query(clause, float(count))
            clauses.append((tantivy.Occur.Should, clause))
        bag = tantivy.Query.boolean_query(clauses)
        limit = k + 8
        while True:
            hits = self._searcher.search(bag, limit, count=False).hits
            # Fetch more while the k-th score is tied beyond the fetched window, so the doc-id tie-break is exact.
            if len(hits) < limit or hits[-1][0] < hits[k - 1][0] or limit >= len(self._ids):
                break
            limit *= 4
        if len(hits) > k:
            kth = hits[k - 1][0]
            hits = [hit for hit in hits if hit[0] >= kth]
        ords = self._searcher.fast_field_values("ord", [address for _, address in hits])
        return rank(((self._ids[o], score) for (score, _), o in zip(hits, ords, strict=True)), k)

    def save(self, path: str | os.PathLike[str]) -> None:
        target = Path(path)
        if target.resolve() != self._dir.resolve():
            target.mkdir(parents=True, exist_ok=True)
            for item in self._dir.iterdir():
                if item.is_file() and not item.name.startswith(".tantivy-"):  # skip lock files
                    shutil.copy2(item, target / item.name)
        self._write_manifest(target)

    def _write_manifest(self, target: Path) -> None:
        write_doc_ids(target, self._ids)
        write_manifest(target, self.backend, importlib.metadata.version("tantivy"), SETTINGS, len(self._ids))


def _write_index(index_dir: Path, docs: Iterable[tuple[str, str]]) -> list[str]:
    index = tantivy.Index(_schema(), path=str(index_dir), reuse=False)
    writer = index.writer(heap_size=_WRITER_HEAP_BYTES, num_threads=1)
    ids: list[str] = []
    for doc_id, text in unique_docs(docs):
        document = tantivy.Document()
        document.add_unsigned("ord", len(ids))
        document.add_text("body", " ".join(analyze(text)))
        writer.add_document(document)
        ids.append(doc_id)
    writer.commit()
    writer.wait_merging_threads()
    return ids
