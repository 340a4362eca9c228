"""The leaderboard (:mod:`sdar_agent.leaderboard`): table layout, intervals, cache/resume, reference agents, outputs."""

from __future__ import annotations

import csv
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
from requires_vllm import ENGINE_PARAMS

import sdar_agent.leaderboard as lb
from sdar_agent.cli import build_parser as sdar_parser
from sdar_agent.leaderboard.cells import ModelCache
from sdar_agent.leaderboard.cli import build_parser

SEARCHQA = lb.ENVS["searchqa"]
WEBSHOP = lb.ENVS["webshop"]
ALFWORLD = lb.ENVS["alfworld"]


def _result(label: str, env: str, split: str, seed: int, groups: dict[str, tuple[int, float, float]]) -> dict:
    return {
        "agent": label.lower(),
        "label": label,
        "env": env,
        "split": split,
        "seed": seed,
        "groups": {g: {"episodes": n, "success": s, "score": sc} for g, (n, s, sc) in groups.items()},
    }


def _searchqa(label: str, seed: int, success: dict[str, float], n: int = 10) -> dict:
    return _result(label, "searchqa", "test", seed, {g: (n, s, s) for g, s in success.items()})


def test_t_quantiles_match_the_table_and_tend_to_the_normal():
    assert lb.t_quantile(1) == pytest.approx(12.706)
    assert lb.t_quantile(2) == pytest.approx(4.303)
    assert lb.t_quantile(4) == pytest.approx(2.776)
    assert lb.t_quantile(1000) == pytest.approx(1.96)
    with pytest.raises(ValueError, match="degrees of freedom"):
        lb.t_quantile(0)


def test_wilson_interval_of_known_proportions():
    low, high = lb.wilson_interval(0, 8)
    assert low == 0.0
    assert high == pytest.approx(0.3244, abs=1e-4)
    low, high = lb.wilson_interval(5, 10)
    assert (low, high) == (pytest.approx(0.2366, abs=1e-4), pytest.approx(0.7634, abs=1e-4))


def test_wilson_bounds_hold_the_proportion_at_zero_and_one():
    for n in range(1, 300):
        assert lb.wilson_interval(n, n)[1] == 1.0  # n = 60 used to give 1 - 1.1e-16 (a negative error bar)
        assert lb.wilson_interval(0, n)[0] == 0.0


def test_three_seeds_give_mean_and_student_t_interval_with_all_episodes_counted():
    sources = SEARCHQA.groups
    values = [0.2, 0.4, 0.6]
    results = [_searchqa("GRPO", seed, dict.fromkeys(sources, v)) for seed, v in enumerate(values)]
    table = lb.aggregate(results, [SEARCHQA])
    cell = table[("GRPO", "searchqa/test", "single_hop (ID)")]
    half = 4.303 * 0.2 / 3**0.5  # sd of (0.2, 0.4, 0.6) is 0.2
    assert cell.mean == pytest.approx(40.0)
    assert cell.low == pytest.approx(100 * (0.4 - half))
    assert cell.high == pytest.approx(100 * (0.4 + half))
    assert (cell.seeds, cell.episodes) == (3, 30)
    average = table[("GRPO", "searchqa/test", "SQA Avg")]
    assert average.mean == pytest.approx(40.0)
    assert average.episodes == 150


def test_searchqa_average_is_the_unweighted_mean_of_sources():
    success = {"single_hop": 1.0, "bridge": 0.5, "comparison": 0.0, "three_hop": 0.0, "paraphrase": 0.0}
    results = [_searchqa("A", 0, success, n=10)]
    results[0]["groups"]["single_hop"]["episodes"] = 90  # weighting by episodes would give a different mean
    table = lb.aggregate(results, [SEARCHQA])
    assert table[("A", "searchqa/test", "SQA Avg")].mean == pytest.approx(30.0)
    assert table[("A", "searchqa/test", "SQA Avg")].low is None


def test_alfworld_average_is_over_all_episodes_as_in_the_paper():
    groups = {t: (4, 0.0, 0.0) for t in ALFWORLD.groups}
    groups["pick_and_place_simple"] = (12, 0.5, 0.5)  # 6 of 12 won; 6 of 32 episodes overall
    table = lb.aggregate([_result("R", "alfworld", "eval_out_of_distribution", 0, groups)], [ALFWORLD])
    average = table[("R", "alfworld/eval_out_of_distribution", "ALF Avg")]
    assert average.mean == pytest.approx(100 * 6 / 32)
    assert average.episodes == 32
    low, high = lb.wilson_interval(6, 32)
    assert (average.low, average.high) == (pytest.approx(100 * low), pytest.approx(100 * high))
    assert table[("R", "alfworld/eval_out_of_distribution", "Pick")].mean == pytest.approx(50.0)


