"""`python -m skillbank show|list`."""

from __future__ import annotations

import subprocess
import sys

from skillbank import SkillBank, TaskRecord, render
from skillbank.__main__ import main


def test_show_prints_exactly_the_teacher_prefix(capsys):
    assert main(["show", "--env", "alfworld", "--task-type", "pick_heat_then_place"]) == 0
    out = capsys.readouterr().out
    expected = render(SkillBank(seed=0).retrieve(TaskRecord(env="alfworld", task_type="pick_heat_then_place")))
    assert out == expected
    assert out.startswith("[Privileged Skill Information]\n## Skill 1: ")
    assert "heat egg 1 with microwave 1" in out


def test_show_honours_strategy_k_instruction_and_ids(capsys):
    args = ["show", "--env", "searchqa", "--data-source", "nq", "--instruction", "Which is older, A or B?"]
    assert main([*args, "--strategy", "ucb", "--k", "2", "--ids"]) == 0
    captured = capsys.readouterr()
    assert captured.out.count("## Skill ") == 2
    assert "# family: compare" in captured.err
    assert "searchqa.compare." in captured.err


def test_show_loads_a_saved_state(tmp_path, capsys):
    bank = SkillBank(seed=0)
    task = TaskRecord(env="webshop", task_type="electronics", instruction="a usb c cable")
    for _ in range(30):  # every arm: 30 pulls, mean 0 -> score 0 + 0.5 * sqrt(ln 60 / 30) = 0.18
        bank.update(task, [s.id for s in bank.skills_for("webshop")], 0.0)
    for _ in range(30):  # one arm: 60 pulls, mean 0.5 -> score 0.5 + 0.5 * sqrt(ln 60 / 60) = 0.63
        bank.update(task, ["webshop.price.next_page_before_settling"], 1.0)
    path = bank.save_state(tmp_path / "state.json")
    argv = ["show", "--env", "webshop", "--task-type", "electronics", "--instruction", "a usb c cable"]
    assert main([*argv, "--strategy", "ucb", "--k", "1", "--state", str(path)]) == 0
    assert capsys.readouterr().out.startswith("[Privileged Skill Information]\n## Skill 1: Use Next > when page 1")
    assert main([*argv, "--strategy", "ucb", "--k", "1"]) == 0  # cold start: the electronics skill
    assert "Electronics: the spec words" in capsys.readouterr().out


def test_bad_input_exits_2_with_the_reason(tmp_path, capsys):
    assert main(["show", "--env", "alfworld", "--strategy", "full", "--k", "2"]) == 2
    assert "call it with k=None" in capsys.readouterr().err
    (tmp_path / "bad.json").write_text("{")
    assert main(["show", "--env", "alfworld", "--state", str(tmp_path / "bad.json")]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_list_prints_one_line_per_skill(capsys):
    assert main(["list", "--env", "searchqa"]) == 0
    lines = capsys.readouterr().out.strip().split("\n")
    assert len(lines) == len(SkillBank().skills_for("searchqa"))
    assert lines[0].startswith("searchqa.general.answer_from_retrieved_text\t[general]\t")


def test_module_runs_as_documented():
    result = subprocess.run(
        [sys.executable, "-m", "skillbank", "show", "--env", "alfworld", "--task-type", "pick_heat_then_place"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("[Privileged Skill Information]\n")
    assert result.stdout.endswith("\n\n")


def test_docstring_examples_run():
    import doctest

    import skillbank
    import skillbank.retrieval

    for module in (skillbank, skillbank.retrieval):
        result = doctest.testmod(module, raise_on_error=False)
        assert result.failed == 0 and result.attempted > 0, module.__name__
