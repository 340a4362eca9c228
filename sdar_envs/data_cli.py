"""``sdar-data``: generate the data an environment needs, one subcommand per env.

::

    sdar-data searchqa                 # generate (or find) the cached Search-QA set and its index
    sdar-data searchqa --out data/sqa  # write corpus.jsonl, train/validation/test.jsonl and meta.json there
    sdar-data searchqa --out data/sqa --parquet   # ... plus Search-R1 processed parquet splits
    sdar-data webshop                  # generate (or find) the cached WebShop catalog and goals
    sdar-data webshop --products 100000           # the large-scale catalog
    sdar-data alfworld [--split eval_out_of_distribution]   # write the generated ALFWorld games into the cache
    sdar-data demos --env webshop --split train --episodes 500 --out demos/webshop.jsonl   # expert demonstrations
    sdar-data export --env webshop --out data/webshop [--split train] [--demos] [--format jsonl]   # for HF datasets

``demos`` records expert episodes in the trainer's prompt and reply format (``sdar_agent.demos``; it needs the
package's trainer modules, which are pure Python, but not torch). ``export`` writes every split's tasks (and with
``--demos`` those demonstrations as chat ``messages``) as parquet or jsonl for ``datasets.load_dataset``
(:mod:`sdar_envs.integrations.datasets`).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def _searchqa(args: argparse.Namespace) -> int:
    from sdar_envs.searchqa.dataset import DatasetSpec, load_dataset
    from sdar_envs.searchqa.generator import generate, write_dataset

    start = time.perf_counter()
    if args.out is not None:
        out = write_dataset(generate(args.seed, args.num_passages), Path(args.out), parquet=args.parquet)
        extra = " and Search-R1 parquet splits" if args.parquet else ""
        print(f"wrote {out}/corpus.jsonl, train.jsonl, validation.jsonl, test.jsonl, meta.json{extra}")
        print(
            f'use: gym.make("sdar/SearchQA-v0", split="test", corpus_path="{out}/corpus.jsonl", '
            f'qa_path="{out}/test.jsonl")'
        )
        print(f"serve: sdar-retriever serve --corpus {out}/corpus.jsonl --port 8000")
    else:
        dataset = load_dataset(DatasetSpec(seed=args.seed, num_passages=args.num_passages, backend=args.backend))
        sizes = ", ".join(f"{name} {len(records)}" for name, records in dataset.splits.items())
        print(f"Search-QA data ready in {dataset.description} ({len(dataset.retriever)} passages; {sizes})")
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0


def _webshop(args: argparse.Namespace) -> int:
    from sdar_envs.webshop.catalog import CatalogSpec
    from sdar_envs.webshop.cli import generate

    return generate(CatalogSpec.from_args(args))


def _alfworld(args: argparse.Namespace) -> int:
    from sdar_envs.alfworld.cache import main as main_alfworld

    argv = ["--split", args.split] + (["--cache-dir", args.cache_dir] if args.cache_dir else [])
    main_alfworld(argv)
    return 0


def _demos(args: argparse.Namespace) -> int:
    import json

    try:
        from sdar_agent.demos import expert_demos, write_demos
    except ImportError as error:  # the env package stands alone; demonstrations use the trainer's prompt code
        raise SystemExit(f"sdar-data demos needs the sdar_agent package of this project ({error})") from error
    try:
        env_kwargs = json.loads(args.env_kwargs) if args.env_kwargs else {}
    except json.JSONDecodeError as error:
        raise SystemExit(f'--env-kwargs must be a JSON object, e.g. \'{{"transport": "inproc"}}\' ({error})') from None
    if not isinstance(env_kwargs, dict):
        raise SystemExit('--env-kwargs must be a JSON object, e.g. \'{"transport": "inproc"}\'')
    tokenizer = None
    if args.tokenizer:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    start = time.perf_counter()
    demos = expert_demos(
        args.env, args.split, episodes=args.episodes, seed=args.seed, env_kwargs=env_kwargs, progress=True
    )
    path = write_demos(demos, args.out, tokenizer=tokenizer)
    kept = demos.episodes - demos.dropped
    print(
        f"wrote {len(demos.turns)} turns of {kept} expert episodes to {path} "
        f"({demos.dropped} of {demos.episodes} dropped: the expert did not win) in {time.perf_counter() - start:.1f} s"
    )
    return 0


def _export(args: argparse.Namespace) -> int:
    import json

    from sdar_envs.integrations import env_splits, resolve_env_id
    from sdar_envs.integrations.datasets import demo_records, export_tasks, write_records

    try:
        env_id = resolve_env_id(args.env)
        env_kwargs = json.loads(args.env_kwargs) if args.env_kwargs else {}
    except (ValueError, json.JSONDecodeError) as error:
        raise SystemExit(f"sdar-data export: {error}") from None
    if not isinstance(env_kwargs, dict):
        raise SystemExit('--env-kwargs must be a JSON object, e.g. \'{"transport": "inproc"}\'')
    splits = args.split or list(env_splits(env_id))
    start = time.perf_counter()
    written = export_tasks(env_id, args.out, splits=splits, file_format=args.format, env_kwargs=env_kwargs)
    for split, path in written.items():
        print(f"{split}: tasks -> {path}")
    if args.demos:
        try:  # the env package stands alone; demonstrations use the trainer's prompt and reply code
            from sdar_agent.demos import expert_demos
        except ImportError as error:
            raise SystemExit(f"export --demos needs the sdar_agent package of this project ({error})") from None
        for split in splits:
            demos = expert_demos(
                env_id, split, episodes=args.episodes, seed=args.seed, env_kwargs=env_kwargs, progress=True
            )
            path = write_records(demo_records(demos.turns), Path(args.out) / "demos" / f"{split}.{args.format}")
            print(
                f"{split}: {len(demos.turns)} demonstration turns of {demos.episodes - demos.dropped} expert episodes "
                f"({demos.dropped} not won, dropped) -> {path}"
            )
    print(f'load: datasets.load_dataset("{args.format if args.format == "parquet" else "json"}", data_files=...)')
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    from sdar_envs.searchqa.generator import DEFAULT_NUM_PASSAGES, DEFAULT_SEED
    from sdar_envs.webshop.catalog import CatalogSpec

    parser = argparse.ArgumentParser(prog="sdar-data", description="Generate the data of an sdar environment.")
    commands = parser.add_subparsers(dest="env", required=True)
    sqa = commands.add_parser("searchqa", help="the Search-QA corpus and questions (cached unless --out is given)")
    sqa.add_argument("--out", help="write the files into this directory instead of the cache")
    sqa.add_argument("--seed", type=int, default=DEFAULT_SEED, help="generation seed (default %(default)s)")
    sqa.add_argument(
        "--num-passages", type=int, default=DEFAULT_NUM_PASSAGES, help="corpus size, about (default %(default)s)"
    )
    sqa.add_argument(
        "--parquet", action="store_true", help="with --out, also write <split>.parquet in Search-R1's processed layout"
    )
    sqa.add_argument("--backend", default="default", help="retrieval backend of the cached index (default: default)")
    sqa.set_defaults(run=_searchqa)
    shop = commands.add_parser("webshop", help="the WebShop catalog and goals (cached)")
    CatalogSpec.add_arguments(shop, files=False)
    shop.set_defaults(run=_webshop)
    alf = commands.add_parser("alfworld", help="the generated ALFWorld games (written into the cache)")
    alf.add_argument(
        "--split",
        choices=("train", "eval_in_distribution", "eval_out_of_distribution", "all"),
        default="all",
        help="which split (default %(default)s)",
    )
    alf.add_argument("--cache-dir", default=None, help="cache root (default $SDAR_CACHE/alfworld or ~/.cache/sdar)")
    alf.set_defaults(run=_alfworld)
    demos = commands.add_parser("demos", help="expert demonstrations in the trainer's prompt/reply format (jsonl)")
    demos.add_argument("--env", required=True, help="alfworld, webshop, searchqa or a Gymnasium id")
    demos.add_argument("--split", default="train", help="task split (default %(default)s)")
    demos.add_argument("--episodes", type=int, default=None, help="first N tasks of the split (default: all)")
    demos.add_argument("--seed", type=int, default=0, help="task i is reset with seed + i (default %(default)s)")
    demos.add_argument("--out", required=True, help="output file: .jsonl, or .parquet")
    demos.add_argument(
        "--env-kwargs", default=None, help='JSON object of gymnasium.make arguments, e.g. \'{"transport": "inproc"}\''
    )
    demos.add_argument(
        "--tokenizer", default=None, help="also store each prompt chat-templated with this tokenizer (a directory)"
    )
    demos.set_defaults(run=_demos)
    export = commands.add_parser(
        "export", help="every split's tasks (with --demos, expert demonstrations) as parquet/jsonl for HF datasets"
    )
    export.add_argument("--env", required=True, help="alfworld, webshop, searchqa or a Gymnasium id")
    export.add_argument(
        "--split", action="append", default=None, help="a split to export (repeatable; default: every split)"
    )
    export.add_argument("--out", required=True, help="output directory (tasks/<split>.<format>, demos/<split>...)")
    export.add_argument("--format", choices=("parquet", "jsonl"), default="parquet", help="default %(default)s")
    export.add_argument("--demos", action="store_true", help="also the expert demonstrations (sdar_agent.demos)")
    export.add_argument("--episodes", type=int, default=None, help="with --demos: first N tasks per split")
    export.add_argument("--seed", type=int, default=0, help="with --demos: task i is reset with seed + i")
    export.add_argument(
        "--env-kwargs", default=None, help='JSON object of gymnasium.make arguments, e.g. \'{"transport": "inproc"}\''
    )
    export.set_defaults(run=_export)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
