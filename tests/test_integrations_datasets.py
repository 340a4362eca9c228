"""``sdar-data export``: every split's tasks and the expert demonstrations, loaded back with Hugging Face datasets."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import pytest

pytest.importorskip("datasets", reason="the export tests load with datasets: pip install 'sdar[integrations]'")

from datasets import load_dataset

import sdar_envs  # noqa: F401
from sdar_agent.demos import expert_demos
from sdar_envs.data_cli import main
from sdar_envs.integrations.datasets import task_records

INPROC = json.dumps({"transport": "inproc"})


def _load(kind: str, files: dict[str, Path], cache: Path):
    return load_dataset(kind, data_files={split: str(path) for split, path in files.items()}, cache_dir=str(cache))


def test_export_writes_tasks_and_demos_that_datasets_loads_as_written(tmp_path: Path, capsys) -> None:
    out = tmp_path / "webshop"
    argv = ["export", "--env", "webshop", "--split", "test_128", "--out", str(out), "--env-kwargs", INPROC]
    assert main([*argv, "--demos", "--episodes", "2"]) == 0
    assert "test_128: tasks -> " in capsys.readouterr().out

    tasks = _load("parquet", {"test_128": out / "tasks" / "test_128.parquet"}, tmp_path / "cache")["test_128"]
    assert len(tasks) == 128 and tasks.column_names == [
        "id",
        "env",
        "env_id",
        "split",
        "index",
        "instruction",
        "task_type",
        "data_source",
        "make_kwargs",
        "reset_options",
    ]
    assert tasks.to_list() == task_records("sdar/WebShop-v0", "test_128", transport="inproc")
    # A row holds what an agent needs to play its task.
    row = tasks[5]
    env = gym.make(row["env_id"], split=row["split"], **json.loads(row["make_kwargs"]))
    _, info = env.reset(options=row["reset_options"])
    assert (info["task"].id, info["task"].instruction) == (row["id"], row["instruction"]) and row["index"] == 5

    demos = _load("parquet", {"test_128": out / "demos" / "test_128.parquet"}, tmp_path / "cache")["test_128"]
    expected = expert_demos("sdar/WebShop-v0", "test_128", episodes=2, env_kwargs={"transport": "inproc"}).turns
    assert len(demos) == len(expected) > 2
    for record, turn in zip(demos, expected, strict=True):
        assert record["messages"] == turn.chat  # the trainer's prompt messages, then the expert's reply
        assert record["prompt"] == turn.messages and record["completion"] == [
            {"role": "assistant", "content": turn.reply}
        ]
        assert (record["task_id"], record["turn"], record["action"]) == (turn.task_id, turn.turn, turn.action)
    assert demos[0]["messages"][-1]["content"].endswith("</action>") and demos[0]["won"]


def test_export_defaults_to_every_split_and_jsonl_loads_with_the_json_builder(tmp_path: Path) -> None:
    out = tmp_path / "alfworld"
    assert main(["export", "--env", "sdar/ALFWorld-v0", "--out", str(out), "--format", "jsonl"]) == 0
    splits = ("train", "eval_in_distribution", "eval_out_of_distribution")
    files = {split: out / "tasks" / f"{split}.jsonl" for split in splits}
    loaded = _load("json", files, tmp_path / "cache")
    assert {split: len(loaded[split]) for split in splits} == {
        "train": 3058,
        "eval_in_distribution": 140,
        "eval_out_of_distribution": 134,
    }
    first = loaded["eval_out_of_distribution"][0]
    assert first["reset_options"] == {"task_id": first["id"]} and first["task_type"] == "pick_and_place_simple"
    assert not (out / "demos").exists()


def test_export_demos_train_a_tiny_model_with_trl_sft(tmp_path: Path) -> None:
    pytest.importorskip("trl", reason="needs trl: pip install 'sdar[integrations]'")
    from trl import SFTConfig, SFTTrainer

    from sdar_agent.policy import build_tiny_policy

    out = tmp_path / "searchqa"
    assert (
        main(["export", "--env", "searchqa", "--split", "train", "--out", str(out), "--demos", "--episodes", "4"]) == 0
    )
    demos = _load("parquet", {"train": out / "demos" / "train.parquet"}, tmp_path / "cache")["train"]
    policy = build_tiny_policy()
    trainer = SFTTrainer(
        model=policy.model,
        processing_class=policy.tokenizer,
        train_dataset=demos.select_columns(["messages"]),
        args=SFTConfig(
            output_dir=str(tmp_path / "sft"),
            max_steps=2,
            per_device_train_batch_size=4,
            report_to="none",
            use_cpu=True,
            save_strategy="no",
            bf16=False,
            logging_steps=1,
        ),
    )
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert len(losses) == 2 and all(loss > 0 for loss in losses)


def test_export_of_an_unknown_env_names_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="unknown env 'chess'"):
        main(["export", "--env", "chess", "--out", str(tmp_path)])


def test_the_integrations_import_neither_the_trainer_nor_their_libraries_before_use() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import sdar_envs.integrations.datasets, sdar_envs.integrations.trl\n"
        "loaded = sorted(m for m in ('sdar_agent', 'trl', 'datasets', 'torch', 'verifiers') if m in sys.modules)\n"
        "import sdar_envs.integrations.verifiers\n"
        "print(loaded, 'sdar_agent' in sys.modules)\n"
    )
    root = Path(__file__).resolve().parents[1]  # `python -c` imports from its working directory first
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stdout.strip() == "[] False"
