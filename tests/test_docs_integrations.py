"""Every example in ``docs/integrations.md`` runs, as written, with small sizes.

Examples are the fenced blocks after an ``<!-- example: NAME -->`` line. Each runs in a temporary working directory
(so the relative paths it writes land there); the only changes are the listed text replacements (smaller sizes,
a local model, a local endpoint), and each replaced text must still be in the doc, so doc and test change together.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "integrations.md"
_EXAMPLE = re.compile(r"<!-- example: ([\w-]+) -->\n```(\w+)\n(.*?)```", flags=re.DOTALL)


def _examples() -> dict[str, tuple[str, str]]:
    """name -> (language, code)."""
    return {name: (language, code) for name, language, code in _EXAMPLE.findall(DOC.read_text(encoding="utf-8"))}


def _code(name: str, replacements: dict[str, str] | None = None) -> str:
    _, code = _examples()[name]
    for old, new in (replacements or {}).items():
        assert old in code, f"docs/integrations.md example {name!r} no longer contains {old!r}"
        code = code.replace(old, new)
    return code


def _run(name: str, code: str) -> dict:
    namespace: dict = {"__name__": "__main__"}
    exec(compile(code, f"docs/integrations.md [{name}]", "exec"), namespace)
    return namespace


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_every_example_in_the_doc_is_run_by_this_module() -> None:
    assert sorted(_examples()) == ["datasets-export", "datasets-load", "gymnasium", "make-vec", "trl", "verifiers"]


def test_gymnasium_loop_example(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _run("gymnasium", _code("gymnasium"))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(line.endswith(" True 1.0") for line in lines)


def test_make_vec_async_example(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    namespace = _run("make-vec", _code("make-vec"))
    assert len(namespace["scores"]) >= 12 and set(namespace["scores"]) == {1.0}  # the oracle answers every question
    assert re.fullmatch(r"\d+ episodes, mean score 1\.00\n", capsys.readouterr().out)


def test_datasets_export_and_load_examples(workdir: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    datasets = pytest.importorskip("datasets", reason="needs datasets: pip install 'sdar[integrations]'")
    from sdar_envs.data_cli import main

    language, _ = _examples()["datasets-export"]
    command = _code("datasets-export", {"--episodes 100": "--episodes 2"})
    assert language == "bash" and command.startswith("sdar-data export ")
    assert main(shlex.split(command)[1:]) == 0
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", workdir / "hf-cache")
    capsys.readouterr()
    namespace = _run("datasets-load", _code("datasets-load"))
    assert {split: len(rows) for split, rows in namespace["tasks"].items()} == {
        "train": 1100,
        "test": 500,
        "test_128": 128,
    }
    assert namespace["demos"][0]["messages"][-1]["content"].startswith("<think>")
    printed = capsys.readouterr().out.splitlines()
    assert printed[1].endswith("</action>") and "{'task_id': 'fixed_" in printed[0]


def test_trl_example(workdir: Path) -> None:
    pytest.importorskip("trl", reason="needs trl: pip install 'sdar[integrations]'")
    from scripted_policy import tiny_tool_policy

    model, tokenizer = tiny_tool_policy()
    model.save_pretrained(workdir / "tiny")
    tokenizer.save_pretrained(workdir / "tiny")
    code = _code(
        "trl",
        {
            'MODEL = "Qwen/Qwen3-0.6B"': f"MODEL = {str(workdir / 'tiny')!r}",
            "max_completion_length=4096": "max_completion_length=32",
            "max_steps=200": "max_steps=1",
            "# on a machine without a GPU add: use_cpu=True, bf16=False": "use_cpu=True, bf16=False,",
        },
    )
    trainer = _run("trl", code)["trainer"]
    assert trainer.state.global_step == 1
    assert [tool.__name__ for tool in trainer.tools] == ["click", "search"]
    assert "rewards/WebShopTools/mean" in trainer.state.log_history[0]


def test_verifiers_example(workdir: Path) -> None:
    pytest.importorskip("verifiers.v1", reason="needs verifiers: pip install 'sdar[integrations]'")
    from scripted_chat_server import ScriptedChatServer

    with ScriptedChatServer(lambda messages: "<answer> nobody </answer>") as server:
        code = _code(
            "verifiers",
            {
                '"http://localhost:8000/v1"': repr(server.url),
                '"-n", "10"': '"-n", "2"',
                '"--no-push",': '"--no-push", "--no-rich",',
            },
        )
        _run("verifiers", code)
    (traces,) = (workdir / "runs" / "vf-eval").glob("*/traces.jsonl")
    episodes = [json.loads(line) for line in traces.read_text().splitlines()]
    assert len(episodes) == 2
    for episode in episodes:
        (trace,) = episode["traces"]
        assert trace["ok"] and trace["rewards"]["score"]["score"] == 0.0 and trace["metrics"]["turns"] == 1
