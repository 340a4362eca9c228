"""A scripted model behind an OpenAI-compatible ``/v1/chat/completions`` endpoint, for tests of clients that only
talk to a model server (verifiers v1).

``ScriptedChatServer(script)`` serves on a free loopback port in a background thread; every request's ``messages``
go to ``script(messages) -> reply`` and the reply comes back as a non-streamed chat completion. ``requests`` keeps
the messages of every call, in arrival order.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["ScriptedChatServer"]


class ScriptedChatServer:
    """Context manager: ``with ScriptedChatServer(script) as server: ... server.url``."""

    def __init__(self, script: Callable[[list[dict[str, Any]]], str]) -> None:
        self.script = script
        self.requests: list[list[dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """The base URL clients take (``http://127.0.0.1:<port>/v1``)."""
        assert self._server is not None, "the server is not running"
        return f"http://127.0.0.1:{self._server.server_port}/v1"

    def _completion(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body["messages"]
        with self._lock:
            self.requests.append(messages)
        reply = self.script(messages)
        return {
            "id": f"scripted-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "scripted"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        }

    def __enter__(self) -> ScriptedChatServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if not self.path.endswith("/chat/completions"):
                    self.send_error(404, f"only /v1/chat/completions is served, not {self.path}")
                    return
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                data = json.dumps(owner._completion(body)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
        self._server = None
