"""``sdar-webshop``: generate the catalog, serve the shop over HTTP, or load-test a server.

    sdar-webshop generate [--products 1000] [--goals N] [--seed 0] [--cache-dir DIR]
    sdar-webshop serve [--host 127.0.0.1] [--port 3000] [--max-sessions N] [--idle-timeout S] [catalog options]
    sdar-webshop load-test [--clients 32] [--steps 200] [--base-url URL] [catalog options]

Catalog options (:class:`~sdar_envs.webshop.catalog.CatalogSpec`): ``--seed/--products/--goals/--cache-dir`` for
the generated catalog, or ``--products-path items_shuffle.json [--attributes-path items_ins_v2.json]
[--human-goals-path items_human_ins.json]`` for upstream's files.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from sdar_envs.webshop.catalog import CatalogSpec
from sdar_envs.webshop.engine import Shop, ShopOptions

__all__ = ["generate", "main"]


def generate(spec: CatalogSpec) -> int:
    """Generate the spec's catalog into the cache and print its directory (``generate``, and ``sdar-data webshop``)."""
    from sdar_envs.webshop.generator import ensure_generated

    start = time.perf_counter()
    directory = ensure_generated(spec.seed, spec.n_products, spec.n_goals, spec.cache_dir)
    print(f"WebShop catalog in {directory} ({time.perf_counter() - start:.1f} s)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    description = "Generate the WebShop catalog, serve the shop, or load-test a server."
    parser = argparse.ArgumentParser(prog="sdar-webshop", description=description)
    sub = parser.add_subparsers(dest="command", required=True)
    serve_parser = sub.add_parser("serve", help="serve the shop over HTTP")
    serve_parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    serve_parser.add_argument("--port", type=int, default=3000, help="port (0: a free one; default 3000)")
    serve_parser.add_argument("--announce", action="store_true", help=argparse.SUPPRESS)
    serve_parser.add_argument(
        "--max-sessions", type=int, default=None, help="sessions kept at most (default 100000; fixed_<i> take none)"
    )
    serve_parser.add_argument(
        "--idle-timeout",
        type=float,
        default=None,
        help="seconds after which an unused session may be dropped for a new one (default 600)",
    )
    ShopOptions.add_arguments(serve_parser)
    CatalogSpec.add_arguments(serve_parser)
    generate_parser = sub.add_parser("generate", help="generate the catalog into the cache")
    CatalogSpec.add_arguments(generate_parser)
    load_parser = sub.add_parser("load-test", help="concurrent env clients against a (loopback) server")
    load_parser.add_argument("--clients", type=int, default=32)
    load_parser.add_argument("--steps", type=int, default=200, help="steps per client")
    load_parser.add_argument("--base-url", default=None, help="server to test (default: start one locally)")
    CatalogSpec.add_arguments(load_parser)
    args = parser.parse_args(argv)
    spec = CatalogSpec.from_args(args)
    if args.command == "load-test":
        return _load_test(args, spec)
    if args.command == "generate":
        return generate(spec)
    from sdar_envs.webshop.server import DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_SESSIONS, serve

    serve(
        Shop(spec.open(), ShopOptions.from_args(args)),
        args.host,
        args.port,
        announce=args.announce,
        max_sessions=DEFAULT_MAX_SESSIONS if args.max_sessions is None else args.max_sessions,
        idle_timeout=DEFAULT_IDLE_TIMEOUT if args.idle_timeout is None else args.idle_timeout,
    )
    return 0


def _load_test(args: argparse.Namespace, spec: CatalogSpec) -> int:
    from sdar_envs.webshop.env import WebShopEnv
    from sdar_envs.webshop.load_test import run_load
    from sdar_envs.webshop.transport import local_server

    url = args.base_url or local_server([*spec.argv(), *ShopOptions().argv()]).url
    env_options = spec.env_kwargs()
    report = run_load(lambda: WebShopEnv("all", base_url=url, **env_options), clients=args.clients, steps=args.steps)
    print(
        f"{report.clients} clients x {report.steps_per_client} steps against {url}: {report.steps} steps in "
        f"{report.seconds:.1f} s ({report.steps_per_second:.0f} steps/s), {report.episodes} episodes, "
        f"{report.purchases} purchases, {len(report.errors)} errors, "
        f"{len(report.isolation_violations)} isolation violations"
    )
    for line in (report.errors + report.isolation_violations)[:10]:
        print("  " + line)
    return 0 if not report.errors and not report.isolation_violations else 1


if __name__ == "__main__":
    sys.exit(main())
