"""The manifests of solvable generated games, one per split (``sdar_envs/alfworld/data/<split>.json.gz``).

A manifest lists, per game, what is needed to rebuild it and to serve it without running the engine: the task id,
task type, generator seed, task sentence and the hand-coded expert's walkthrough. Games are then written on demand
(:func:`sdar_envs.alfworld.games.write_game`, milliseconds) into the cache, byte-identical on every machine.

Building a manifest is a one-off job: for each task type, seeds 0, 1, 2, ... are drawn (round-robin over the types,
so a partial manifest keeps the task-type mix), each game is played by alfworld's hand-coded expert on the TextWorld
engine, and the seed is kept if the expert wins within 50 commands, else recorded as rejected. The job is
resumable: it saves after every game and restarts where it stopped::

    python -m sdar_envs.alfworld.manifest --split eval_out_of_distribution
    python -m sdar_envs.alfworld.manifest --split train --max-minutes 60     # repeat until complete

Two builders can share the work by task type on separate files, then merge::

    python -m sdar_envs.alfworld.manifest --split train --path a.json.gz --task-types pick_and_place_simple ...
    python -m sdar_envs.alfworld.manifest --split train --merge a.json.gz b.json.gz

Manifest JSON: ``{"split", "version", "quota": {type: n}, "next_seed": {type: n}, "rejected": {type: [seeds]},
"games": [{"id", "task_type", "seed", "instruction", "walkthrough"}]}``, games ordered by task type then seed.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import math
import tempfile
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sdar_envs.alfworld.games import SPLITS, TASK_SHARES, TASK_TYPES, sample_game, write_game

__all__ = [
    "MANIFEST_DIR",
    "MAX_WALKTHROUGH_STEPS",
    "ManifestEntry",
    "build_manifest",
    "expert_seed",
    "load_manifest",
    "manifest_path",
    "manifest_stats",
    "merge_manifests",
]

MANIFEST_DIR = Path(__file__).resolve().parent / "data"
#: Walkthroughs longer than this are rejected, so every shipped game is solvable within the env's 50-step limit.
MAX_WALKTHROUGH_STEPS = 50
#: Bumped whenever the generator changes what a seed produces (old manifests are then invalid).
GENERATOR_VERSION = 1


@dataclass(frozen=True)
class ManifestEntry:
    """One solvable game of a split (see the module docstring)."""

    id: str
    task_type: str
    seed: int
    instruction: str
    walkthrough: tuple[str, ...]


def manifest_path(split: str) -> Path:
    """Where the committed manifest of ``split`` lives."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    return MANIFEST_DIR / f"{split}.json.gz"


def expert_seed(split: str, task_type: str, seed: int) -> int:
    """Seed of the expert's private random generator for a game (the same at build time and in the env)."""
    return zlib.crc32(f"sdar-alfworld/expert/{split}/{task_type}/{seed}".encode())


