"""Client for a Search-R1-style ``/retrieve`` server (Search-R1's own, verl-agent's, or ``sdar-retriever serve``).

Two request forms exist in the wild; the client speaks both:

* Search-R1 (``search_r1/search/retrieval_server.py``): ``{"queries": [q1, q2], "topk": k, "return_scores": true}``
* verl-agent (``examples/search/retriever/retrieval_server.py``): ``{"query": q, "topk": k, "return_scores": true}``

Both answer ``{"result": [[{"document": {"id": ..., "contents": ...}, "score": s}, ...], ...]}``, one inner list per
query (without scores the inner items are the documents themselves). The client sends the list form first and
falls back to one single-query request per query when the server rejects it with a 4xx status, remembering the
form that worked. Large batches go out in chunks of at most :data:`MAX_BATCH_QUERIES` queries and
:data:`MAX_BATCH_RESULTS` results (queries x k), the default limits of ``sdar-retriever serve``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests

from sdar_envs.retrieval.retriever import Retriever, check_k, clean_query, write_manifest

__all__ = ["MAX_BATCH_QUERIES", "MAX_BATCH_RESULTS", "HTTPRetriever", "RetrievalServerError"]

#: Most queries, and most queries x k, one request carries (``sdar-retriever``'s default --max-queries and
#: --max-results; kept equal to them by a test).
MAX_BATCH_QUERIES = 1024
MAX_BATCH_RESULTS = 10_240

_BACKOFF_S = 0.5
_BACKOFF_MAX_S = 8.0
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class RetrievalServerError(ConnectionError):
    """The retrieval server could not be reached or gave an unusable answer; the message names the URL."""


class HTTPRetriever(Retriever):
    """The :class:`~sdar_envs.retrieval.Retriever` API over a remote ``/retrieve`` endpoint.

    Arguments:
        url: the full endpoint, e.g. ``http://127.0.0.1:8000/retrieve``.
        timeout: seconds to wait for one HTTP response.
        retries: extra attempts after a connection error, a timeout or a 429/5xx answer, with exponential backoff
            (0.5 s, 1 s, 2 s, ... capped at 8 s). After the last one a :class:`RetrievalServerError` naming the
            URL is raised.

    Scores are the server's (``0.0`` when the server sends none); order is the server's.
    """

    backend = "http"

    def __init__(self, url: str = "http://127.0.0.1:8000/retrieve", timeout: float = 60.0, retries: int = 3) -> None:
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
            raise ValueError(f"url must be an http(s) URL such as http://127.0.0.1:8000/retrieve, got {url!r}")
        self.url = url
        self.timeout = float(timeout)
        self.retries = max(int(retries), 0)
        self._session = requests.Session()
        self._payload_form: str | None = None  # "queries" or "query" once known

    def search(self, query: str, k: int = 10) -> list[tuple[str, float]]:
        return [(doc_id, score) for doc_id, _, score in self.search_documents(query, k)]

    def batch_search(self, queries: Sequence[str], k: int = 10) -> list[list[tuple[str, float]]]:
        return [[(d, s) for d, _, s in docs] for docs in self.batch_search_documents(queries, k)]

    def search_documents(self, query: str, k: int = 10) -> list[tuple[str, str, float]]:
        """The server's top ``k`` for ``query`` as ``(doc_id, contents, score)``; ``contents`` is the passage text
        as the server holds it (Search-R1: ``"\\"Title\\"\\ntext"``)."""
        return self.batch_search_documents([query], k)[0]

    def batch_search_documents(self, queries: Sequence[str], k: int = 10) -> list[list[tuple[str, str, float]]]:
        """:meth:`search_documents` for several queries, in one request per chunk (module docstring) when the
        server takes the list form."""
        k = check_k(k)
        queries = [clean_query(q) for q in queries]
        if not queries or k == 0:
            return [[] for _ in queries]
        size = max(1, min(MAX_BATCH_QUERIES, MAX_BATCH_RESULTS // k))
        if len(queries) > size:
            out: list[list[tuple[str, str, float]]] = []
            for start in range(0, len(queries), size):
                out.extend(self.batch_search_documents(queries[start : start + size], k))
            return out
        if self._payload_form != "query":
            response = self._post({"queries": queries, "topk": k, "return_scores": True})
            if response.status_code == 200:
                results = self._results(response, expected=len(queries))
                self._payload_form = "queries"
                return [_documents(items) for items in results]
            if self._payload_form == "queries" or not 400 <= response.status_code < 500:
                raise self._bad_status(response)
            self._payload_form = "query"  # the server rejected the list form: use one request per query
        out = []
        for query in queries:
            response = self._post({"query": query, "topk": k, "return_scores": True})
            if response.status_code != 200:
                raise self._bad_status(response)
            out.append(_documents(self._results(response, expected=1)[0]))
        return out

    def health(self) -> dict[str, Any]:
        """``GET /health`` next to the endpoint (served by ``sdar-retriever``; other servers may lack it)."""
        parts = urlsplit(self.url)
        base = parts.path.rsplit("/", 1)[0] if parts.path.endswith("/retrieve") else parts.path.rstrip("/")
        url = urlunsplit((parts.scheme, parts.netloc, base + "/health", "", ""))
        try:
            response = self._session.get(url, timeout=self.timeout)
            response.raise_for_status()
            return response.json()
        except (requests.RequestException, ValueError) as exc:
            raise RetrievalServerError(f"no health report from {url} ({exc})") from None

    def __len__(self) -> int:
        """Number of documents the server holds, from ``GET /health`` (``sdar-retriever`` servers only)."""
        num_docs = self.health().get("num_docs")
        if not isinstance(num_docs, int):
            raise RetrievalServerError(f"the server at {self.url} does not report its document count")
        return num_docs

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return f"<HTTPRetriever url={self.url!r}>"

    def save(self, path: str | os.PathLike[str]) -> None:
        """Record the endpoint (URL, timeout, retries) so :func:`~sdar_envs.retrieval.load_index` reconnects."""
        target = Path(path)
        target.mkdir(parents=True, exist_ok=True)
        settings = {"url": self.url, "timeout": self.timeout, "retries": self.retries}
        write_manifest(target, self.backend, requests.__version__, settings, 0)

    def _post(self, payload: dict[str, Any]) -> requests.Response:
        last_error = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(min(_BACKOFF_S * 2 ** (attempt - 1), _BACKOFF_MAX_S))
            try:
                response = self._session.post(self.url, json=payload, timeout=self.timeout)
            except requests.Timeout:
                last_error = f"no answer within {self.timeout:g} s"
                continue
            except requests.RequestException as exc:
                last_error = f"{type(exc).__name__}: {exc}"
                continue
            if response.status_code in _RETRY_STATUS:
                last_error = f"HTTP {response.status_code}: {response.text[:200]}"
                continue
            return response
        raise RetrievalServerError(
            f"retrieval server at {self.url} failed after {self.retries + 1} attempts ({last_error}); start one with "
            f"`sdar-retriever serve --corpus CORPUS.jsonl --port {urlsplit(self.url).port or 80}` or fix the URL"
        )

    def _results(self, response: requests.Response, expected: int) -> list[list[Any]]:
        try:
            body = response.json()
        except ValueError:
            raise RetrievalServerError(f"{self.url} answered non-JSON: {response.text[:200]!r}") from None
        result = body.get("result") if isinstance(body, dict) else None
        if isinstance(result, list) and expected == 1 and result and not isinstance(result[0], list):
            result = [result]  # a single-query server that answers a flat list
        if isinstance(result, list) and expected == 1 and not result:
            result = [[]]
        if not isinstance(result, list) or len(result) != expected or not all(isinstance(r, list) for r in result):
            raise RetrievalServerError(
                f"{self.url} answered {json.dumps(body)[:200]}; expected "
                f'{{"result": [[...], ...]}} with {expected} list(s) of documents'
            )
        return result

    def _bad_status(self, response: requests.Response) -> RetrievalServerError:
        return RetrievalServerError(
            f"retrieval server at {self.url} answered HTTP {response.status_code}: {response.text[:300]}"
        )


def _documents(items: list[Any]) -> list[tuple[str, str, float]]:
    docs = []
    for item in items:
        doc, score = item, 0.0
        if isinstance(item, dict) and isinstance(item.get("document"), dict):
            doc, score = item["document"], item.get("score", 0.0)
        if isinstance(doc, dict):
            contents = doc.get("contents")
            if not isinstance(contents, str):
                contents = f'"{doc.get("title", "")}"\n{doc.get("text", "")}'
            doc_id = str(doc.get("id", doc.get("doc_id", "")))
        else:
            doc_id, contents = "", str(doc)
        try:
            score = float(score)
        except (TypeError, ValueError):
            score = 0.0
        docs.append((doc_id, contents, score))
    return docs
