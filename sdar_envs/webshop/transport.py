"""How the env reaches the shop: in process, or over HTTP to a (locally started or remote) server.

Both transports return :class:`~sdar_envs.webshop.pages.Page` s and resolve actions with the same
:meth:`Shop.resolve <sdar_envs.webshop.engine.Shop.resolve>`, so they yield identical observations, clickables and
rewards (``tests/test_webshop_env.py`` checks this over scripted episodes).

:class:`LocalServer` runs ``python -m sdar_envs.webshop.cli serve --port 0`` in a subprocess; :func:`local_server`
keeps one per catalog configuration per process (reused by every env of that process, restarted when it has died,
stopped at exit).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import select
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests

from sdar_envs.core import Task
from sdar_envs.webshop.catalog import Catalog
from sdar_envs.webshop.engine import Shop
from sdar_envs.webshop.pages import Page, State, parse_html

__all__ = ["HTTPTransport", "InprocTransport", "LocalServer", "WebShopServerError", "local_server"]


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
    """

    def __init__(self, base_url: str, catalog: Catalog, *, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.catalog = catalog
        self.timeout = timeout
        self.http = requests.Session()
        if urlsplit(self.base_url).hostname in ("127.0.0.1", "localhost", "::1"):
            # loopback: skip proxy/netrc lookups from the environment (about 1.5 ms a request)
            self.http.trust_env = False
        self.page: Page | None = None
        self._checked = False

    def _get(self, path: str, params: dict[str, Any] | None = None) -> requests.Response:
        url = self.base_url + path + (("&" if "?" in path else "?") + urlencode(params) if params else "")
        shown = url if len(url) <= 300 else f"{url[:300]}... ({len(url)} characters)"
        try:
            response = self.http.get(url, timeout=self.timeout)
        except requests.RequestException as err:
            raise WebShopServerError(
                f"WebShop server at {self.base_url} is not reachable ({type(err).__name__} on GET {shown}); start "
                "it with `sdar-webshop serve --port ...` or leave base_url unset to host one locally"
            ) from err
        if response.status_code != 200:
            raise WebShopServerError(
                f"WebShop server at {self.base_url} answered {response.status_code} to GET {shown}: "
                f"{response.text[:200]}"
            )
        return response

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
        index = Catalog.goal_index(task.id)
        self.page = parse_html(self._get(f"/{self.session_id}", {"goal": index}).text)
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
        self.page = parse_html(response.text)
        return self.page

    def close(self) -> None:
        self.http.close()


class LocalServer:
    """A WebShop server subprocess on a free loopback port (``url``), started with ``args`` for ``cli serve``."""

    def __init__(self, args: list[str], *, startup_timeout: float = 300.0) -> None:
        self.args = list(args)
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
            self.close()
            with open(self.log.name, encoding="utf-8", errors="replace") as f:
                tail = f.read()[-2000:]
            raise RuntimeError(f"the local WebShop server did not start ({' '.join(command)}):\n{tail}")
        self.url = line.split()[1]

    def alive(self) -> bool:
        return self.process.poll() is None

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.log.close()
        with contextlib.suppress(OSError):
            os.unlink(self.log.name)


_SERVERS: dict[tuple[str, ...], LocalServer] = {}
_SERVERS_LOCK = threading.Lock()


def local_server(args: list[str]) -> LocalServer:
    """The process's server for these ``cli serve`` arguments, started (or restarted, if it died) on demand."""
    key = tuple(args)
    with _SERVERS_LOCK:
        server = _SERVERS.get(key)
        if server is None or not server.alive():
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
