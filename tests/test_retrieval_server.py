"""``sdar-retriever`` and :class:`HTTPRetriever`: Search-R1's /retrieve API over loopback, both payload forms."""

from __future__ import annotations

import json
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sdar_envs.retrieval import HTTPRetriever, RetrievalServerError, available_backends, build_index, load_index
from sdar_envs.retrieval.http_client import MAX_BATCH_QUERIES, MAX_BATCH_RESULTS
from sdar_envs.retrieval.server import MAX_QUERIES, MAX_RESULTS, main, serve_in_thread

CORPUS = {
    "0": '"Evan Morris"\nEvan Morris was a lobbyist for the Veloria shipping guild.',
    "1": '"Veloria"\nVeloria is a fictional island nation whose capital is Port Annis.',
    "2": '"Port Annis"\nPort Annis is the capital and largest harbour of Veloria.',
    "3": '"Quelton"\nQuelton is an inland town known for horse fairs.',
}


@pytest.fixture(scope="module")
def server():
    index = build_index(CORPUS.items(), backend="bm25s")
    srv, url = serve_in_thread(index, CORPUS)
    yield srv, url, index
    srv.shutdown()
    srv.server_close()


def test_server_binds_to_loopback_by_default(server):
    srv, url, _ = server
    assert srv.server_address[0] == "127.0.0.1"
    assert url.startswith("http://127.0.0.1:") and url.endswith("/retrieve")


def test_list_payload_returns_one_ranked_list_per_query(server):
    _, url, index = server
    body = {"queries": ["largest harbour", "horse fairs"], "topk": 2, "return_scores": True}
    result = requests.post(url, json=body, timeout=10).json()["result"]
    assert len(result) == 2
    first = result[0][0]
    assert first["document"] == {"id": "2", "contents": CORPUS["2"]}
    assert first["score"] == pytest.approx(index.search("largest harbour", 1)[0][1])
    assert [d["document"]["id"] for d in result[1]] == ["3"]


def test_single_query_payload_returns_the_same_list_of_lists_shape(server):
    _, url, index = server
    body = {"query": "capital of Veloria", "topk": 2, "return_scores": True}
    result = requests.post(url, json=body, timeout=10).json()["result"]
    assert len(result) == 1
    assert [d["document"]["id"] for d in result[0]] == [d for d, _ in index.search("capital of Veloria", 2)]
    assert {d["document"]["id"] for d in result[0]} == {"1", "2"}


def test_without_return_scores_the_items_are_bare_documents(server):
    _, url, _ = server
    result = requests.post(url, json={"queries": ["Evan Morris"]}, timeout=10).json()["result"]
    assert result == [[{"id": "0", "contents": CORPUS["0"]}]]


def test_topk_defaults_to_the_server_setting(server):
    _, url, _ = server
    result = requests.post(url, json={"query": "Veloria capital Port Annis harbour"}, timeout=10).json()["result"]
    assert len(result[0]) == 3


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b"{}", '"queries"'),
        (b'{"queries": "one string"}', "list of strings"),
        (b'{"query": 5}', "must be a string"),
        (b'{"query": "x", "topk": -1}', "topk"),
        (b'{"query": "x", "topk": "3"}', "topk"),
        (b'{"query": "x", "return_scores": "yes"}', "return_scores"),
        (b"\xff\xfe", "not valid JSON"),
    ],
)
def test_bad_requests_get_400_with_a_json_error_and_the_server_keeps_serving(server, body, message):
    _, url, _ = server
    response = requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert requests.post(url, json={"query": "Veloria"}, timeout=10).status_code == 200


def test_unknown_paths_get_404_and_health_reports_the_index(server):
    _, url, _ = server
    base = url.rsplit("/", 1)[0]
    assert requests.get(base + "/nope", timeout=10).status_code == 404
    assert requests.post(base + "/search", json={"query": "x"}, timeout=10).status_code == 404
    assert requests.get(base + "/health", timeout=10).json() == {
        "status": "ok",
        "backend": "bm25s",
        "num_docs": 4,
        "topk": 3,
        "max_queries": 1024,
        "max_results": 10240,
        "max_topk": 1000,
    }


@pytest.mark.parametrize(
    ("queries", "topk", "message"),
    [
        (3000, 1000, "3000 queries in one request; this server takes at most 1024 (max_queries)"),
        (1000, 1000, "1000 queries x topk 1000 = 1000000 results; this server returns at most 10240 per request"),
        (11, 1000, "11 queries x topk 1000 = 11000 results"),
    ],
)
def test_queries_times_topk_is_capped_with_a_400_naming_the_limit(server, queries, topk, message):
    _, url, _ = server
    body = {"queries": ["harbour"] * queries, "topk": topk, "return_scores": True}
    response = requests.post(url, json=body, timeout=30)
    assert response.status_code == 400 and message in response.json()["error"]
    assert requests.post(url, json={"queries": ["harbour"] * 10, "topk": 1000}, timeout=10).status_code == 200


def test_deeply_nested_json_gets_a_400_not_a_dropped_connection(server):
    _, url, _ = server
    response = requests.post(url, data=b"[" * 100_000, headers={"Content-Type": "application/json"}, timeout=10)
    assert response.status_code == 400 and "nests JSON too deeply" in response.json()["error"]
    assert requests.post(url, json={"query": "Veloria"}, timeout=10).status_code == 200


def test_every_response_says_nosniff(server):
    _, url, _ = server
    base = url.rsplit("/", 1)[0]
    answers = [
        requests.get(base + "/health", timeout=10),
        requests.get(base + "/<script>", timeout=10),
        requests.post(url, data=b"{", timeout=10),
        requests.post(url, json={"query": "x"}, timeout=10),
    ]
    assert [a.headers["X-Content-Type-Options"] for a in answers] == ["nosniff"] * 4


