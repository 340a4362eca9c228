"""The shop as a web site: a stdlib ``ThreadingHTTPServer`` serving the pages of :mod:`sdar_envs.webshop.pages`.

Routes (``GET``; every page path carries the session id, as upstream's Flask app does):

``/``                                  redirects to a new session on a random test goal
``/<sid>?goal=<i>``                    assigns goal ``i`` to session ``sid`` and shows the search page
``/fixed_<i>``                         upstream's fixed sessions: goal ``i``
``/<sid>``                             the search page of an existing session
``/search_results/<sid>?keywords=..&page=..``
``/item_page/<sid>?asin=..&keywords=..&page=..&options=<json>``
``/item_sub_page/<sid>?asin=..&keywords=..&page=..&sub_page=Description|Features|Reviews&options=<json>``
``/done/<sid>?asin=..&options=<json>``  buys; the page shows the score and carries it as JSON (``#purchase``)
``/api/info``                          JSON: catalog fingerprint, product and goal counts, data source

Sessions only hold their goal; everything else is in the URL, so sessions cannot see each other's state. At most
``max_sessions`` sessions are kept (least recently used dropped). The server binds ``127.0.0.1`` by default.
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections import OrderedDict
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

from sdar_envs.webshop.catalog import Catalog
from sdar_envs.webshop.engine import Shop, canonical_query
from sdar_envs.webshop.pages import State, parse_state_url, render_html

__all__ = ["ShopServer", "serve"]

READY_LINE = "WEBSHOP_SERVER_READY"


class ShopServer(ThreadingHTTPServer):
    """An HTTP server for one :class:`~sdar_envs.webshop.engine.Shop`; ``server.url`` is its base URL."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, shop: Shop, host: str = "127.0.0.1", port: int = 0, *, max_sessions: int = 100_000) -> None:
        super().__init__((host, port), _Handler)
        self.shop = shop
        self.max_sessions = max_sessions
        self.sessions: OrderedDict[str, int] = OrderedDict()
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def session_goal(self, session_id: str, goal: int | None = None) -> int | None:
        """The session's goal index; ``goal`` (re)assigns it. Sessions named ``fixed_<i>`` get goal ``i``."""
        with self.lock:
            if goal is None and session_id not in self.sessions and session_id.startswith("fixed_"):
                try:
                    goal = Catalog.goal_index(session_id)
                except ValueError:
                    return None
            if goal is not None:
                if not 0 <= goal < len(self.shop.catalog.goals):
                    return None
                self.sessions[session_id] = goal
                while len(self.sessions) > self.max_sessions:
                    self.sessions.popitem(last=False)
            elif session_id in self.sessions:
                self.sessions.move_to_end(session_id)
            return self.sessions.get(session_id)


class _Handler(BaseHTTPRequestHandler):
    server: ShopServer
    protocol_version = "HTTP/1.1"  # keep-alive: one connection per client session
    # headers and body go out in separate writes; without TCP_NODELAY, Nagle + delayed ACK add ~40 ms per request
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args) -> None:
        return

    def _send(self, status: int, body: str, content_type: str = "text/html; charset=utf-8", headers=None) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        server = self.server
        catalog = server.shop.catalog
        try:
            if self.path in ("/", ""):
                goal = random.randrange(len(catalog.split_indices("test")))
                self._send(HTTPStatus.FOUND, "", headers={"Location": f"/session-{uuid.uuid4().hex}?goal={goal}"})
                return
            if self.path.split("?")[0] == "/api/info":
                info = {
                    "fingerprint": catalog.fingerprint,
                    "products": len(catalog.products),
                    "goals": len(catalog.goals),
                    "data_source": catalog.data_source,
                }
                self._send(HTTPStatus.OK, json.dumps(info), "application/json")
                return
            if self.path == "/favicon.ico":
                self._send(HTTPStatus.NO_CONTENT, "")
                return
            session_id, state, query = parse_state_url(self.path)
        except ValueError as err:
            self._send(HTTPStatus.NOT_FOUND, f"not found: {err}", "text/plain; charset=utf-8")
            return
        goal_arg = query.get("goal", [None])[0]
        try:
            goal = int(goal_arg) if goal_arg is not None else None
        except ValueError:
            goal = -1
        index = server.session_goal(session_id, goal)
        if index is None:
            message = (
                f"unknown session {session_id!r} or goal {goal_arg!r}; open /{quote(session_id)}?goal=<0..."
                f"{len(catalog.goals) - 1}> first, or /fixed_<i>"
            )
            self._send(HTTPStatus.NOT_FOUND, message, "text/plain; charset=utf-8")
            return
        if state.kind == "results":
            state = State("results", canonical_query(state.keywords), state.page)
        page = server.shop.render(state, catalog.task(index))
        self._send(HTTPStatus.OK, render_html(page, session_id))


def serve(shop: Shop, host: str = "127.0.0.1", port: int = 3000, *, announce: bool = False) -> None:
    """Serve ``shop`` until interrupted. ``announce`` prints ``WEBSHOP_SERVER_READY <url>`` once listening."""
    server = ShopServer(shop, host, port)
    if announce:
        print(f"{READY_LINE} {server.url}", flush=True)
    else:
        print(f"WebShop serving {len(shop.catalog.products)} products at {server.url}/ (Ctrl+C to stop)", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
