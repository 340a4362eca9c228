"""The claims benchmark: verdict rules, cell locks, gate telemetry, and its --quick pipeline end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from sdar_agent.claims import (
    ARM_BY_NAME,
    ARMS,
    CLAIMS,
    arm_records,
    cell_costs,
    cell_lock,
    claims_recipe,
    decide,
    decide_gate_rise,
    env_report,
    gate_telemetry,
    main,
    paired,
    pending_estimate,
    rl_settings,
)
from sdar_agent.learning import RECIPES, run_records, summarise_values
from sdar_agent.methods import METHODS


def test_verdicts_follow_the_interval_of_the_paired_difference():
    assert decide(None) == "not run"
    assert decide(summarise_values([0.1])) == "inconclusive"  # one seed has no interval
    assert decide(summarise_values([0.10, 0.12, 0.11])) == "supported"
    assert decide(summarise_values([-0.10, -0.12, -0.11])) == "refuted"
    assert decide(summarise_values([0.10, -0.05, 0.02])) == "inconclusive"
    assert decide(summarise_values([-0.09, -0.09, -0.09])) == "inconclusive"  # one measurement three times


def test_a_deterministic_comparison_is_paired_over_its_tasks():
    tasks = [f"t{i}" for i in range(20)]
    # A greedy evaluation of one model: every seed gives the same per-task outcomes.
    student = {task: float(i % 2 == 0) for i, task in enumerate(tasks)}  # 10 of 20
    teacher = {task: 1.0 for task in tasks}  # 20 of 20: better on 10 tasks, worse on none
    cell = lambda outcomes: {"success": sum(outcomes.values()) / len(outcomes), "task_success": outcomes}  # noqa: E731
    values = {"sft": {s: cell(student) for s in range(3)}, "sft+context": {s: cell(teacher) for s in range(3)}}
    diff = paired(values, "sft+context", "sft", "success")
    assert diff["unit"] == "tasks" and diff["tasks"] == 20 and diff["seeds"] == 3
    assert diff["mean"] == pytest.approx(0.5) and diff["diffs"] == [0.5, 0.5, 0.5]
    assert 0 < diff["low"] < 0.5 < diff["high"] and decide(diff) == "supported"
    assert decide(paired(values, "sft", "sft+context", "success")) == "refuted"
    # Equal on every task: no interval, inconclusive.
    values["same"] = values["sft"]
    assert decide(paired(values, "same", "sft", "success")) == "inconclusive"
    # The seeds differ (RL runs, sampled evaluation): the interval stays over seeds.
    values["grpo"] = {s: cell({**student, tasks[1]: float(s > 0)}) for s in range(3)}
    assert paired(values, "grpo", "sft", "success")["unit"] == "seeds"
    # Cells without per-task outcomes (older ones) keep the seed rule.
    values["old"] = {s: {"success": 1.0} for s in range(3)}
    assert paired(values, "old", "sft", "success")["unit"] == "seeds"
    assert decide(paired(values, "old", "sft", "success")) == "inconclusive"


def test_the_gate_claim_needs_a_start_below_half_and_a_rise():
    assert decide_gate_rise([0.30, 0.31, 0.32], [0.60, 0.62, 0.61])[0] == "supported"
    assert decide_gate_rise([0.70, 0.71, 0.72], [0.90, 0.91, 0.92])[0] == "refuted"  # starts above 0.5
    assert decide_gate_rise([0.30, 0.31, 0.32], [0.20, 0.21, 0.20])[0] == "refuted"  # falls
    verdict, below, rise = decide_gate_rise([0.30, 0.55, 0.32], [0.60, 0.62, 0.61])
    assert verdict == "inconclusive" and below["seeds"] == 3 and rise["mean"] > 0


def test_every_arm_is_a_known_method_with_the_same_budget():
    recipe = claims_recipe("alfworld")
    assert recipe.sft["context_fraction"] == 0.5 and recipe.rl == RECIPES["alfworld"].rl
    budget = {k: recipe.rl[k] for k in ("steps", "tasks_per_step", "group_size", "lr")}
    for arm in ARMS:
        assert arm.method in METHODS
        settings = rl_settings(recipe, arm, quick=False)
        assert {k: settings[k] for k in budget} == budget, arm.name
        teacher = METHODS[arm.method].use_teacher or METHODS[arm.method].skills_in_student_prompt
        assert teacher == ("teacher_context" in arm.overrides), arm.name
    names = {arm.name for arm in ARMS}
    assert all(c.treatment in names | {"sft+context"} and c.control in names | {"sft"} for c in CLAIMS)
    assert ARM_BY_NAME["grpo_opsd"].overrides["teacher_context"] == "reference"
    assert rl_settings(recipe, ARM_BY_NAME["sdar-random"], quick=False)["context_quality"] == "random"


def test_a_cell_lock_excludes_a_second_holder_and_is_taken_over_from_a_dead_one(tmp_path):
    cell = tmp_path / "cells" / "grpo-seed0.json"
    with cell_lock(cell) as first:
        assert first
        with cell_lock(cell) as second:
            assert not second
    assert not cell.with_suffix(".lock").exists()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    cell.with_suffix(".lock").write_text(str(dead.pid))
    with cell_lock(cell) as taken:
        assert taken
    assert not cell.with_suffix(".lock").exists()
    cell.with_suffix(".lock").write_text(str(os.getpid()))  # a live holder (this process) keeps it
    with cell_lock(cell) as refused:
        assert not refused


def _records(a0: float, a1: float) -> list[dict]:
    return [
        {
            "step": step,
            "success": 0.1 * step,
            "sdar/gate_mean": 0.4,
            "sdar/gate_active_ratio": active,
            "sdar/teacher_gap_mean": -0.2,
            "sdar/gap_by_turn": [1.0, None, -1.0],
            "sdar/tokens_by_turn": [3, 0, 1],
            "sdar/gap_by_position": [0.5, -0.5],
            "sdar/tokens_by_position": [1, 3],
        }
        for step, active in ((1, a0), (2, a1))
    ]


def test_gate_telemetry_averages_seeds_per_step_and_weights_the_gap_by_tokens():
    gates = gate_telemetry([_records(0.3, 0.5), _records(0.4, 0.8)])
    assert gates["seeds"] == 2 and gates["steps"] == 2
    assert gates["curves"]["sdar/gate_active_ratio"] == pytest.approx([0.35, 0.65])
    assert gates["active_first"] == [0.3, 0.4] and gates["active_last"] == [0.5, 0.8]
    assert gates["gap_by_turn"] == {0: pytest.approx(1.0), 2: pytest.approx(-1.0)}
    assert gates["gap_by_position"] == {0: pytest.approx(0.5), 1: pytest.approx(-0.5)}
    assert gate_telemetry([]) == {} and gate_telemetry([[{"step": 1, "success": 0.0}]]) == {}  # GRPO runs: none


def test_a_cell_keeps_the_numbers_of_its_run_records_and_the_report_reads_the_gates_from_them(tmp_path):
    record = {"step": 1, "success": 0.5, "sdar/gap_by_turn": [0.1, None], "samples": [{"text": "go"}], "note": "x"}
    (tmp_path / "metrics.jsonl").write_text(json.dumps(record) + "\n")
    assert run_records(tmp_path) == [{"step": 1, "success": 0.5, "sdar/gap_by_turn": [0.1, None]}]
    values = {
        "sdar": {1: {"success": 0.2, "records": _records(0.6, 0.7)}, 0: {"success": 0.1, "records": _records(0.3, 0.5)}}
    }
    assert arm_records(values, "sdar") == [values["sdar"][0]["records"], values["sdar"][1]["records"]]
    report = env_report("alfworld", {"values": values}, [ARM_BY_NAME["sdar"]])
    assert report["gates"]["seeds"] == 2
    assert report["claims"]["gate-rises"]["diff"]["first"] == [0.3, 0.6]
    assert report["claims"]["gate-rises"]["diff"]["last"] == [0.5, 0.7]


def test_warm_start_rows_of_random_and_wrong_context_come_only_with_an_arm_that_reads_them(tmp_path, monkeypatch):
    from sdar_agent import claims

    order: list[str] = []

    def evaluate(recipe, model, seed, tasks, quick, quality, engine="auto"):
        order.append(f"eval {quality} {seed}")
        return {"success": 0.5, "context": quality}

    def train(recipe, arm, seed, start, work, quick, threads, engine="auto"):
        order.append(f"train {arm.name} {seed}")
        return tmp_path / "run" / "model"

    monkeypatch.setattr(claims, "_evaluate", evaluate)
    monkeypatch.setattr(claims, "_train_arm", train)
    monkeypatch.setattr(claims, "_train_sft", lambda *a: tmp_path / "sft")
    monkeypatch.setattr(claims, "run_records", lambda run: [])
    arms = [ARM_BY_NAME["grpo"], ARM_BY_NAME["sdar"], ARM_BY_NAME["sdar-random"]]
    run = claims.run_env("alfworld", tmp_path / "w", seeds=[0], arms=arms, cells=tmp_path / "cells")
    assert sorted(run["values"]) == ["grpo", "sdar", "sdar-random", "sft", "sft+context", "sft+context-random"]
    assert order == [
        "eval None 0",
        "eval informative 0",
        "train grpo 0",
        "eval None 0",
        "train sdar 0",
        "eval None 0",
        "eval random 0",  # before the tier-2 arm that reads it
        "train sdar-random 0",
        "eval None 0",
    ]
    assert (tmp_path / "cells" / "sft+context-random-seed0.json").is_file()


def test_a_greedy_warm_start_evaluation_runs_once_and_the_other_seeds_repeat_it(tmp_path, monkeypatch):
    from sdar_agent import claims

    order: list[str] = []

    def evaluate(recipe, model, seed, tasks, quick, quality, engine="auto"):
        order.append(f"eval {quality} {seed}")
        return {"success": 0.5, "context": quality}

    monkeypatch.setattr(claims, "_evaluate", evaluate)
    monkeypatch.setattr(claims, "_train_arm", lambda *a, **k: tmp_path / "run" / "model")
    monkeypatch.setattr(claims, "_train_sft", lambda *a: tmp_path / "sft")
    monkeypatch.setattr(claims, "run_records", lambda run: [])
    grpo = [ARM_BY_NAME["grpo"]]
    # Search-QA evaluates greedily: one warm-start evaluation per row; the RL runs are evaluated on every seed.
    run = claims.run_env("searchqa", tmp_path / "s", seeds=range(3), arms=grpo, cells=tmp_path / "cells")
    assert order == ["eval None 0", "eval informative 0", "eval None 0", "eval None 1", "eval None 2"]
    repeat = run["values"]["sft"][2]
    assert repeat["reused_from_seed"] == 0 and repeat["success"] == 0.5 and repeat["context"] is None
    assert json.loads((tmp_path / "cells" / "sft+context-seed1.json").read_text())["reused_from_seed"] == 0
    # A repeated cell cost nothing: the measured minutes per evaluation count the computed ones only.
    assert claims.cell_costs(run["values"])["eval"]["cells"] == 2 + 3
    # ALFWorld samples its evaluation: every seed is its own measurement.
    order.clear()
    claims.run_env("alfworld", tmp_path / "a", seeds=range(2), arms=grpo, cells=tmp_path / "acells")
    assert order[:4] == ["eval None 0", "eval None 1", "eval informative 0", "eval informative 1"]


def test_quick_claims_benchmark_fills_its_cells_reuses_them_and_reports_missing_ones(tmp_path, capsys):
    args = ["--quick", "--envs", "alfworld", "--seeds", "2", "--arms", "sdar", "skill_grpo"]
    args += ["--work", str(tmp_path / "w"), "--out", str(tmp_path / "claims")]
    assert main(args) == 0
    report = json.loads((tmp_path / "claims.json").read_text())
    entry = report["envs"]["alfworld"]
    assert report["arms"] == ["grpo", "sdar", "skill_grpo"]  # GRPO is always there: every claim pairs against it
    for row in ("sft", "sft+context", "grpo", "sdar"):
        assert entry["rows"][row]["seeds"] == 2, row
    assert "sft+context-random" not in entry["rows"]  # no arm's teacher reads random context
    assert entry["rows"]["skill_grpo+context"]["seeds"] == 2
    assert entry["vs_grpo"]["sdar"]["seeds"] == 2 and len(entry["vs_grpo"]["sdar"]["diffs"]) == 2
    assert entry["vs_sft"]["grpo"]["seeds"] == 2
    assert entry["by_type"]["sft"] and all(0 <= v <= 1 for v in entry["by_type"]["sdar"].values())
    assert entry["claims"]["sdar>grpo"]["verdict"] in ("supported", "refuted", "inconclusive")
    assert entry["claims"]["naive-unstable"]["verdict"] == "not run"
    assert entry["gates"]["seeds"] == 2 and entry["claims"]["gate-rises"]["diff"]["seeds"] == 2
    assert report["settings"]["alfworld"]["arms"]["sdar"]["teacher_context"] == "reference"
    cell = json.loads((tmp_path / "w" / "quick" / "alfworld" / "cells" / "sft+context-seed0.json").read_text())
    assert cell["context"] == "informative"
    run = json.loads((tmp_path / "w" / "quick" / "alfworld" / "cells" / "sdar-seed0.json").read_text())
    assert run["records"] and "sdar/gate_active_ratio" in run["records"][0]  # the telemetry travels with the cell
    text = (tmp_path / "claims.md").read_text()
    assert text.startswith("# The paper's claims") and "| SDAR beats GRPO | alfworld |" in text
    assert "What this scale cannot say" in text
    assert "success by task type" in text and "| vs SFT | vs GRPO |" in text
    assert (tmp_path / "claims_curves.png").is_file() and (tmp_path / "claims_gates.png").is_file()
    cells = sorted((tmp_path / "w" / "quick" / "alfworld" / "cells").glob("*.json"))
    stamps = [c.stat().st_mtime_ns for c in cells]
    assert main(args) == 0  # everything cached: nothing is recomputed
    assert [c.stat().st_mtime_ns for c in cells] == stamps
    missing = tmp_path / "w" / "quick" / "alfworld" / "cells" / "sdar-seed1.json"
    missing.unlink()
    capsys.readouterr()
    assert main([*args, "--summarize-only"]) == 0
    assert not missing.exists()
    report = json.loads((tmp_path / "claims.json").read_text())
    assert report["partial"] and report["envs"]["alfworld"]["pending"] == ["sdar seed 1"]
    assert report["envs"]["alfworld"]["vs_grpo"]["sdar"]["seeds"] == 1
    assert "sdar seed 1" in (tmp_path / "claims.md").read_text()
    assert (
        "Why not yet: compute. Left on alfworld: 1 RL cell(s) and 0 warm-start evaluation(s); at the measured"
        in (tmp_path / "claims.md").read_text()
    )
    assert report["envs"]["alfworld"]["cost"]["rl"]["cells"] == 7  # grpo, skill_grpo, skill_grpo+context x2; sdar x1


def _gpu_check():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check_claims.py"
    spec = importlib.util.spec_from_file_location("gpu_check_claims", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_gpu_claims_check_steps_both_methods_equally_and_reports_paired_rows(tmp_path, capsys):
    out = tmp_path / "claims_gpu_check.md"
    result = _gpu_check().main(["--quick", "--out", str(out), "--work", str(tmp_path / "work")])
    assert set(result["evaluations"]) == {"sft", "sft+grpo", "sft+sdar"}
    assert all(row["episodes"] == 2 for row in result["evaluations"].values())
    assert [r["method"] for r in result["steps"]] == ["grpo", "sdar"]  # the same budget for both
    sdar = result["steps"][1]
    assert 0.0 <= sdar["sdar/gate_mean"] <= 1.0 and "sdar/gate_mean" not in result["steps"][0]
    text = out.read_text()
    assert "| sft+sdar |" in text and "sdar - grpo:" in text and "Status: done: 1 steps" in text
    assert json.loads(out.with_suffix(".json").read_text())["status"].startswith("done")
    capsys.readouterr()


def test_the_gpu_claims_check_packs_what_the_device_lacks(tmp_path):
    import tarfile

    module = _gpu_check()
    target = module.pack_deps(tmp_path / "site.tar.gz")
    with tarfile.open(target) as tar:
        names = set(tar.getnames())
    assert {"alfworld/__init__.py", "textworld/__init__.py", "gymnasium/__init__.py", "hashids.py"} <= names
    assert not any("__pycache__" in name for name in names)


def test_teacher_signals_average_each_seeds_steps_then_summarise_over_seeds():
    from sdar_agent.claims import ARM_BY_NAME, SIGNALS, teacher_signals

    def step(gate: float, gap: float) -> dict:
        return dict(zip(SIGNALS, (gate, gate + 0.1, gap, -gap), strict=True))

    values = {
        "sdar": {0: {"records": [step(0.4, -0.2), step(0.6, 0.0)]}, 1: {"records": [step(0.5, -0.1)]}},
        "grpo": {0: {"records": [{"success": 0.1}]}},  # no teacher: no row
    }
    signals = teacher_signals(values, [ARM_BY_NAME["grpo"], ARM_BY_NAME["sdar"]])
    assert set(signals) == {"sdar"}
    gate = signals["sdar"]["sdar/gate_mean"]
    assert gate["seeds"] == 2 and gate["mean"] == pytest.approx(0.5) and gate["low"] == gate["high"] == 0.5
    gap = signals["sdar"]["sdar/teacher_gap_mean"]
    assert gap["mean"] == pytest.approx(-0.1) and gap["low"] == pytest.approx(gap["high"])
    assert signals["sdar"]["sdar/teacher_kl"]["mean"] == pytest.approx(0.1)


def test_the_report_prices_the_missing_cells_at_the_measured_cost_per_cell():
    values = {
        "sft": {0: {"success": 0.1, "seconds": 120.0}, 1: {"success": 0.1, "seconds": 240.0}},
        "grpo": {0: {"success": 0.2, "seconds": 1800.0, "records": [{"step": 1}]}},
        "sdar": {0: {"success": 0.2, "seconds": 3600.0, "records": [{"step": 1}]}},
    }
    cost = cell_costs(values)
    assert cost == {"rl": {"minutes": 45.0, "cells": 2}, "eval": {"minutes": 3.0, "cells": 2}}
    text = pending_estimate(["sdar seed 1", "grpo seed 1 (being computed)", "sft+context-random seed 0"], cost)
    assert text.startswith("2 RL cell(s) and 1 warm-start evaluation(s); at the measured 45 min per RL cell")
    assert "about 1.6 hours of one worker, 0.8 with two" in text  # (2 x 45 + 3) / 60
    assert pending_estimate(["grpo seed 0"], {}) == "1 RL cell(s) and 0 warm-start evaluation(s)"


def test_a_missing_skill_grpo_run_leaves_its_with_context_evaluation_pending_too(tmp_path):
    from sdar_agent import claims

    arms = [ARM_BY_NAME["grpo"], ARM_BY_NAME["skill_grpo"]]
    run = claims.run_env("alfworld", tmp_path / "w", seeds=[0], arms=arms, cells=tmp_path / "cells", cached_only=True)
    assert run["values"] == {}
    expected = ["sft", "sft+context", "grpo", "skill_grpo", "skill_grpo+context"]
    assert run["pending"] == [f"{row} seed 0" for row in expected]
