"""The :class:`Retriever` interface, the on-disk manifest, and the ranking rule every backend shares.

Ranking rule: results are ordered by BM25 score, highest first; equal scores are ordered by doc id (string order), so
the same index and query always give the same list. Documents that match no query term are never returned.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "IDS_NAME",
    "MANIFEST_NAME",
    "IndexFormatError",
    "Retriever",
    "check_analyzer",
    "clean_query",
    "index_directory",
    "rank",
    "read_doc_ids",
    "read_manifest",
    "unique_docs",
    "write_doc_ids",
    "write_manifest",
]

#: File name of the manifest inside a saved index directory.
MANIFEST_NAME = "manifest.json"
#: File name of the doc-id list (JSON, ordinal -> doc id) of the backends whose engine stores ordinals only.
IDS_NAME = "ids.json"
#: Format tag and version written in every manifest; bumped when the directory layout changes.
FORMAT = "sdar-retrieval-index"
FORMAT_VERSION = 1


class IndexFormatError(ValueError):
    """A saved index directory is incomplete, corrupt, or from an incompatible version. The message says what to do."""


class Retriever(ABC):
    """A searchable collection of ``(doc_id, text)`` documents.

    ``search(query, k)`` returns up to ``k`` ``(doc_id, score)`` pairs, best first, ties broken by doc id; it never
    raises on query text (any ``str``: quotes, colons, brackets, boolean words, empty, unicode) and returns ``[]``
    when no document matches. Query syntax is never interpreted: the query is a bag of words.
    """

    #: ``"tantivy"``, ``"bm25s"``, ``"lucene"`` or ``"http"``.
    backend: str

    @abstractmethod
    def search(self, query: str, k: int = 10) -> list[tuple[str, float]]:
        """The ``k`` best ``(doc_id, score)`` pairs for ``query``; scores are BM25 scores (higher is better)."""

    def batch_search(self, queries: Sequence[str], k: int = 10) -> list[list[tuple[str, float]]]:
        """``[search(q, k) for q in queries]``; backends override it where batching is faster."""
        return [self.search(query, k) for query in queries]

    @abstractmethod
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index to directory ``path`` (created if missing) with a ``manifest.json``; reopen with
        :func:`sdar_envs.retrieval.load_index`."""

    @abstractmethod
    def __len__(self) -> int:
        """Number of indexed documents."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} backend={self.backend!r} docs={len(self)}>"


def clean_query(query: object) -> str:
    """``query`` as text that every backend accepts: non-strings become ``""``, lone surrogates become ``?`` and NUL
    characters become spaces (neither can cross into Rust or Java)."""
    if not isinstance(query, str):
        return ""
    if query.isascii():
        return query.replace("\x00", " ")
    return query.encode("utf-8", "replace").decode("utf-8").replace("\x00", " ")


def rank(hits: Iterable[tuple[str, float]], k: int) -> list[tuple[str, float]]:
    """The ``k`` best of ``hits`` under the ranking rule (score descending, then doc id ascending)."""
    if k <= 0:
        return []
    return sorted(hits, key=lambda hit: (-hit[1], hit[0]))[:k]


def check_k(k: object) -> int:
    """``k`` as a non-negative int (negative counts as 0); ``TypeError`` for anything that is not an integer."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise TypeError(f"k must be an int, got {type(k).__name__}")
    return max(int(k), 0)


def check_analyzer(manifest: dict[str, Any], current: dict[str, Any]) -> None:
    """Raise :class:`IndexFormatError` when a saved index was analysed differently from what this code does now
    (its query terms would no longer match its index terms)."""
    saved = manifest["settings"].get("analyzer")
    if saved != current:
        raise IndexFormatError(
            f"the index was built with analyzer settings {saved}, this code analyses text with {current}; "
            f"{manifest['rebuild_hint']}"
        )


def write_manifest(
    path: str | os.PathLike[str], backend: str, backend_version: str, settings: dict[str, Any], num_docs: int
) -> None:
    """Write ``manifest.json`` into ``path``: format, backend, backend library version, settings, doc count."""
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "backend": backend,
        "backend_version": backend_version,
        "settings": settings,
        "num_docs": num_docs,
    }
    (Path(path) / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check ``manifest.json`` of a saved index.

    Raises ``FileNotFoundError`` when ``path`` or its manifest is missing, :class:`IndexFormatError` when the
    manifest is unreadable or of another format; both messages say how to rebuild.
    """
    path = Path(path)
    rebuild = (
        f"rebuild it with `sdar_envs.retrieval.build_index(docs, backend=...).save({str(path)!r})` "
        f"or `sdar-retriever index --corpus CORPUS --index-dir {path}`"
    )
    if not path.is_dir():
        raise FileNotFoundError(f"no retrieval index at {path}; {rebuild}")
    manifest_path = path / MANIFEST_NAME
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{path} has no {MANIFEST_NAME}, so it is not a saved retrieval index; {rebuild}")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexFormatError(f"the index manifest {manifest_path} is corrupt ({exc}); {rebuild}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise IndexFormatError(f"{manifest_path} is not a {FORMAT} manifest; {rebuild}")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexFormatError(
            f"{path} has index format version {manifest.get('format_version')}, this code reads version "
            f"{FORMAT_VERSION}; {rebuild}"
        )
    for key, kind in (("backend", str), ("num_docs", int), ("settings", dict)):
        if not isinstance(manifest.get(key), kind):
            raise IndexFormatError(f"{manifest_path} lacks a valid {key!r}; {rebuild}")
    manifest["rebuild_hint"] = rebuild
    return manifest


def unique_docs(docs: Iterable[tuple[object, str]]) -> Iterator[tuple[str, str]]:
    """``docs`` with their ids as ``str``; ``ValueError`` at the first repeated id (every backend needs unique ids)."""
    seen: set[str] = set()
    for doc_id, text in docs:
        doc_id = str(doc_id)
        if doc_id in seen:
            raise ValueError(f"duplicate doc id {doc_id!r}; every document needs a unique id")
        seen.add(doc_id)
        yield doc_id, text


def write_doc_ids(path: Path, ids: Sequence[str]) -> None:
    """Write the ordinal -> doc id list into ``path`` (:data:`IDS_NAME`)."""
    (path / IDS_NAME).write_text(json.dumps(list(ids), ensure_ascii=False), encoding="utf-8")


def read_doc_ids(path: Path, manifest: dict[str, Any]) -> list[str]:
    """The doc ids :func:`write_doc_ids` saved in ``path``; :class:`IndexFormatError` when the file is unreadable or
    does not list the manifest's ``num_docs`` ids."""
    hint = manifest["rebuild_hint"]
    try:
        ids = json.loads((path / IDS_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexFormatError(f"cannot read {path / IDS_NAME} ({exc}); {hint}") from None
    if not isinstance(ids, list) or len(ids) != manifest["num_docs"]:
        raise IndexFormatError(f"{path / IDS_NAME} does not list {manifest['num_docs']} doc ids; {hint}")
    return ids


@contextlib.contextmanager
def index_directory(path: str | os.PathLike[str] | None, prefix: str) -> Iterator[tuple[Path, bool]]:
    """``(directory, owned)`` to build an on-disk index in: ``path`` (created), or, when ``None``, a private temporary
    directory (``owned``; the retriever removes it when it is garbage-collected) that is removed at once if the
    build fails."""
    owned = path is None
    directory = Path(tempfile.mkdtemp(prefix=prefix)) if path is None else Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    try:
        yield directory, owned
    except BaseException:
        if owned:
            shutil.rmtree(directory, ignore_errors=True)
        raise