def test_identical_seeds_fall_back_to_the_wilson_interval_of_pooled_episodes():
    results = [_result("E", "webshop", "test_128", seed, {"all": (8, 1.0, 1.0)}) for seed in range(2)]
    table = lb.aggregate(results, [WEBSHOP])
    success = table[("E", "webshop/test_128", "WS Succ")]
    assert success.mean == 100.0
    assert success.low == pytest.approx(100 * lb.wilson_interval(16, 16)[0])
    assert success.episodes == 16
    score = table[("E", "webshop/test_128", "WS Score")]
    assert (score.mean, score.low, score.high) == (100.0, None, None)


def test_markdown_table_follows_the_paper_layout_with_id_ood_marks():
    agents = [
        lb.BoardAgent("random", "Random", "random"),
        lb.BoardAgent("run-a", "GRPO", "model", "m", envs=("searchqa",)),
    ]
    results = [
        _searchqa("Random", 0, dict.fromkeys(SEARCHQA.groups, 0.0)),
        _result("Random", "webshop", "test_128", 0, {"all": (8, 0.0, 0.25)}),
        _searchqa("GRPO", 0, dict.fromkeys(SEARCHQA.groups, 0.5)),
    ]
    table = lb.aggregate(results, [ALFWORLD, SEARCHQA, WEBSHOP])
    text = lb.render_markdown(table, agents, [ALFWORLD, SEARCHQA, WEBSHOP], notes=["a note"])
    header = next(line for line in text.splitlines() if line.startswith("| Agent"))
    columns = [c.strip() for c in header.strip("|").split("|")]
    assert columns == [
        "Agent",
        "Pick",
        "Look",
        "Clean",
        "Heat",
        "Cool",
        "Pick2",
        "ALF Avg",
        "single_hop (ID)",
        "bridge (ID)",
        "comparison (OOD)",
        "three_hop (OOD)",
        "paraphrase (OOD)",
        "SQA Avg",
        "WS Score",
        "WS Succ",
    ]
    random_row = next(line for line in text.splitlines() if line.startswith("| Random"))
    assert random_row.count(" - ") == 7  # no ALFWorld results: seven empty cells
    assert "| 25.0 (8) | 0.0 [0.0, 32.4] (8) |" in random_row
    grpo_row = next(line for line in text.splitlines() if line.startswith("| GRPO"))
    assert "50.0 [23.7, 76.3] (10)" in grpo_row
    assert "### alfworld eval_in_distribution" in text
    assert "* a note" in text


def test_interrupted_run_resumes_with_only_the_missing_cells(tmp_path):
    agents = [lb.BoardAgent("a", "A", "random"), lb.BoardAgent("b", "B", "random")]
    calls: list[tuple[str, int]] = []

    def fake_play(agent, spec, split, seed, settings, models):
        calls.append((agent.key, seed))
        if len(calls) == 2 and not (tmp_path / "interrupted").exists():
            (tmp_path / "interrupted").touch()
            raise KeyboardInterrupt
        return _result(agent.label, spec.name, split, seed, {"all": (4, 0.25 * seed, 0.0)})

    settings = lb.EvalSettings(per_group=1)
    with pytest.raises(KeyboardInterrupt):
        lb.run_cells(tmp_path, agents, [WEBSHOP], [0, 1], settings, progress=False, evaluate_fn=fake_play)
    assert calls == [("a", 0), ("a", 1)]
    assert lb.cell_path(tmp_path, agents[0], "webshop", "test_128", 0).is_file()
    calls.clear()
    results = lb.run_cells(tmp_path, agents, [WEBSHOP], [0, 1], settings, progress=False, evaluate_fn=fake_play)
    assert calls == [("a", 1), ("b", 0), ("b", 1)]
    assert [(r["agent"], r["seed"]) for r in results] == [("a", 0), ("a", 1), ("b", 0), ("b", 1)]
    calls.clear()
    lb.run_cells(tmp_path, agents, [WEBSHOP], [0, 1], settings, progress=False, evaluate_fn=fake_play)
    assert calls == []


