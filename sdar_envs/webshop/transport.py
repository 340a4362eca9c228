"""How the env reaches the shop: in process, or over HTTP to a (locally started or remote) server.

Both transports return :class:`~sdar_envs.webshop.pages.Page` s and resolve actions with the same
:meth:`Shop.resolve <sdar_envs.webshop.engine.Shop.resolve>`, so they yield identical observations, clickables and
rewards (``tests/test_webshop_env.py`` and ``tests/test_env_hardening.py`` check this over scripted episodes and
fuzzed actions).

:class:`HTTPTransport` refuses a page whose session plays another goal than the one it asked for (another client
rebound it), and re-creates its session when the server has dropped it (``X-WebShop-Error: unknown-session``).

:class:`LocalServer` runs ``python -m sdar_envs.webshop.cli serve --port 0`` in a subprocess; :func:`local_server`
keeps one per catalog configuration per process (reused by every env of that process, stopped at exit) and
restarts it when it has died, is stopped (``SIGSTOP``), or stopped answering: a request that failed marks it,
and the next :func:`local_server` call probes it (:data:`PROBE_TIMEOUT` seconds) before handing it out.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import requests

from sdar_envs.core import Task
from sdar_envs.webshop.catalog import Catalog
from sdar_envs.webshop.engine import Shop
from sdar_envs.webshop.pages import Page, State, parse_html
from sdar_envs.webshop.server import ERROR_HEADER

__all__ = ["PROBE_TIMEOUT", "HTTPTransport", "InprocTransport", "LocalServer", "WebShopServerError", "local_server"]

#: Seconds a suspect local server has to answer ``/api/info`` before it is restarted.
PROBE_TIMEOUT = 5.0


class WebShopServerError(ConnectionError):
    """The WebShop server could not be reached or answered with an error (the message names the URL)."""


class InprocTransport:
    """Renders pages in process with a :class:`Shop` (no sockets)."""

    def __init__(self, shop: Shop) -> None:
        self.shop = shop
        self.task: Task | None = None
        self.page: Page | None = None

    def reset(self, task: Task) -> Page:
        self.task = task
        self.page = self.shop.render(State("search"), task)
        return self.page

    def step(self, action: str) -> Page | None:
        """The next page, or ``None`` when ``action`` is invalid on the current page."""
        assert self.page is not None and self.task is not None, "reset() first"
        target = Shop.resolve(self.page, action)
        if target is None:
            return None
        state = target.link if target.kind == "link" else State("results", target.query, 1)
        assert isinstance(state, State)
        self.page = self.shop.render(state, self.task)
        return self.page

    def close(self) -> None:
        return


class HTTPTransport:
    """Drives a WebShop server with ``requests`` like a browser: it follows the links of the parsed pages.

    Args:
        base_url: e.g. ``http://127.0.0.1:3000``.
        catalog: the env's catalog; its fingerprint must match the server's (checked on the first reset).
        timeout: seconds per request.
        on_failure: called when a request fails (timeout, broken connection): the env's :class:`LocalServer` then
            marks itself suspect and is probed before its next use.
    """

    def __init__(
        self, base_url: str, catalog: Catalog, *, timeout: float = 30.0, on_failure: Callable[[], None] | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.catalog = catalog
        self.timeout = timeout
        self.on_failure = on_failure
        self.http = requests.Session()
        if urlsplit(self.base_url).hostname in ("127.0.0.1", "localhost", "::1"):
            # loopback: skip proxy/netrc lookups from the environment (about 1.5 ms a request)
            self.http.trust_env = False
        self.page: Page | None = None
        self.session_id = ""
        self.goal: int | None = None
        self._checked = False

    def _request(self, url: str) -> requests.Response:
        shown = url if len(url) <= 300 else f"{url[:300]}... ({len(url)} characters)"
        try:
            return self.http.get(url, timeout=self.timeout)
        except requests.RequestException as err:
            if self.on_failure is not None:
                self.on_failure()
            raise WebShopServerError(
                f"WebShop server at {self.base_url} is not reachable ({type(err).__name__} on GET {shown}); start "
                "it with `sdar-webshop serve --port ...` or leave base_url unset to host one locally"
            ) from err

    def _get(self, path: str, params: dict[str, Any] | None = None) -> requests.Response:
        url = self.base_url + path + (("&" if "?" in path else "?") + urlencode(params) if params else "")
        response = self._request(url)
        if (
            response.status_code == 404
            and response.headers.get(ERROR_HEADER) == "unknown-session"
            and self.goal is not None
        ):
            # The server dropped this (idle) session: open it again with its goal and repeat the request.
            self._request(f"{self.base_url}/{quote(self.session_id, safe='')}?goal={self.goal}")
            response = self._request(url)
        if response.status_code != 200:
            shown = url if len(url) <= 300 else f"{url[:300]}... ({len(url)} characters)"
            raise WebShopServerError(
                f"WebShop server at {self.base_url} answered {response.status_code} to GET {shown}: "
                f"{response.text[:200]}"
            )
        return response

    def _page(self, response: requests.Response) -> Page:
        """The response's page, refused unless the server played it for this transport's goal."""
        page = parse_html(response.text)
        if page.goal != self.goal:
            raise WebShopServerError(
                f"the WebShop server at {self.base_url} played session {self.session_id!r} for goal {page.goal}, "
                f"not goal {self.goal} as this env asked (another client rebound the session, or the server is not "
                "an sdar-webshop server of this version); this page is refused, start a new episode"
            )
        return page

    def check_catalog(self) -> None:
        """Raise ``ValueError`` if the server serves a different catalog than the env's."""
        info = self._get("/api/info").json()
        if info.get("fingerprint") != self.catalog.fingerprint:
            raise ValueError(
                f"the WebShop server at {self.base_url} serves catalog {info.get('fingerprint')!r} "
                f"({info.get('products')} products) but this env loaded {self.catalog.fingerprint!r} "
                f"({len(self.catalog.products)} products); start the server with the same catalog options"
            )
        self._checked = True

    def reset(self, task: Task) -> Page:
        if not self._checked:
            self.check_catalog()
        self.session_id = f"env-{uuid.uuid4().hex}"
        self.goal = Catalog.goal_index(task.id)
        self.page = self._page(self._get(f"/{self.session_id}", {"goal": self.goal}))
        return self.page

    def step(self, action: str) -> Page | None:
        assert self.page is not None, "reset() first"
        target = Shop.resolve(self.page, action)
        if target is None:
            return None
        if target.kind == "search":  # submit the search form
            response = self._get(self.page.links["search"], {"page": 1, "keywords": target.query})
        else:
            assert isinstance(target.link, str)
            response = self._get(target.link)
        self.page = self._page(response)
        return self.page

    def close(self) -> None:
        self.http.close()


