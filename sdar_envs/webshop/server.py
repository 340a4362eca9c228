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

Sessions only hold their goal; everything else is in the URL, so sessions cannot see each other's state. Every page
carries its session's goal index (``<body data-goal="i">``) so a client can check it plays the goal it asked for.

Sessions on a shared server (the guarantees ``docs/hardening.md`` lists):

* A session's goal is set once, by the request that creates it (``/<sid>?goal=i``); a later ``?goal=`` naming
  another goal gets ``409 Conflict`` and changes nothing. ``fixed_<i>`` always plays goal ``i``.
* At most ``max_sessions`` sessions are kept (``fixed_<i>`` sessions take no room). When the table is full, the
  least recently used session is dropped only if it has been idle for ``idle_timeout`` seconds; otherwise creating
  a session gets ``503`` (``Retry-After``), so a flood of new sessions never evicts a live one. A request to an
  unknown or dropped session gets ``404`` with the header ``X-WebShop-Error: unknown-session``;
  :class:`~sdar_envs.webshop.transport.HTTPTransport` then re-creates its session with its goal and repeats the
  request (the state is in the URL, so nothing is lost).
* Every response carries ``X-Content-Type-Options: nosniff``; a request that makes the handler fail gets ``500``
  with the error's name instead of a dropped connection.

