"""``sdar-data``: one subcommand per env writes that env's generated data."""

from __future__ import annotations

from pathlib import Path

from sdar_envs.alfworld.manifest import load_manifest
from sdar_envs.data_cli import main


def test_sdar_data_alfworld_writes_every_game_of_the_split(tmp_path: Path, capsys) -> None:
    assert main(["alfworld", "--split", "eval_out_of_distribution", "--cache-dir", str(tmp_path)]) == 0
    games = sorted(tmp_path.rglob("game.tw-pddl"))
    assert len(games) == len(load_manifest("eval_out_of_distribution")) == 134
    assert all((game.parent / "traj_data.json").is_file() for game in games)
    assert "eval_out_of_distribution: 134 games" in capsys.readouterr().out
