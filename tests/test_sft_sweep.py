"""The SFT sweep benchmark's --quick mode runs its cells, resumes nothing twice and summarises them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_sweep_trains_two_cells_and_writes_the_summary(tmp_path):
    command = [sys.executable, "benchmarks/bench_sft_sweep.py", "--quick", "--work", str(tmp_path / "w"),
               "--out", str(tmp_path / "sweep.md")]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    text = (tmp_path / "sweep.md").read_text()
    assert text.startswith("# SFT sweep of the small recipe: searchqa")
    rows = [line for line in text.splitlines() if line.startswith("| small-")]
    assert len(rows) == 2 and all("M |" in row and "%" in row for row in rows)
    for cell in ("small-none", "small-words-reply"):
        assert (tmp_path / "w" / "searchqa" / cell / "model" / "config.json").is_file()