def _read(path: Path) -> dict[str, Any]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def _write(path: Path, data: Mapping[str, Any]) -> None:
    """Deterministic gzip (no timestamp, no file name), written atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0, filename="") as gz:
        gz.write((json.dumps(data, separators=(",", ":")) + "\n").encode("utf-8"))
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(buffer.getvalue())
    tmp.replace(path)


def load_manifest(split: str, path: str | Path | None = None) -> list[ManifestEntry]:
    """The solvable games of ``split``, in manifest order. ``FileNotFoundError`` says how to build a missing one."""
    path = Path(path) if path is not None else manifest_path(split)
    if not path.exists():
        raise FileNotFoundError(
            f"ALFWorld manifest for split {split!r} not found at {path}; "
            f"run `python -m sdar_envs.alfworld.manifest --split {split}`"
        )
    data = _read(path)
    return [
        ManifestEntry(g["id"], g["task_type"], int(g["seed"]), g["instruction"], tuple(g["walkthrough"]))
        for g in data["games"]
    ]


def manifest_stats(split: str, path: str | Path | None = None) -> dict[str, int]:
    """``{"games": kept, "drawn": kept + rejected}`` of a split's manifest (the expert's build-time acceptance)."""
    data = _read(Path(path) if path is not None else manifest_path(split))
    kept = len(data["games"])
    return {"games": kept, "drawn": kept + sum(len(v) for v in data["rejected"].values())}


def _empty(split: str, quota: Mapping[str, int]) -> dict[str, Any]:
    return {
        "split": split,
        "version": GENERATOR_VERSION,
        "quota": dict(quota),
        "next_seed": {t: 0 for t in TASK_TYPES},
        "rejected": {t: [] for t in TASK_TYPES},
        "games": [],
    }


def build_manifest(
    split: str,
    *,
    path: str | Path | None = None,
    quota: Mapping[str, int] | None = None,
    max_seconds: float | None = None,
    task_types: Sequence[str] | None = None,
    fraction: float = 1.0,
    log: Any = print,
) -> dict[str, Any]:
    """Extend the manifest of ``split`` towards ``quota`` (default: :data:`TASK_SHARES`), resuming where it stopped.

    Stops when every task type (of ``task_types``, default all) has its quota (or ``ceil(fraction * quota)`` games,
    which keeps the task-type shares of a partial manifest) or after ``max_seconds``; saves after every game.
    Returns the manifest. Builders of disjoint ``task_types`` can run in parallel on separate ``path``s;
    :func:`merge_manifests` joins their files.
    """
    from sdar_envs.alfworld.engine import TextWorldEngine
    from sdar_envs.alfworld.expert import solve  # imports the engine

    path = Path(path) if path is not None else manifest_path(split)
    quota = dict(quota or TASK_SHARES[split])
    data = _read(path) if path.exists() else _empty(split, quota)
    if data.get("version") != GENERATOR_VERSION:
        raise ValueError(f"{path} was built by generator version {data.get('version')}; delete it to rebuild")
    data["quota"] = quota
    counts = {t: sum(g["task_type"] == t for g in data["games"]) for t in TASK_TYPES}
    start = time.monotonic()
    engine = TextWorldEngine()  # one engine for every game: each new one keeps 33 MB of disk until the process ends
    with tempfile.TemporaryDirectory(prefix="sdar-alfworld-") as tmp:
        while True:
            open_types = [t for t in task_types or TASK_TYPES if counts[t] < math.ceil(fraction * quota.get(t, 0))]
            if not open_types:
                break
            if max_seconds is not None and time.monotonic() - start > max_seconds:
                log(f"{split}: stopping after {max_seconds:.0f} s; run again to resume")
                break
            # The type furthest from its quota goes next, so a partial manifest keeps the task-type mix.
            task_type = min(open_types, key=lambda t: (counts[t] / quota[t], TASK_TYPES.index(t)))
            seed = data["next_seed"][task_type]
            data["next_seed"][task_type] = seed + 1
            spec = sample_game(split, task_type, seed)
            gamefile = write_game(spec, tmp)
            walkthrough = solve(
                str(gamefile), seed=expert_seed(split, task_type, seed), max_steps=MAX_WALKTHROUGH_STEPS, engine=engine
            )
            if walkthrough is None:
                data["rejected"][task_type].append(seed)
                log(f"{split}: rejected {spec.task_id}")
            else:
                data["games"].append(
                    {
                        "id": spec.task_id,
                        "task_type": task_type,
                        "seed": seed,
                        "instruction": spec.instruction,
                        "walkthrough": walkthrough,
                    }
                )
                counts[task_type] += 1
                log(f"{split}: {sum(counts.values())}/{sum(quota.values())} {spec.task_id} ({len(walkthrough)} steps)")
            data["games"].sort(key=lambda g: (TASK_TYPES.index(g["task_type"]), g["seed"]))
            _write(path, data)
    engine.close()
    return data


def merge_manifests(sources: Sequence[str | Path], out: str | Path) -> dict[str, Any]:
    """Join manifests of one split built in parallel for disjoint task types (each type from the source that got
    furthest with it) into ``out``."""
    parts = [_read(Path(p)) for p in sources]
    split = parts[0]["split"]
    if any(p["split"] != split or p["version"] != GENERATOR_VERSION for p in parts):
        raise ValueError("manifests to merge must share the split and the generator version")
    merged = _empty(split, parts[0]["quota"])
    for task_type in TASK_TYPES:
        best = max(parts, key=lambda p: p["next_seed"][task_type])
        merged["next_seed"][task_type] = best["next_seed"][task_type]
        merged["rejected"][task_type] = best["rejected"][task_type]
        merged["games"] += [g for g in best["games"] if g["task_type"] == task_type]
    merged["games"].sort(key=lambda g: (TASK_TYPES.index(g["task_type"]), g["seed"]))
    _write(Path(out), merged)
    return merged


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Build (or resume) the manifest of solvable ALFWorld games.")
    parser.add_argument("--split", choices=SPLITS, required=True)
    parser.add_argument("--max-minutes", type=float, default=None, help="stop after this long (resume later)")
    parser.add_argument("--path", default=None, help="manifest path (default: the package's data directory)")
    parser.add_argument("--task-types", nargs="+", choices=TASK_TYPES, default=None, help="only these task types")
    parser.add_argument(
        "--fraction", type=float, default=1.0, help="stop each task type at this fraction of its quota (resume later)"
    )
    parser.add_argument("--merge", nargs="+", default=None, help="merge these manifest files into --path instead")
    args = parser.parse_args(argv)
    if args.merge:
        merged = merge_manifests(args.merge, args.path or manifest_path(args.split))
        print(f"{args.split}: {len(merged['games'])} games")
        return
    max_seconds = None if args.max_minutes is None else args.max_minutes * 60
    build_manifest(
        args.split,
        path=args.path,
        max_seconds=max_seconds,
        task_types=args.task_types,
        fraction=args.fraction,
        log=lambda m: print(m, flush=True),
    )


if __name__ == "__main__":
    main()
