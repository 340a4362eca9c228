"""The learning benchmark's --quick mode: every stage runs, cells are cached, learning.json has the agreed shape."""

from __future__ import annotations

import json
import shutil

import pytest

from sdar_agent.learning import main, summarise_values


def test_summaries_are_student_t_intervals_over_seeds():
    one = summarise_values([0.4])
    assert one == {"mean": 0.4, "low": 0.4, "high": 0.4, "seeds": 1, "metric": "success"}
    three = summarise_values([0.1, 0.2, 0.3], "score")
    assert three["mean"] == pytest.approx(0.2) and three["metric"] == "score"
    assert three["high"] - three["mean"] == pytest.approx(4.303 * 0.1 / 3**0.5)


def test_quick_benchmark_writes_every_agent_and_the_gain_reuses_its_cells_and_reports_partial_runs(tmp_path, capsys):
    args = [
        "--quick",
        "--envs",
        "searchqa",
        "--seeds",
        "2",
        "--work",
        str(tmp_path / "w"),
        "--out",
        str(tmp_path / "l"),
    ]
    assert main(args) == 0
    result = json.loads((tmp_path / "l.json").read_text())
    entry = result["envs"]["searchqa"]
    for agent in ("random", "expert", "sft", "sft+grpo"):
        assert set(entry[agent]) >= {"mean", "low", "high", "seeds", "metric"} and entry[agent]["seeds"] == 2
    assert entry["expert"]["mean"] == 1.0
    assert set(entry["gain"]["sft+grpo"]) == {"mean", "low", "high", "seeds"}
    assert (tmp_path / "l.md").read_text().startswith("# Learning") and (tmp_path / "l.png").is_file()
    cells = sorted((tmp_path / "w" / "quick" / "searchqa" / "cells").glob("*-seed*.json"))
    assert len(cells) == 8
    run = json.loads((tmp_path / "w" / "quick" / "searchqa" / "cells" / "sft+grpo-seed0.json").read_text())
    assert run["records"] and "success" in run["records"][0]  # the curve travels with the cell
    training = json.loads((tmp_path / "w" / "quick" / "searchqa" / "cells" / "sft-training.json").read_text())
    assert "loss" in training["records"][0]
    stamps = [c.stat().st_mtime_ns for c in cells]
    capsys.readouterr()
    assert main(args) == 0  # everything cached: nothing is recomputed
    assert [c.stat().st_mtime_ns for c in cells] == stamps
    assert "Wall-clock per stage" in (tmp_path / "l.md").read_text()
    # the cells alone (committed for full runs) are the results: without the models and runs nothing is retrained
    moved = [*args[:-4], "--cells", str(tmp_path / "kept"), "--work", str(tmp_path / "w2")]
    moved += ["--out", str(tmp_path / "k")]
    shutil.copytree(tmp_path / "w" / "quick" / "searchqa" / "cells", tmp_path / "kept" / "searchqa")
    assert main(moved) == 0
    assert not (tmp_path / "w2").exists()
    assert json.loads((tmp_path / "k.json").read_text())["envs"]["searchqa"] == entry
    # --summarize-only computes nothing: a missing cell is listed as pending, the rest is reported
    missing = tmp_path / "w" / "quick" / "searchqa" / "cells" / "sft+grpo-seed1.json"
    missing.unlink()
    capsys.readouterr()
    assert main([*args, "--summarize-only"]) == 0
    assert not missing.exists()  # nothing was computed
    result = json.loads((tmp_path / "l.json").read_text())
    entry = result["envs"]["searchqa"]
    assert result["partial"] and entry["pending"] == ["sft+grpo seed 1"]
    assert entry["sft+grpo"]["seeds"] == 1 and entry["gain"]["sft+grpo"]["seeds"] == 1 and entry["sft"]["seeds"] == 2
    text = (tmp_path / "l.md").read_text()
    assert "Unfinished" in text and "sft+grpo seed 1" in text and "--summarize-only" not in text.split("\n")[2]
