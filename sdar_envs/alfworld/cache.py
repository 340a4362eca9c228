"""The on-disk cache of generated ALFWorld games, and the command that fills it.

Games are written on first use to ``<cache>/<split>/<task_id>/{traj_data.json, game.tw-pddl}`` where ``<cache>`` is,
in order: the ``cache_dir`` argument, ``$SDAR_CACHE/alfworld``, ``~/.cache/sdar/alfworld``. A cached game is
byte-identical to a fresh build, so the cache can be deleted at any time. Each game folder also holds
``.sha256.json``, the SHA-256 of both files: a game whose files do not match it (truncated, edited, a byte flipped,
or written before checksums existed) is rewritten before it is played. Filling a whole split (for upstream
``AlfredTWEnv``, or to read the files) takes seconds::

    python -m sdar_envs.alfworld.cache --split all        # or: sdar-data alfworld

after which ``<cache>/<split>`` is a folder upstream's ``AlfredTWEnv`` loads as ``data_path``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

from sdar_envs.alfworld.games import CHECKSUM_NAME, SPLITS, sample_game, write_game
from sdar_envs.alfworld.manifest import ManifestEntry, load_manifest

__all__ = ["build_split", "cache_root", "ensure_game", "game_intact", "main"]


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The games cache directory (see the module docstring)."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    if os.environ.get("SDAR_CACHE"):
        return Path(os.environ["SDAR_CACHE"]).expanduser() / "alfworld"
    return Path.home() / ".cache" / "sdar" / "alfworld"


def game_path(root: Path, split: str, entry: ManifestEntry) -> Path:
    return root / split / entry.id / "game.tw-pddl"


_GAME_FILES = ("traj_data.json", "game.tw-pddl")
# trial folder -> (mtime_ns, size) of its two files when their checksums last matched: checked once per change
_VERIFIED: dict[Path, tuple[tuple[int, int], ...]] = {}


def game_intact(trial_dir: Path) -> bool:
    """Whether both files of a cached game exist and match the SHA-256s of its ``.sha256.json``."""
    try:
        stats = tuple((s.st_mtime_ns, s.st_size) for s in ((trial_dir / n).stat() for n in _GAME_FILES))
    except OSError:
        return False
    if _VERIFIED.get(trial_dir) == stats:
        return True
    try:
        sums = json.loads((trial_dir / CHECKSUM_NAME).read_text())
        intact = isinstance(sums, dict) and all(
            sums.get(n) == hashlib.sha256((trial_dir / n).read_bytes()).hexdigest() for n in _GAME_FILES
        )
    except (OSError, ValueError):
        intact = False
    if intact:
        _VERIFIED[trial_dir] = stats
    return intact


def ensure_game(root: Path, split: str, entry: ManifestEntry) -> Path:
    """The ``game.tw-pddl`` of a manifest entry, (re)written first unless the cache holds it intact.

    Raises ``OSError`` naming the directory (and ``SDAR_CACHE``) when the cache cannot be written.
    """
    path = game_path(root, split, entry)
    if game_intact(path.parent):
        return path
    spec = sample_game(split, entry.task_type, entry.seed)
    if spec.task_id != entry.id:
        raise RuntimeError(
            f"the generator draws {spec.task_id} for seed {entry.seed}, but the manifest says {entry.id}: "
            "the manifest is stale; rebuild it with `python -m sdar_envs.alfworld.manifest`"
        )
    try:
        return write_game(spec, root, walkthrough=entry.walkthrough, solvable=True)
    except OSError as err:
        raise type(err)(
            err.errno,
            f"cannot write the generated ALFWorld game under {root / split} ({err.strerror or err}); set SDAR_CACHE "
            "to a writable directory with some free space, or pass cache_dir=...",
        ) from err


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
