"""``sdar-retriever``: a Search-R1-compatible ``/retrieve`` server over any retrieval backend.

::

    sdar-retriever serve --corpus corpus.jsonl --port 8000            # builds the default index in memory
    sdar-retriever index --corpus corpus.jsonl --index-dir runs/bm25  # build once, save
    sdar-retriever serve --corpus corpus.jsonl --index-dir runs/bm25  # reuse the saved index

API (Search-R1's ``search_r1/search/retrieval_server.py``, plus verl-agent's single-query form):

``POST /retrieve``
    body ``{"queries": ["q1", ...], "topk": 3, "return_scores": true}`` or ``{"query": "q1", "topk": 3,
    "return_scores": true}``; ``topk`` defaults to the server's ``--topk``, ``return_scores`` to ``false``.
    Answer: ``{"result": [[{"document": {"id": "12", "contents": "\\"Title\\"\\ntext"}, "score": 7.1}, ...], ...]}``,
    one inner list per query (one for the single form); without scores the inner items are the documents
    ``{"id", "contents"}``. A malformed request gets HTTP 400 with ``{"error": "..."}``.
``GET /health``
    ``{"status": "ok", "backend": "tantivy", "num_docs": 50000, "topk": 3, "max_queries": 1024, "max_results":
    10240, "max_topk": 1000}``.

Limits (each refused with a 400 naming it, before any search): a body of at most :data:`MAX_BODY_BYTES`, at most
``max_queries`` queries (default :data:`MAX_QUERIES`), ``topk`` at most :data:`MAX_TOPK`, and ``len(queries) x
topk`` at most ``max_results`` (default :data:`MAX_RESULTS`), which bounds the answer (about 10 MB of wiki-18
passages at the default) and the memory it takes. JSON nested too deeply to decode is a 400 as well. The listen
backlog is 128 connections, as the WebShop server's; every response carries ``X-Content-Type-Options: nosniff``.

The server is a stdlib ``ThreadingHTTPServer`` bound to 127.0.0.1 unless ``--host`` says otherwise (another host is
logged as a warning: the server has no authentication); it keeps the corpus contents in memory (about the corpus
file's size).
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from sdar_envs.retrieval import BACKENDS, Retriever, build_index, load_index, read_corpus
from sdar_envs.retrieval.retriever import MANIFEST_NAME

__all__ = ["MAX_BODY_BYTES", "MAX_QUERIES", "MAX_RESULTS", "MAX_TOPK", "RetrievalServer", "main", "serve_in_thread"]

log = logging.getLogger(__name__)

#: Largest request body accepted, in bytes.
MAX_BODY_BYTES = 8 * 1024 * 1024
#: Largest ``topk`` accepted.
MAX_TOPK = 1000
#: Most queries one request may hold (default of ``--max-queries``).
MAX_QUERIES = 1024
#: Most results one request may ask for, ``len(queries) * topk`` (default of ``--max-results``).
MAX_RESULTS = 10_240


class BadRequest(ValueError):
    """A request the server answers with HTTP 400."""


class RetrievalServer(ThreadingHTTPServer):
    """A threaded HTTP server answering ``/retrieve`` from ``retriever`` and ``corpus`` (doc id -> contents)."""

    daemon_threads = True
    # the listen backlog (socketserver's default is 5: bursts of new connections got resets and long stalls)
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        retriever: Retriever,
        corpus: Mapping[str, str],
        topk: int = 3,
        verbose: bool = False,
        *,
        max_queries: int = MAX_QUERIES,
        max_results: int = MAX_RESULTS,
    ) -> None:
        if max_queries < 1 or max_results < 1:
            raise ValueError(f"max_queries and max_results must be at least 1, got {max_queries} and {max_results}")
        self.retriever = retriever
        self.corpus = corpus
        self.topk = topk
        self.verbose = verbose
        self.max_queries = max_queries
        self.max_results = max_results
        super().__init__(address, _Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/retrieve"

    def retrieve(self, payload: Any) -> dict[str, Any]:
        """Answer one decoded request body (raises :class:`BadRequest` for a malformed one)."""
        if not isinstance(payload, dict):
            raise BadRequest('the body must be a JSON object such as {"queries": ["..."], "topk": 3}')
        if "queries" in payload:
            queries = payload["queries"]
            if not isinstance(queries, list) or not all(isinstance(q, str) for q in queries):
                raise BadRequest('"queries" must be a list of strings')
        elif "query" in payload:
            if not isinstance(payload["query"], str):
                raise BadRequest('"query" must be a string')
            queries = [payload["query"]]
        else:
            raise BadRequest('the body needs "queries" (a list of strings) or "query" (a string)')
        topk = payload.get("topk", self.topk)
        if topk is None:
            topk = self.topk
        if isinstance(topk, bool) or not isinstance(topk, int) or not 0 <= topk <= MAX_TOPK:
            raise BadRequest(f'"topk" must be an integer from 0 to {MAX_TOPK}')
        return_scores = payload.get("return_scores", False)
        if not isinstance(return_scores, bool):
            raise BadRequest('"return_scores" must be true or false')
        if len(queries) > self.max_queries:
            raise BadRequest(
                f"{len(queries)} queries in one request; this server takes at most {self.max_queries} "
                "(max_queries): split the batch"
            )
        if len(queries) * topk > self.max_results:
            raise BadRequest(
                f"{len(queries)} queries x topk {topk} = {len(queries) * topk} results; this server returns at most "
                f"{self.max_results} per request (max_results): send fewer queries or a smaller topk"
            )
        result = []
        for hits in self.retriever.batch_search(queries, topk):
            docs = [({"id": doc_id, "contents": self.corpus.get(doc_id, "")}, score) for doc_id, score in hits]
            if return_scores:
                result.append([{"document": doc, "score": score} for doc, score in docs])
            else:
                result.append([doc for doc, _ in docs])
        return {"result": result}

    def health(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "backend": self.retriever.backend,
            "num_docs": len(self.retriever),
            "topk": self.topk,
            "max_queries": self.max_queries,
            "max_results": self.max_results,
            "max_topk": MAX_TOPK,
        }


class _Handler(BaseHTTPRequestHandler):
    server: RetrievalServer
    protocol_version = "HTTP/1.1"  # keep-alive: clients reuse one connection
    # Headers and body go out in two writes; with Nagle's algorithm on, the second waits for the client's delayed
    # ACK (about 40 ms per request on Linux).
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/health":
            self._send(HTTPStatus.OK, self.server.health())
        else:
            self._send(
                HTTPStatus.NOT_FOUND, {"error": f"no such path {self.path!r}; use POST /retrieve or GET /health"}
            )

    def do_POST(self) -> None:
        if self.path.rstrip("/") != "/retrieve":
            self._send(HTTPStatus.NOT_FOUND, {"error": f"no such path {self.path!r}; use POST /retrieve"})
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._send(HTTPStatus.LENGTH_REQUIRED, {"error": "a Content-Length header is required"}, close=True)
            return
        if not 0 <= length <= MAX_BODY_BYTES:
            self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": f"body over {MAX_BODY_BYTES} bytes"}, close=True)
            return
        body = self.rfile.read(length)
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self._send(HTTPStatus.BAD_REQUEST, {"error": f"the body is not valid JSON: {exc}"})
            return
        except RecursionError:
            self._send(HTTPStatus.BAD_REQUEST, {"error": "the body nests JSON too deeply to decode"})
            return
        try:
            answer = self.server.retrieve(payload)
        except BadRequest as exc:
            self._send(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
            return
        except Exception as exc:  # a server must outlive any single bad search
            log.exception("search failed")
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"search failed: {type(exc).__name__}: {exc}"})
            return
        self._send(HTTPStatus.OK, answer)

    def _send(self, status: HTTPStatus, body: dict[str, Any], close: bool = False) -> None:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Content-Type-Options", "nosniff")
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")


def serve_in_thread(
    retriever: Retriever,
    corpus_texts: Mapping[str, str],
    host: str = "127.0.0.1",
    port: int = 0,
    topk: int = 3,
    **limits: int,
) -> tuple[RetrievalServer, str]:
    """Start a :class:`RetrievalServer` on a daemon thread; return it and its ``/retrieve`` URL.

    ``port=0`` picks a free port; ``limits`` are ``max_queries`` / ``max_results``. Stop it with
    ``server.shutdown(); server.server_close()``.
    """
    server = RetrievalServer((host, port), retriever, corpus_texts, topk=topk, **limits)
    threading.Thread(target=server.serve_forever, name="sdar-retriever", daemon=True).start()
    return server, server.url


def _open_index(corpus: dict[str, str], backend: str, index_dir: str | None) -> Retriever:
    if index_dir and (Path(index_dir) / MANIFEST_NAME).is_file():
        retriever = load_index(index_dir)
        if len(retriever) != len(corpus):
            raise SystemExit(
                f"the index at {index_dir} holds {len(retriever)} documents but the corpus has {len(corpus)}; "
                f"remove {index_dir} or pass another --index-dir to rebuild it"
            )
        return retriever
    return build_index(corpus.items(), backend=backend, path=index_dir)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="sdar-retriever", description="Search-R1-compatible BM25 /retrieve server")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (("serve", "serve POST /retrieve"), ("index", "build an index and save it")):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--corpus", required=True, help="Search-R1 corpus jsonl or jsonl.gz")
        sub.add_argument("--backend", default="default", choices=["default", *BACKENDS])
        sub.add_argument(
            "--index-dir",
            required=name == "index",
            help="saved index to reuse; built and saved there when missing (serve: optional, in memory otherwise)",
        )
        if name == "serve":
            sub.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
            sub.add_argument("--port", type=int, default=8000)
            sub.add_argument("--topk", type=int, default=3, help="results per query when a request gives none")
            sub.add_argument("--verbose", action="store_true", help="log every request to stderr")
            sub.add_argument(
                "--max-queries", type=int, default=MAX_QUERIES, help=f"queries per request (default {MAX_QUERIES})"
            )
            sub.add_argument(
                "--max-results",
                type=int,
                default=MAX_RESULTS,
                help=f"queries x topk per request (default {MAX_RESULTS})",
            )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        corpus = dict(read_corpus(args.corpus))
    except (FileNotFoundError, ValueError) as exc:
        raise SystemExit(str(exc)) from None
    log.info("read %d passages from %s", len(corpus), args.corpus)
    if args.command == "index":
        if (Path(args.index_dir) / MANIFEST_NAME).is_file():
            raise SystemExit(f"{args.index_dir} already holds an index; remove it first or choose another --index-dir")
        retriever = build_index(corpus.items(), backend=args.backend, path=args.index_dir)
        log.info("saved a %s index of %d passages to %s", retriever.backend, len(retriever), args.index_dir)
        return
    retriever = _open_index(corpus, args.backend, args.index_dir)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning(
            "WARNING: binding to %s exposes the server to every machine that can reach this one; it has no "
            "authentication",
            args.host,
        )
    server = RetrievalServer(
        (args.host, args.port),
        retriever,
        corpus,
        topk=args.topk,
        verbose=args.verbose,
        max_queries=args.max_queries,
        max_results=args.max_results,
    )
    log.info("%s backend, %d passages, serving POST %s (Ctrl-C stops)", retriever.backend, len(corpus), server.url)
    # Exit cleanly on SIGTERM too, so a temporary index directory is removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