class LocalServer:
    """A WebShop server subprocess on a free loopback port (``url``), started with ``args`` for ``cli serve``.

    Raises ``RuntimeError`` with the server's own error output when it does not start.
    """

    def __init__(self, args: list[str], *, startup_timeout: float = 300.0) -> None:
        self.args = list(args)
        self.suspect = False  # a request to it failed: probe before reuse
        # open for the server's lifetime: it receives the server's stderr
        self.log = tempfile.NamedTemporaryFile(prefix="sdar-webshop-server-", suffix=".log", delete=False)  # noqa: SIM115
        command = [sys.executable, "-m", "sdar_envs.webshop.cli", "serve", "--port", "0", "--announce", *self.args]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=self.log, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
        )
        deadline = time.monotonic() + startup_timeout
        line = ""
        assert self.process.stdout is not None
        while time.monotonic() < deadline and self.process.poll() is None:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.2)
            if ready:
                line = self.process.stdout.readline()
                if line.startswith("WEBSHOP_SERVER_READY"):
                    break
        if not line.startswith("WEBSHOP_SERVER_READY"):
            self._stop()
            with open(self.log.name, encoding="utf-8", errors="replace") as f:  # read before close() deletes it
                tail = f.read()[-2000:].strip() or "(the server wrote nothing to stderr)"
            self.close()
            raise RuntimeError(f"the local WebShop server did not start ({' '.join(command)}):\n{tail}")
        self.url = line.split()[1]

    def alive(self) -> bool:
        """Running and not stopped (``SIGSTOP``; read from ``/proc`` where there is one)."""
        if self.process.poll() is not None:
            return False
        try:
            with open(f"/proc/{self.process.pid}/stat", encoding="ascii") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return True  # no /proc: a hung server is caught by the timeout probe
        return state not in ("T", "t", "Z", "X")

    def responsive(self, timeout: float | None = None) -> bool:
        """Whether ``/api/info`` answers within ``timeout`` seconds (default :data:`PROBE_TIMEOUT`)."""
        try:
            probe = PROBE_TIMEOUT if timeout is None else timeout
            return requests.get(f"{self.url}/api/info", timeout=probe).status_code == 200
        except requests.RequestException:
            return False

    def healthy(self) -> bool:
        """Alive, and answering if a request to it failed since the last check."""
        if not self.alive():
            return False
        if self.suspect:
            if not self.responsive():
                return False
            self.suspect = False
        return True

    def mark_suspect(self) -> None:
        self.suspect = True

    def _stop(self) -> None:
        if self.process.poll() is None:
            if self.suspect or not self.alive():  # stopped or hung: it cannot act on SIGTERM
                self.process.kill()
            else:
                self.process.terminate()
                if hasattr(signal, "SIGCONT"):  # a stopped process acts on SIGTERM only once continued
                    with contextlib.suppress(OSError):
                        os.kill(self.process.pid, signal.SIGCONT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def close(self) -> None:
        self._stop()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.log.close()
        with contextlib.suppress(OSError):
            os.unlink(self.log.name)


_SERVERS: dict[tuple[str, ...], LocalServer] = {}
_SERVERS_LOCK = threading.Lock()


def local_server(args: list[str]) -> LocalServer:
    """The process's server for these ``cli serve`` arguments, started on demand, and restarted when it died, is
    stopped, or (after a request to it failed) does not answer within :data:`PROBE_TIMEOUT` seconds."""
    key = tuple(args)
    with _SERVERS_LOCK:
        server = _SERVERS.get(key)
        if server is None or not server.healthy():
            if server is not None:
                server.close()
            server = _SERVERS[key] = LocalServer(args)
        return server


@atexit.register
def _stop_local_servers() -> None:
    with _SERVERS_LOCK:
        for server in _SERVERS.values():
            server.close()
        _SERVERS.clear()
