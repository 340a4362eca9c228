"""Loader for the official ALFWorld game files (``alfworld-download``: ``$ALFWORLD_DATA/json_2.1.1``).

Layout: ``json_2.1.1/{train,valid_seen,valid_unseen}/<task folder>/<trial>/{traj_data.json, game.tw-pddl}``. A game
is kept as upstream's ``AlfredTWEnv.collect_game_files`` keeps it: the folder is not a ``movable`` or ``Sliced``
one, the task type is one of the six, ``game.tw-pddl`` exists and says ``"solvable": true``.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from sdar_envs.alfworld.games import TASK_TYPES
from sdar_envs.alfworld.native.engine import read_game_file

__all__ = ["OFFICIAL_SPLITS", "OfficialGame", "find_official_games", "official_root"]

#: Our split names -> the folders of the official release.
OFFICIAL_SPLITS = {
    "train": "train",
    "eval_in_distribution": "valid_seen",
    "eval_out_of_distribution": "valid_unseen",
}
_TASK_LINE = re.compile(r"Your task is to: (.*?)\.\"")


@dataclass(frozen=True)
class OfficialGame:
    """One official game: id (``<task folder>/<trial>``), game file, task type, ALFRED params, task sentence."""

    id: str
    gamefile: Path
    task_type: str
    pddl_params: dict[str, object]
    instruction: str


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(
            f"{path} is not valid JSON ({err}): it is truncated or corrupt; restore it from the official release "
            "(`alfworld-download`)"
        ) from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds a JSON {type(data).__name__}, not a traj_data.json object")
    return data


def official_root(data_path: str | os.PathLike[str]) -> Path | None:
    """The ``json_2.1.1`` folder under ``data_path`` (or ``data_path`` itself), ``None`` if there is none."""
    path = Path(data_path).expanduser()
    for candidate in (path / "json_2.1.1", path):
        if any((candidate / folder).is_dir() for folder in OFFICIAL_SPLITS.values()):
            return candidate
    return None


def find_official_games(data_path: str | os.PathLike[str], split: str) -> list[OfficialGame]:
    """The playable official games of ``split``, sorted by id.

    ``FileNotFoundError`` if ``data_path`` holds no ``json_2.1.1`` release folder for the split.
    """
    root = official_root(data_path)
    if root is None or not (root / OFFICIAL_SPLITS[split]).is_dir():
        raise FileNotFoundError(
            f"no official ALFWorld games for split {split!r} under {data_path} (expected "
            f"json_2.1.1/{OFFICIAL_SPLITS[split]}/...); run `alfworld-download` or point data_path/ALFWORLD_DATA "
            "at the folder holding json_2.1.1"
        )
    split_dir = root / OFFICIAL_SPLITS[split]
    games = []
    for traj_path in sorted(split_dir.rglob("traj_data.json")):
        trial = traj_path.parent
        rel = trial.relative_to(split_dir).as_posix()
        gamefile = trial / "game.tw-pddl"
        if "movable" in rel or "Sliced" in rel or not gamefile.exists():
            continue
        traj = _read_json(traj_path)
        if traj.get("task_type") not in TASK_TYPES:
            continue
        game = read_game_file(gamefile)
        if not game.get("solvable"):
            continue
        match = _TASK_LINE.search(game.get("grammar", ""))
        instruction = match.group(1) if match else ""
        games.append(OfficialGame(rel, gamefile, traj["task_type"], dict(traj.get("pddl_params", {})), instruction))
    return games