The server binds ``127.0.0.1`` by default; binding another interface prints a warning (the shop has no
authentication).
"""

from __future__ import annotations

import json
import random
import sys
import threading
import time
import uuid
from collections import OrderedDict
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

from sdar_envs.webshop.catalog import Catalog
from sdar_envs.webshop.engine import Shop, canonical_query
from sdar_envs.webshop.pages import State, parse_state_url, render_html

__all__ = ["DEFAULT_IDLE_TIMEOUT", "DEFAULT_MAX_SESSIONS", "SessionError", "ShopServer", "bind_warning", "serve"]

READY_LINE = "WEBSHOP_SERVER_READY"
#: Sessions a server keeps (about 200 bytes each).
DEFAULT_MAX_SESSIONS = 100_000
#: Seconds without a request after which a session may be dropped to make room for a new one.
DEFAULT_IDLE_TIMEOUT = 600.0
#: Header naming why a 404 happened, so a client can tell a dropped session from a wrong path.
ERROR_HEADER = "X-WebShop-Error"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


class SessionError(Exception):
    """A session request the server refuses: ``status`` (404, 409 or 503), a message, and the error header value."""

    def __init__(self, status: HTTPStatus, message: str, code: str) -> None:
        super().__init__(message)
        self.status, self.message, self.code = status, message, code


def bind_warning(host: str) -> str | None:
    """The warning printed when the shop binds ``host`` beyond loopback (``None`` for a loopback address)."""
    if host in _LOOPBACK:
        return None
    return (
        f"WARNING: the WebShop server binds {host}, so every machine that can reach this one can use it; the shop has "
        "no authentication (anyone can open sessions and buy). Bind 127.0.0.1 (the default) unless that is intended."
    )


class ShopServer(ThreadingHTTPServer):
    """An HTTP server for one :class:`~sdar_envs.webshop.engine.Shop`; ``server.url`` is its base URL.

    Args:
        max_sessions: sessions kept at most (``fixed_<i>`` ones are not stored).
        idle_timeout: seconds of inactivity after which a session may be dropped for a new one.
    """

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        shop: Shop,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    ) -> None:
        if max_sessions < 1:
            raise ValueError(f"max_sessions must be at least 1, got {max_sessions}")
        if idle_timeout < 0:
            raise ValueError(f"idle_timeout must be >= 0 seconds, got {idle_timeout}")
        super().__init__((host, port), _Handler)
        self.shop = shop
        self.max_sessions = max_sessions
        self.idle_timeout = idle_timeout
        # session id -> (goal index, time.monotonic() of its last request), least recently used first
        self.sessions: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def session_goal(self, session_id: str, goal: int | None = None) -> int:
        """The goal index of ``session_id``, creating the session when ``goal`` is given and it does not exist.

        Raises :class:`SessionError`: 404 for an unknown session or goal, 409 when ``goal`` differs from the
        session's (a goal is set once), 503 when the table is full of sessions used within ``idle_timeout``.
        """
        n_goals = len(self.shop.catalog.goals)
        fixed = _fixed_index(session_id)
        if fixed is not None:
            if not 0 <= fixed < n_goals:
                raise SessionError(HTTPStatus.NOT_FOUND, f"there is no goal {fixed}", "unknown-goal")
            if goal is not None and goal != fixed:
                raise SessionError(HTTPStatus.CONFLICT, f"{session_id} always plays goal {fixed}", "goal-conflict")
            return fixed
        with self.lock:
            now = time.monotonic()
            entry = self.sessions.get(session_id)
            if entry is not None:
                if goal is not None and goal != entry[0]:
                    raise SessionError(
                        HTTPStatus.CONFLICT,
                        f"session {session_id!r} already plays goal {entry[0]}; a session's goal is set once, by its "
                        "creator: open a new session id for another goal",
                        "goal-conflict",
                    )
                self.sessions[session_id] = (entry[0], now)
                self.sessions.move_to_end(session_id)
                return entry[0]
            if goal is None:
                raise SessionError(
                    HTTPStatus.NOT_FOUND,
                    f"unknown session {session_id!r}; open /{quote(session_id)}?goal=<0...{n_goals - 1}> first, or "
                    "/fixed_<i>",
                    "unknown-session",
                )
            if not 0 <= goal < n_goals:
                raise SessionError(HTTPStatus.NOT_FOUND, f"there is no goal {goal} (0...{n_goals - 1})", "unknown-goal")
            if len(self.sessions) >= self.max_sessions:
                _, (_, last_used) = next(iter(self.sessions.items()))
                if now - last_used < self.idle_timeout:
                    raise SessionError(
                        HTTPStatus.SERVICE_UNAVAILABLE,
                        f"the server holds {self.max_sessions} sessions, all used in the last "
                        f"{self.idle_timeout:g} s; retry later, or start it with a larger --max-sessions",
                        "too-many-sessions",
                    )
                self.sessions.popitem(last=False)
            self.sessions[session_id] = (goal, now)
            return goal


def _fixed_index(session_id: str) -> int | None:
    try:
        return Catalog.goal_index(session_id)
    except ValueError:
        return None


class _Handler(BaseHTTPRequestHandler):
    server: ShopServer
    protocol_version = "HTTP/1.1"  # keep-alive: one connection per client session
    # headers and body go out in separate writes; without TCP_NODELAY, Nagle + delayed ACK add ~40 ms per request
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args) -> None:
        return

    def _send(self, status: int, body: str, content_type: str = "text/html; charset=utf-8", headers=None) -> None:
        data = body.encode("utf-8", "replace")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Content-Type-Options", "nosniff")  # text/plain error pages echo the path
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        try:
            self._get()
        except Exception as err:  # a server must outlive any single bad request
            self._send(HTTPStatus.INTERNAL_SERVER_ERROR, f"server error: {type(err).__name__}", "text/plain")

    def _get(self) -> None:
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
        try:
            index = server.session_goal(session_id, goal)
        except SessionError as err:
            headers = {ERROR_HEADER: err.code}
            if err.status == HTTPStatus.SERVICE_UNAVAILABLE:
                headers["Retry-After"] = "5"
            self._send(err.status, err.message, "text/plain; charset=utf-8", headers)
            return
        if state.kind == "results":
            state = State("results", canonical_query(state.keywords), state.page)
        page = server.shop.render(state, catalog.task(index))
        self._send(HTTPStatus.OK, render_html(page, session_id, goal=index))


def serve(
    shop: Shop,
    host: str = "127.0.0.1",
    port: int = 3000,
    *,
    announce: bool = False,
    max_sessions: int = DEFAULT_MAX_SESSIONS,
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
) -> None:
    """Serve ``shop`` until interrupted. ``announce`` prints ``WEBSHOP_SERVER_READY <url>`` once listening; a
    non-loopback ``host`` prints :func:`bind_warning` to stderr first."""
    warning = bind_warning(host)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    server = ShopServer(shop, host, port, max_sessions=max_sessions, idle_timeout=idle_timeout)
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