def test_a_burst_of_new_connections_is_queued_not_reset(server):
    srv, url, _ = server
    assert srv.request_queue_size == 128  # the WebShop server's backlog (socketserver's default is 5)
    barrier = threading.Barrier(64)

    def one_new_connection(_):
        barrier.wait()
        with requests.Session() as session:
            return session.post(url, json={"query": "harbour"}, timeout=10).status_code

    with ThreadPoolExecutor(64) as pool:
        assert list(pool.map(one_new_connection, range(64))) == [200] * 64


def test_the_client_splits_a_large_batch_into_requests_the_server_takes(server):
    _, url, index = server
    queries = [f"harbour {i}" for i in range(1500)] + ["horse fairs"]
    results = HTTPRetriever(url).batch_search(queries, 10)  # 1501 x 10 would be over both limits in one request
    assert len(results) == 1501 and results[-1] == index.search("horse fairs", 10)
    assert (MAX_BATCH_QUERIES, MAX_BATCH_RESULTS) == (MAX_QUERIES, MAX_RESULTS)


def test_client_round_trip_matches_the_local_index(server):
    _, url, index = server
    client = HTTPRetriever(url, timeout=10, retries=0)
    assert client.search("capital of Veloria", k=3) == index.search("capital of Veloria", k=3)
    assert client.batch_search(["Evan Morris", "", "zzz"], k=2) == index.batch_search(["Evan Morris", "", "zzz"], k=2)
    doc_id, contents, score = client.search_documents("Quelton horse", k=1)[0]
    assert (doc_id, contents) == ("3", CORPUS["3"]) and score > 0
    assert len(client) == 4
    assert client.search("title:(Veloria AND \x00 \ud800", k=1)[0][0] in CORPUS


def test_client_reconnects_through_a_saved_manifest(server, tmp_path):
    _, url, _ = server
    HTTPRetriever(url, timeout=5, retries=1).save(tmp_path / "remote")
    client = load_index(tmp_path / "remote")
    assert client.backend == "http"
    assert client.search("Evan Morris", k=1)[0][0] == "0"


class _SingleQueryOnly(BaseHTTPRequestHandler):
    """A verl-agent style server: accepts only ``{"query": ...}`` and rejects the list form with 422 (FastAPI)."""

    index = build_index(CORPUS.items(), backend="tantivy")
    seen: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append(payload)
        if "query" not in payload:
            status, body = 422, {"detail": [{"loc": ["body", "query"], "msg": "field required"}]}
        else:
            hits = self.index.search(payload["query"], payload["topk"])
            docs = [{"document": {"id": d, "contents": CORPUS[d]}, "score": s} for d, s in hits]
            status, body = 200, {"result": [docs]}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def test_client_falls_back_to_the_single_query_payload():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _SingleQueryOnly)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        client = HTTPRetriever(f"http://127.0.0.1:{srv.server_address[1]}/retrieve", timeout=10, retries=0)
        results = client.batch_search(["Evan Morris", "largest harbour"], k=1)
        assert [r[0][0] for r in results] == ["0", "2"]
        assert client.search("Quelton", k=1)[0][0] == "3"
        forms = ["queries" if "queries" in p else "query" for p in _SingleQueryOnly.seen]
        assert forms == ["queries", "query", "query", "query"]  # the list form is tried once, then remembered
    finally:
        srv.shutdown()
        srv.server_close()


def test_client_error_names_the_url_when_no_server_listens():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/retrieve"
    client = HTTPRetriever(url, timeout=2, retries=1)
    with pytest.raises(RetrievalServerError, match=f"127.0.0.1:{port}/retrieve.*2 attempts.*sdar-retriever serve"):
        client.search("anything", k=3)


def test_cli_index_then_serve_reuses_the_saved_index(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"id": k, "contents": v}) + "\n" for k, v in CORPUS.items()))
    main(["index", "--corpus", str(corpus), "--index-dir", str(tmp_path / "idx"), "--backend", "bm25s"])
    index = load_index(tmp_path / "idx")
    assert index.backend == "bm25s" and len(index) == 4
    with pytest.raises(SystemExit, match="already holds an index"):
        main(["index", "--corpus", str(corpus), "--index-dir", str(tmp_path / "idx")])
    with pytest.raises(SystemExit, match="corpus not found"):
        main(["serve", "--corpus", str(tmp_path / "missing.jsonl")])


@pytest.mark.parametrize("backend", [b for b in ("tantivy", "lucene") if b in available_backends()])
def test_concurrent_requests_get_the_same_answers_as_direct_search(backend):
    index = build_index(CORPUS.items(), backend=backend)
    queries = ["Evan Morris", "capital of Veloria", "largest harbour", "horse fairs", "Port Annis", "guild"] * 5
    expected = [index.search(q, 2) for q in queries]
    srv, url = serve_in_thread(index, CORPUS)
    try:
        client = HTTPRetriever(url, timeout=10, retries=0)
        with ThreadPoolExecutor(max_workers=4) as pool:
            answers = list(pool.map(lambda q: client.search(q, 2), queries))
    finally:
        srv.shutdown()
        srv.server_close()
    assert answers == expected


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.text(max_size=100), single=st.booleans())
def test_any_query_text_gets_a_well_formed_answer(server, query, single):
    _, url, _ = server
    body = {"query": query} if single else {"queries": [query, query]}
    response = requests.post(url, json={**body, "topk": 2, "return_scores": True}, timeout=10)
    assert response.status_code == 200
    result = response.json()["result"]
    assert len(result) == (1 if single else 2)
    assert all(len(hits) <= 2 for hits in result)
