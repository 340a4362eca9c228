"""Where an env's questions and passages come from: the generated set (default) or real Search-R1 data.

:func:`load_dataset` returns, for a :class:`DatasetSpec`, a :class:`SearchQADataset` - the QA records of every
split it knows, and a search function returning passages - and memoises it per process, so the envs of a
``SyncVectorEnv`` share one corpus and one index.

Sources (the spec's fields), in order of precedence:

``retriever_url=``
    a Search-R1 style ``/retrieve`` server (:class:`~sdar_envs.retrieval.HTTPRetriever`) returns the passages; no
    local corpus is needed. Questions come from ``qa_path`` (required).
``corpus_path=`` + ``qa_path=``
    a Search-R1 corpus jsonl(.gz) indexed locally with ``backend``; ``index_path`` reuses (or stores) the index.
neither (default)
    the generated set for ``(seed, num_passages)``, created on first use under ``data_dir`` (default
    :func:`~sdar_envs.searchqa.generator.cache_root`) with its index beside it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from threading import Lock

from sdar_envs.retrieval import HTTPRetriever, IndexFormatError, Retriever, build_index, load_index
from sdar_envs.searchqa.generator import DEFAULT_NUM_PASSAGES, DEFAULT_SEED, SPLITS, cache_root, ensure_dataset
from sdar_envs.searchqa.loaders import QARecord, read_corpus, read_qa

__all__ = ["DatasetSpec", "SearchQADataset", "load_dataset"]

_PathArg = str | os.PathLike[str] | None


@dataclass(frozen=True)
class DatasetSpec:
    """Where an env's questions and passages come from (the module docstring); the one definition of Search-QA's data
    arguments, which :class:`~sdar_envs.searchqa.env.SearchQAEnv` takes as keywords of the same names.

    Attributes:
        seed, num_passages: which generated set (default seed and about 50k passages).
        data_dir: where the generated set is cached (default :func:`~sdar_envs.searchqa.generator.cache_root`).
        corpus_path, qa_path, index_path, retriever_url: real data (the module docstring).
        backend: retrieval engine for local corpora (``"default"``, ``"tantivy"``, ``"bm25s"``, ``"lucene"``).
    """

    seed: int = DEFAULT_SEED
    num_passages: int = DEFAULT_NUM_PASSAGES
    data_dir: _PathArg = None
    corpus_path: _PathArg = None
    qa_path: _PathArg = None
    index_path: _PathArg = None
    retriever_url: str | None = None
    backend: str = "default"

    def cache_key(self, split: str) -> tuple:
        """What makes two loads the same dataset: every field (``data_dir`` resolved now, as ``SDAR_CACHE`` may
        change between calls) and, for a ``qa_path``, the split it is labelled with."""
        root = self.data_dir if self.data_dir is not None else cache_root()
        paths = (str(root), str(self.corpus_path), str(self.qa_path), str(self.index_path))
        key = (self.seed, self.num_passages, *paths, self.retriever_url, self.backend)
        return (*key, split if self.qa_path is not None else "")


@dataclass
class SearchQADataset:
    """Questions by split and a passage search.

    ``search(query, k)`` returns up to ``k`` ``(doc_id, contents)`` pairs, best first; ``contents`` is the Search-R1
    ``"\\"Title\\"\\ntext"`` string. ``documents`` maps doc id -> contents for a local corpus (None behind a
    ``/retrieve`` server, which serves passages by query only).
    """

    splits: Mapping[str, list[QARecord]]
    search: Callable[[str, int], list[tuple[str, str]]]
    description: str
    retriever: Retriever
    documents: Mapping[str, str] | None = None


def _local_search(retriever: Retriever, contents: Mapping[str, str]) -> Callable[[str, int], list[tuple[str, str]]]:
    def search(query: str, k: int) -> list[tuple[str, str]]:
        return [(doc_id, contents[doc_id]) for doc_id, _ in retriever.search(query, k)]

    return search


def _http_search(retriever: HTTPRetriever) -> Callable[[str, int], list[tuple[str, str]]]:
    def search(query: str, k: int) -> list[tuple[str, str]]:
        return [(doc_id, text) for doc_id, text, _ in retriever.search_documents(query, k)]

    return search


def _index(
    corpus: list[tuple[str, str]], backend: str, index_path: Path | None, *, rebuild_stale: bool = False
) -> Retriever:
    """Open the index at ``index_path`` or build it there (atomically: concurrent builders keep one result).

    With ``rebuild_stale`` (indexes the cache owns) an index from an older retrieval version is rebuilt; a user's
    ``index_path`` is never deleted, its error says how to rebuild.
    """
    if index_path is None:
        return build_index(corpus, backend=backend)
    if (index_path / "manifest.json").is_file():
        try:
            return load_index(index_path)
        except IndexFormatError:
            if not rebuild_stale:
                raise
            shutil.rmtree(index_path, ignore_errors=True)
    try:
        index_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{index_path.name}-", dir=index_path.parent))
        try:
            build_index(corpus, backend=backend, path=tmp / "index")
            try:
                (tmp / "index").rename(index_path)
            except OSError:
                if not (index_path / "manifest.json").is_file():
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    except OSError as err:
        raise type(err)(
            err.errno,
            f"cannot write the search index under {index_path.parent} ({err.strerror or err}); set SDAR_CACHE (or "
            "index_path=) to a writable directory with free space",
        ) from err
    return load_index(index_path)


_CACHE: dict[tuple, SearchQADataset] = {}
_LOCK = Lock()


def load_dataset(spec: DatasetSpec | None = None, *, split: str = "train") -> SearchQADataset:
    """The dataset of ``spec`` (default: the generated set), loaded once per process. ``split`` labels the questions
    of a ``qa_path`` (the generated set has all its splits)."""
    spec = spec if spec is not None else DatasetSpec()
    key = spec.cache_key(split)
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = _load(spec, split)
        return _CACHE[key]


def _load(spec: DatasetSpec, split: str) -> SearchQADataset:
    qa_path, corpus_path, retriever_url, backend = spec.qa_path, spec.corpus_path, spec.retriever_url, spec.backend
    index_path = Path(spec.index_path) if spec.index_path is not None else None
    if retriever_url is not None or corpus_path is not None:
        if qa_path is None:
            raise ValueError(
                "qa_path= is required with corpus_path= or retriever_url=: pass a Search-R1 QA parquet/jsonl file"
            )
        splits = {split: read_qa(qa_path)}
        if retriever_url is not None:
            retriever = HTTPRetriever(retriever_url)
            return SearchQADataset(splits, _http_search(retriever), f"{qa_path} via {retriever_url}", retriever)
        corpus = list(read_corpus(corpus_path))
        retriever = _index(corpus, backend, index_path)
        documents = dict(corpus)
        return SearchQADataset(
            splits, _local_search(retriever, documents), f"{qa_path} over {corpus_path}", retriever, documents
        )
    if qa_path is not None:
        raise ValueError(
            "qa_path= needs its corpus: pass corpus_path= (a Search-R1 corpus jsonl) or retriever_url= (a /retrieve "
            "server); leave all three out to use the generated data"
        )
    directory = ensure_dataset(spec.seed, spec.num_passages, spec.data_dir)
    splits = {name: read_qa(directory / f"{name}.jsonl") for name in SPLITS}
    corpus = list(read_corpus(directory / "corpus.jsonl"))
    if index_path is not None:
        retriever = _index(corpus, backend, index_path)
    else:
        retriever = _index(corpus, backend, directory / f"index-{backend}", rebuild_stale=True)
    documents = dict(corpus)
    return SearchQADataset(splits, _local_search(retriever, documents), str(directory), retriever, documents)
