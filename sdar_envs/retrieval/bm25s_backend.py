"""BM25 with bm25s (numpy, pip-only): scores are precomputed per (term, document) into a sparse matrix at build time,
so a query sums a few columns and selects the top k.

Text is analysed by :mod:`sdar_envs.retrieval.analyzer` (the same terms as every other backend). Scoring is bm25s's
``lucene`` variant with pyserini's defaults k1=0.9, b=0.4 and exact document lengths. A query term repeated n times
counts n times, as in Lucene's bag-of-words query.

On disk: bm25s's ``*.index.npy`` / ``*.index.json`` files, ``ids.json`` (ordinal -> doc id) and ``manifest.json``.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import bm25s
import numpy as np

from sdar_envs.retrieval.analyzer import ANALYZER_SETTINGS, analyze
from sdar_envs.retrieval.retriever import (
    IndexFormatError,
    Retriever,
    check_analyzer,
    check_k,
    clean_query,
    read_doc_ids,
    unique_docs,
    write_doc_ids,
    write_manifest,
)

__all__ = ["Bm25sRetriever"]

K1 = 0.9
B = 0.4


class Bm25sRetriever(Retriever):
    """BM25 retrieval with bm25s. Build with :meth:`build`, reopen with :meth:`load`."""

    backend = "bm25s"

    def __init__(self, model: bm25s.BM25, ids: list[str]) -> None:
        self._model = model
        self._ids = ids
        self._vocab: dict[str, int] = model.vocab_dict
        # Position of each document's id in sorted id order: the tie-break key, as an array.
        order = sorted(range(len(ids)), key=ids.__getitem__)
        self._id_rank = np.empty(len(ids), dtype=np.int64)
        self._id_rank[order] = np.arange(len(ids), dtype=np.int64)

    @classmethod
    def build(cls, docs: Iterable[tuple[str, str]], path: str | os.PathLike[str] | None = None) -> Bm25sRetriever:
        """Index ``docs`` in memory; when ``path`` is given, also save there."""
        ids: list[str] = []
        corpus_terms: list[list[str]] = []
        for doc_id, text in unique_docs(docs):
            ids.append(doc_id)
            corpus_terms.append(analyze(text))
        model = bm25s.BM25(k1=K1, b=B, method="lucene")
        if ids:
            with _quiet_bm25s():
                model.index(corpus_terms, show_progress=False)
        else:
            model.vocab_dict = {}
        retriever = cls(model, ids)
        if path is not None:
            retriever.save(path)
        return retriever

    @classmethod
    def load(cls, path: Path, manifest: dict[str, Any]) -> Bm25sRetriever:
        hint = manifest["rebuild_hint"]
        check_analyzer(manifest, ANALYZER_SETTINGS)
        ids = read_doc_ids(path, manifest)
        try:
            with _quiet_bm25s():
                model = bm25s.BM25.load(str(path), show_progress=False, verbosity=0) if ids else bm25s.BM25()
        except (OSError, ValueError, KeyError) as exc:
            raise IndexFormatError(f"cannot read the bm25s index at {path} ({exc}); {hint}") from None
        if not ids:
            model.vocab_dict = {}
        if ids and model.scores.get("num_docs") != len(ids):
            raise IndexFormatError(f"the bm25s matrix at {path} does not hold {len(ids)} documents; {hint}")
        return cls(model, ids)

    def __len__(self) -> int:
        return len(self._ids)

    def search(self, query: str, k: int = 10) -> list[tuple[str, float]]:
        k = check_k(k)
        term_ids = [self._vocab[t] for t in analyze(clean_query(query)) if t in self._vocab and t]
        if not term_ids or k == 0:
            return []
        scores = self._model.get_scores_from_ids(term_ids)
        candidates = np.flatnonzero(scores)
        cand_scores = scores[candidates]
        if len(candidates) > k:
            # Keep every candidate tied with the k-th best, then order exactly (score desc, doc id asc).
            kth = np.partition(cand_scores, len(cand_scores) - k)[len(cand_scores) - k]
            keep = cand_scores >= kth
            candidates, cand_scores = candidates[keep], cand_scores[keep]
        order = np.lexsort((self._id_rank[candidates], -cand_scores))[:k]
        return [(self._ids[i], float(s)) for i, s in zip(candidates[order], cand_scores[order], strict=True)]

    def save(self, path: str | os.PathLike[str]) -> None:
        target = Path(path)
        target.mkdir(parents=True, exist_ok=True)
        if self._ids:
            with _quiet_bm25s():
                self._model.save(str(target), show_progress=False)
        write_doc_ids(target, self._ids)
        settings = {"k1": K1, "b": B, "method": "lucene", "analyzer": ANALYZER_SETTINGS}
        write_manifest(target, self.backend, importlib.metadata.version("bm25s"), settings, len(self._ids))


class _quiet_bm25s:
    """Silence bm25s's info logging for the duration of a block."""

    def __enter__(self) -> None:
        self._logger = logging.getLogger("bm25s")
        self._level = self._logger.level
        self._logger.setLevel(logging.WARNING)

    def __exit__(self, *exc: object) -> None:
        self._logger.setLevel(self._level)