def test_a_cell_cached_with_other_settings_is_played_again(tmp_path):
    agents = [lb.BoardAgent("m", "M", "model", "tiny"), lb.BoardAgent("r", "R", "random")]
    calls: list[str] = []

    def fake_play(agent, spec, split, seed, settings, models):
        calls.append(agent.key)
        return _result(agent.label, spec.name, split, seed, {"all": (settings.per_group, 0.0, 0.0)})

    def play(**changes):
        settings = lb.EvalSettings(**{"per_group": 1, "max_turns": {"webshop": 6}, **changes})
        return lb.run_cells(tmp_path, agents, [WEBSHOP], [0], settings, progress=False, evaluate_fn=fake_play)

    play()
    assert calls == ["m", "r"]
    assert play()[0]["settings"] == {"per_group": 1, "max_turns": 6, "max_new_tokens": 512, "max_prompt_tokens": 4096}
    assert calls == ["m", "r"]  # same settings: both cached
    play(max_turns={"webshop": 10})
    assert calls == ["m", "r", "m"]  # a scripted agent ignores the model turn limit
    results = play(per_group=2)
    assert calls == ["m", "r", "m", "m", "r"]
    assert [r["groups"]["all"]["episodes"] for r in results] == [2, 2]


@pytest.fixture(scope="module")
def searchqa_subset():
    return dataclasses.replace(SEARCHQA, groups=("single_hop", "three_hop"))


def test_expert_solves_every_searchqa_question_of_a_small_subset(searchqa_subset):
    for group in searchqa_subset.groups:
        result = lb.play_scripted(
            lb.BoardAgent("expert", "Expert", "expert"),
            searchqa_subset,
            "test",
            group=group,
            num_tasks=3,
            seed=0,
            max_turns=None,
        )
        assert result == {"episodes": 3, "success": 1.0, "score": 1.0}


def test_random_agent_plays_well_formed_actions_and_almost_never_answers_right(searchqa_subset):
    result = lb.play_scripted(
        lb.BoardAgent("random", "Random", "random"),
        searchqa_subset,
        "test",
        group="bridge",
        num_tasks=6,
        seed=1,
        max_turns=None,
    )
    assert result["episodes"] == 6
    assert result["success"] <= 1 / 6


def test_cells_table_csv_markdown_and_png_are_written(tmp_path, searchqa_subset):
    spec = dataclasses.replace(searchqa_subset, groups=("single_hop",))
    agents = [lb.BoardAgent("random", "Random", "random"), lb.BoardAgent("expert", "Expert", "expert")]
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text("\n".join(json.dumps({"step": s, "success": s / 4}) for s in (1, 2, 3)) + "\n")
    agents.append(lb.BoardAgent("r", "GRPO", "model", "unused", envs=("webshop",), run_dir=str(run)))
    results = lb.run_cells(tmp_path, agents, [spec], [0, 1], lb.EvalSettings(per_group=2), progress=False)
    assert len(results) == 4  # the run is restricted to webshop
    table = lb.aggregate(results, [spec])
    prefix = tmp_path / "board"
    lb.write_csv(prefix.with_suffix(".csv"), table)
    lb.write_figure(prefix.with_suffix(".png"), table, agents, [spec])
    text = lb.render_markdown(table, agents, [spec])
    rows = list(csv.DictReader(prefix.with_suffix(".csv").open()))
    expert = next(r for r in rows if r["agent"] == "Expert" and r["column"] == "single_hop (ID)")
    assert (float(expert["mean"]), expert["seeds"], expert["episodes"]) == (100.0, "2", "4")
    assert prefix.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| Expert | 100.0 [51.0, 100.0] (4) | 100.0 (4) |" in text


def test_the_script_and_the_sdar_subcommand_share_the_options():
    script = {a.dest: a.default for a in build_parser()._actions}
    sub = sdar_parser().parse_args(["leaderboard", "--envs", "searchqa", "--quick"])
    assert sub.command == "leaderboard"
    assert (sub.envs, sub.quick) == (["searchqa"], True)
    assert {k: v for k, v in vars(sub).items() if k not in ("command", "envs", "quick")} == {
        k: v for k, v in script.items() if k not in ("help", "envs", "quick")
    }


