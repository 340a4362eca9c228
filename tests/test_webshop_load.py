"""Load test (slow): 32 concurrent HTTP env clients x 200 steps against one loopback server."""

from __future__ import annotations

import pytest

from sdar_envs.webshop.catalog import catalog_cli_args, open_catalog
from sdar_envs.webshop.env import WebShopEnv
from sdar_envs.webshop.load_test import run_load
from sdar_envs.webshop.transport import local_server


@pytest.mark.slow
def test_32_clients_of_200_steps_get_no_errors_and_only_their_own_sessions(tmp_path_factory):
    cache_dir = tmp_path_factory.getbasetemp() / "webshop-cache"
    open_catalog(cache_dir=cache_dir)
    url = local_server([*catalog_cli_args(cache_dir=cache_dir), "--search-backend", "default"]).url
    assert url.startswith("http://127.0.0.1:")
    report = run_load(lambda: WebShopEnv("all", base_url=url, cache_dir=cache_dir), clients=32, steps=200)
    assert report.errors == []
    assert report.isolation_violations == []
    assert report.steps == 32 * 200
    assert report.purchases > 32  # clients finish episodes and start new ones
