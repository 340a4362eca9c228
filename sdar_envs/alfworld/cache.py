"""The on-disk cache of generated ALFWorld games, and the command that fills it.

Games are written on first use to ``<cache>/<split>/<task_id>/{traj_data.json, game.tw-pddl}`` where ``<cache>`` is,
in order: the ``cache_dir`` argument, ``$SDAR_CACHE/alfworld``, ``~/.cache/sdar/alfworld``. A cached game is
byte-identical to a fresh build, so the cache can be deleted at any time. Filling a whole split (for upstream
``AlfredTWEnv``, or to read the files) takes seconds::

    python -m sdar_envs.alfworld.cache --split all        # or: sdar-data alfworld

after which ``<cache>/<split>`` is a folder upstream's ``AlfredTWEnv`` loads as ``data_path``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from sdar_envs.alfworld.games import SPLITS, sample_game, write_game
from sdar_envs.alfworld.manifest import ManifestEntry, load_manifest

__all__ = ["build_split", "cache_root", "ensure_game", "main"]


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The games cache directory (see the module docstring)."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get("SDAR_CACHE"):
        return Path(os.environ["SDAR_CACHE"]).expanduser() / "alfworld"
    return Path.home() / ".cache" / "sdar" / "alfworld"


def game_path(root: Path, split: str, entry: ManifestEntry) -> Path:
    return root / split / entry.id / "game.tw-pddl"


def ensure_game(root: Path, split: str, entry: ManifestEntry) -> Path:
    """The ``game.tw-pddl`` of a manifest entry, written first if the cache lacks it."""
    path = game_path(root, split, entry)
    if path.exists() and (path.parent / "traj_data.json").exists():
        return path
    spec = sample_game(split, entry.task_type, entry.seed)
    if spec.task_id != entry.id:
        raise RuntimeError(
            f"the generator draws {spec.task_id} for seed {entry.seed}, but the manifest says {entry.id}: "
            "the manifest is stale; rebuild it with `python -m sdar_envs.alfworld.manifest`"
        )
    return write_game(spec, root, walkthrough=entry.walkthrough, solvable=True)


def build_split(split: str, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Write every game of ``split`` into the cache; return ``<cache>/<split>``."""
    root = cache_root(cache_dir)
    for entry in load_manifest(split):
        ensure_game(root, split, entry)
    return root / split


def main(argv: Sequence[str] | None = None) -> None:
    """``sdar-data alfworld``: write the generated ALFWorld games of one or all splits into the cache."""
    parser = argparse.ArgumentParser(description="Write the generated ALFWorld games into the cache.")
    parser.add_argument("--split", choices=(*SPLITS, "all"), default="all")
    parser.add_argument("--cache-dir", default=None, help="default: $SDAR_CACHE/alfworld or ~/.cache/sdar/alfworld")
    args = parser.parse_args(argv)
    for split in SPLITS if args.split == "all" else (args.split,):
        folder = build_split(split, args.cache_dir)
        print(f"{split}: {len(load_manifest(split))} games in {folder}")


if __name__ == "__main__":
    main()