def test_the_thin_script_prints_the_leaderboard_help():
    root = Path(__file__).resolve().parents[1]
    shown = subprocess.run(
        [sys.executable, str(root / "benchmarks" / "leaderboard.py"), "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=root,
    ).stdout
    assert shown.startswith("usage: leaderboard ")
    assert "--quick" in shown and "--runs" in shown


def test_sdar_leaderboard_and_the_script_write_the_same_tables(tmp_path, capsys):
    from sdar_agent.cli import main as sdar_main

    options = ["--envs", "searchqa", "--agents", "random", "expert", "--per-group", "1", "--seeds", "1"]
    options += ["--torch-threads", "0", "--no-progress"]
    assert sdar_main(["leaderboard", *options, "--out", str(tmp_path / "a")]) == 0
    assert lb.main([*options, "--out", str(tmp_path / "b")]) == 0
    capsys.readouterr()
    a = (tmp_path / "a" / "leaderboard.md").read_text()
    b = (tmp_path / "b" / "leaderboard.md").read_text()
    assert f"Command: `sdar leaderboard {' '.join(options)} --out {tmp_path / 'a'}`" in a
    assert f"Command: `python benchmarks/leaderboard.py {' '.join(options)} --out {tmp_path / 'b'}`" in b
    tables_a, tables_b = a[a.index("### Main table") :], b[b.index("### Main table") :]
    assert tables_a == tables_b
    assert "| Expert / oracle | 100.0 [20.7, 100.0] (1) |" in tables_a
    assert (tmp_path / "a" / "leaderboard.csv").read_text() == (tmp_path / "b" / "leaderboard.csv").read_text()


@pytest.mark.parametrize("engine", ENGINE_PARAMS)
def test_model_cells_play_with_the_rollout_engine_of_the_flag(engine, tmp_path, searchqa_subset):
    args = build_parser().parse_args(["--rollout-engine", engine, "--per-group", "1", "--max-response-tokens", "4"])
    assert args.rollout_engine == engine
    spec = dataclasses.replace(searchqa_subset, groups=("single_hop",))
    settings = lb.EvalSettings(per_group=1, max_turns={"searchqa": 1}, max_new_tokens=4, rollout_engine=engine)
    models = ModelCache()
    try:
        agent = lb.BoardAgent("tiny", "Tiny", "model", "tiny")
        result = lb.evaluate_cell(agent, spec, "test", 0, settings, models)
    finally:
        models.close()
    assert result["rollout_engine"] == engine and result["groups"]["single_hop"]["episodes"] == 1


def test_two_differing_seeds_of_a_proportion_read_as_pooled_episodes():
    """t with one degree of freedom is 12.7 standard errors wide; two seeds get the Wilson interval of all episodes."""
    groups = [{"all": (30, 0.1, 0.1)}, {"all": (30, 0.0, 0.0)}]
    results = [_result("S", "webshop", "test_128", seed, g) for seed, g in enumerate(groups)]
    table = lb.aggregate(results, [WEBSHOP])
    success = table[("S", "webshop/test_128", "WS Succ")]
    assert success.mean == pytest.approx(5.0)
    low, high = lb.wilson_interval(3, 60)
    assert (success.low, success.high) == (pytest.approx(100 * low), pytest.approx(100 * high))
    score = table[("S", "webshop/test_128", "WS Score")]  # not a proportion: Student-t over the two seeds
    assert score.low == pytest.approx(5.0 - 12.706 * 5.0)  # sd of (10, 0) is 7.07, / sqrt(2) = 5


def test_quick_trains_grpo_and_sdar_from_the_shipped_warm_start_and_reuses_them(tmp_path, monkeypatch):
    """The SFT / SFT+GRPO / SFT+SDAR rows of ``make demo`` (budget shrunk to 1 step of 1 task x 2 rollouts)."""
    import sdar_agent.leaderboard.quick as quick
    import sdar_agent.learning as learning
    import sdar_agent.trainer as trainer_module
    from sdar_agent.warm_start import shipped_dir

    recipe = dataclasses.replace(
        learning.RECIPES["alfworld"], rl={**learning.RECIPES["alfworld"].rl, "max_turns": 3}, eval_max_turns=3
    )
    monkeypatch.setitem(learning.RECIPES, "alfworld", recipe)
    monkeypatch.setattr(quick, "WARM_START_RL", {**quick.WARM_START_RL, "steps": 1, "tasks_per_step": 1})
    settings = lb.EvalSettings(max_turns={"alfworld": 8}, max_new_tokens=24, max_prompt_tokens=2048)
    rows = quick.warm_start_rows(tmp_path, [ALFWORLD, SEARCHQA], ["grpo", "sdar"], settings, skills_k=2)
    assert [r.label for r in rows] == ["SFT", "SFT+GRPO", "SFT+SDAR"]
    assert rows[0].model == str(shipped_dir("alfworld"))
    assert {r.envs for r in rows} == {("alfworld",)} and {r.max_turns for r in rows} == {3}
    for row in rows[1:]:
        config = json.loads(sorted((Path(row.run_dir) / "checkpoints").glob("step_*/config.json"))[-1].read_text())
        assert (config["model"], config["max_turns"], config["steps"]) == (str(shipped_dir("alfworld")), 3, 1)
        assert (Path(row.run_dir) / "metrics.jsonl").read_text().count("\n") == 1
        assert row.key.endswith("-t3")
    assert lb.cell_settings(rows[0], ALFWORLD, settings)["max_turns"] == 3  # not --quick's 8

    def no_training(*args, **kwargs):
        raise AssertionError("finished runs are reused")

    monkeypatch.setattr(trainer_module, "Trainer", no_training)
    assert quick.warm_start_rows(tmp_path, [ALFWORLD], ["grpo", "sdar"], settings, skills_k=2) == rows
