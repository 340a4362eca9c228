"""``sdar-webshop``: generate the catalog, serve the shop over HTTP, or load-test a server.

    sdar-webshop generate [--products 1000] [--goals N] [--seed 0] [--cache-dir DIR]
    sdar-webshop serve [--host 127.0.0.1] [--port 3000] [catalog options]
    sdar-webshop load-test [--clients 32] [--steps 200] [--base-url URL] [catalog options]

Catalog options: ``--seed/--products/--goals/--cache-dir`` for the generated catalog, or
``--products-path items_shuffle.json [--attributes-path items_ins_v2.json] [--human-goals-path
items_human_ins.json]`` for upstream's files.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

from sdar_envs.webshop.catalog import DEFAULT_PRODUCTS, ensure_generated, open_catalog

__all__ = ["main", "main_webshop"]


def _catalog_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default 0)")
    parser.add_argument("--products", type=int, default=DEFAULT_PRODUCTS, help="generated products (default 1000)")
    parser.add_argument("--goals", type=int, default=None, help="generated goals (default max(1600, products/10))")
    parser.add_argument("--cache-dir", default=None, help="cache root (default $SDAR_CACHE/webshop or ~/.cache/sdar)")
    parser.add_argument("--products-path", default=None, help="upstream items_shuffle*.json instead of generating")
    parser.add_argument("--attributes-path", default=None, help="upstream items_ins_v2*.json")
    parser.add_argument("--human-goals-path", default=None, help="upstream items_human_ins.json")


def _open(args: argparse.Namespace):
    return open_catalog(
        seed=args.seed,
        n_products=args.products,
        n_goals=args.goals,
        cache_dir=args.cache_dir,
        products_path=args.products_path,
        attributes_path=args.attributes_path,
        human_goals_path=args.human_goals_path,
    )


def main_webshop(argv: Sequence[str] | None = None) -> int:
    """Generate the WebShop catalog into the cache and print its directory (the data CLI's ``webshop`` command)."""
    parser = argparse.ArgumentParser(prog="sdar-data webshop", description="Generate the WebShop catalog and goals.")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--products", type=int, default=DEFAULT_PRODUCTS)
    parser.add_argument("--goals", type=int, default=None)
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    directory = ensure_generated(args.seed, args.products, args.goals, args.cache_dir)
    print(f"WebShop catalog in {directory} ({time.perf_counter() - start:.1f} s)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    description = "Generate the WebShop catalog, serve the shop, or load-test a server."
    parser = argparse.ArgumentParser(prog="sdar-webshop", description=description)
    sub = parser.add_subparsers(dest="command", required=True)
    serve_parser = sub.add_parser("serve", help="serve the shop over HTTP")
    serve_parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    serve_parser.add_argument("--port", type=int, default=3000, help="port (0: a free one; default 3000)")
    serve_parser.add_argument("--search-backend", default="default", help="retrieval backend (default: pip-only)")
    serve_parser.add_argument("--upstream-option-quirk", action="store_true", help="reproduce upstream's option bug")
    serve_parser.add_argument("--noun-method", choices=("spacy", "lexicon"), default=None)
    serve_parser.add_argument("--announce", action="store_true", help=argparse.SUPPRESS)
    _catalog_options(serve_parser)
    generate_parser = sub.add_parser("generate", help="generate the catalog into the cache")
    _catalog_options(generate_parser)
    load_parser = sub.add_parser("load-test", help="concurrent env clients against a (loopback) server")
    load_parser.add_argument("--clients", type=int, default=32)
    load_parser.add_argument("--steps", type=int, default=200, help="steps per client")
    load_parser.add_argument("--base-url", default=None, help="server to test (default: start one locally)")
    _catalog_options(load_parser)
    args = parser.parse_args(argv)
    if args.command == "load-test":
        return _load_test(args)
    if args.command == "generate":
        return main_webshop(
            ["--seed", str(args.seed), "--products", str(args.products)]
            + (["--goals", str(args.goals)] if args.goals is not None else [])
            + (["--cache-dir", args.cache_dir] if args.cache_dir else [])
        )
    from sdar_envs.webshop.engine import Shop
    from sdar_envs.webshop.server import serve

    shop = Shop(
        _open(args),
        search_backend=args.search_backend,
        upstream_option_quirk=args.upstream_option_quirk,
        noun_method=args.noun_method,
    )
    serve(shop, args.host, args.port, announce=args.announce)
    return 0


def _load_test(args: argparse.Namespace) -> int:
    from sdar_envs.webshop.catalog import catalog_cli_args
    from sdar_envs.webshop.env import WebShopEnv
    from sdar_envs.webshop.load_test import run_load
    from sdar_envs.webshop.transport import local_server

    options = {
        "seed": args.seed,
        "n_products": args.products,
        "n_goals": args.goals,
        "cache_dir": args.cache_dir,
        "products_path": args.products_path,
        "attributes_path": args.attributes_path,
        "human_goals_path": args.human_goals_path,
    }
    url = args.base_url or local_server([*catalog_cli_args(**options), "--search-backend", "default"]).url
    env_options = dict(options)
    env_options["products"], env_options["goals"] = env_options.pop("n_products"), env_options.pop("n_goals")
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
