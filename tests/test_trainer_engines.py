"""The trainer and its rollout engine: weights synced after every update, the log-prob gap metric, resume
(sdar_agent.trainer with sdar_agent.engines)."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path

import pytest
import torch
import two_choice_env
from requires_vllm import ENGINE_PARAMS, requires_vllm

from sdar_agent.cli import build_parser, main
from sdar_agent.config import TrainConfig, load_config
from sdar_agent.rollout import logprob_gaps
from sdar_agent.scoring import score_samples
from sdar_agent.trainer import Trainer

torch.set_num_threads(1)


def _config(tmp_path, engine: str, **overrides) -> TrainConfig:
    values = dict(
        env=two_choice_env.ENV_ID,
        model="tiny",
        steps=1,
        tasks_per_step=2,
        group_size=2,
        max_response_tokens=6,
        mini_batch_size=0,
        lr=0.2,  # one AdamW step moves every weight by about 0.2: the policy changes a lot
        output_dir=str(tmp_path / "run"),
        progress=False,
        torch_threads=1,
        rollout_engine=engine,
    )
    values.update(overrides)
    return TrainConfig(**values)


def _engine_gap(trainer: Trainer, model: torch.nn.Module, prompts, seeds) -> float:
    """Mean |engine sampling log-prob - ``model``'s recomputed log-prob| over replies the engine samples now."""
    replies = trainer.engine.generate(prompts, max_new_tokens=6, seeds=seeds, stop_ids=[])
    recomputed = score_samples(model, prompts, [r.token_ids for r in replies], trainer.policy.tokenizer.pad_token_id)
    return float(
        torch.cat([(torch.tensor(r.logprobs) - o).abs() for r, o in zip(replies, recomputed, strict=True)]).mean()
    )


@pytest.mark.parametrize("engine", ENGINE_PARAMS)
def test_after_one_large_update_the_engine_samples_from_the_updated_weights_not_the_old(engine, tmp_path):
    trainer = Trainer(_config(tmp_path, engine))
    try:
        assert trainer.engine.name == engine
        initial = copy.deepcopy(trainer.accelerator.unwrap_model(trainer.model))
        metrics = trainer.train_step()
        assert metrics["rollout/logprob_gap_mean"] < 1e-5 and metrics["rollout/logprob_gap_max"] < 1e-4
        updated = trainer.accelerator.unwrap_model(trainer.model)
        prompts = [trainer.policy.encode(f"The correct word is apple {i}.") for i in range(4)]
        # right after the step, before any rollout: the engine already holds the updated weights
        assert _engine_gap(trainer, updated, prompts, [1, 2, 3, 4]) < 1e-5
        assert _engine_gap(trainer, initial, prompts, [1, 2, 3, 4]) > 0.05
        batch = trainer.collect()  # the next rollout: sampled by the updated policy, recomputed with it
        assert float(logprob_gaps(batch.samples).mean()) < 1e-5
        stale = score_samples(
            initial,
            [s.prompt_ids for s in batch.samples],
            [s.response_ids for s in batch.samples],
            trainer.policy.tokenizer.pad_token_id,
        )
        gaps = torch.cat([(s.sample_logp - old).abs() for s, old in zip(batch.samples, stale, strict=True)])
        assert float(gaps.mean()) > 0.05
    finally:
        trainer.close()


@requires_vllm
def test_a_missed_weight_sync_shows_in_the_logprob_gap_metric(tmp_path, monkeypatch):
    trainer = Trainer(_config(tmp_path, "vllm", steps=2))
    try:
        monkeypatch.setattr(trainer.engine, "sync_weights", lambda model: None)  # a sync that copies nothing
        first, second = trainer.train_step(), trainer.train_step()
        assert first["rollout/logprob_gap_mean"] < 1e-5  # the engine started with the initial weights
        assert second["rollout/logprob_gap_mean"] > 0.05  # it still samples from them after the update
    finally:
        trainer.close()


@requires_vllm
def test_a_resumed_run_samples_from_the_checkpoint_weights(tmp_path):
    first = Trainer(_config(tmp_path, "vllm", steps=1))
    first.fit()
    first.close()
    resumed = Trainer(_config(tmp_path, "vllm", steps=2, resume=True))
    try:
        history = resumed.fit()
        assert [m["step"] for m in history] == [2]
        # the engine started with the tiny model's initial weights; the rollout after the load used the loaded ones
        assert history[0]["rollout/logprob_gap_mean"] < 1e-5
    finally:
        resumed.close()


@pytest.mark.parametrize("engine", ENGINE_PARAMS)
def test_each_step_logs_engine_times_and_the_logprob_gap(engine, tmp_path):
    trainer = Trainer(_config(tmp_path, engine))
    try:
        metrics = trainer.train_step()
    finally:
        trainer.close()
    for key in ("time/generate", "time/old_logp", "time/sync", "generate_tokens_per_s", "rollout/logprob_gap_max"):
        assert metrics[key] >= 0, key
    assert metrics["time/generate"] + metrics["time/old_logp"] <= metrics["time/rollout"]


def test_sdar_eval_and_sdar_train_take_the_rollout_engine_flag(tmp_path, capsys):
    out = tmp_path / "eval.json"
    argv = ["eval", "--model", "tiny", "--env", two_choice_env.ENV_ID, "--split", "train", "--num-tasks", "1"]
    assert main([*argv, "--max-response-tokens", "4", "--rollout-engine", "hf", "--output", str(out)]) == 0
    assert json.loads(out.read_text())["rollout_engine"] == "hf"
    with pytest.raises(SystemExit):
        build_parser().parse_args([*argv, "--rollout-engine", "sglang"])
    train = build_parser().parse_args(["train", "--rollout-engine", "hf", "--vllm-kv-cache-gib", "0.5"])
    config = load_config(overrides={k: v for k, v in vars(train).items() if k != "command" and v is not None})
    assert (config.rollout_engine, config.vllm_kv_cache_gib) == ("hf", 0.5)
    capsys.readouterr()


def _benchmark(name: str):
    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@requires_vllm
def test_the_rollout_benchmark_and_the_gpu_check_run_their_quick_paths(tmp_path, capsys):
    out = tmp_path / "rollout.md"
    assert _benchmark("bench_rollout").main(["--quick", "--out", str(out)]) == 0
    text = out.read_text()
    assert "| tiny | 0.16 M |" in text and "| tiny | float32 | vllm |" in text and "Load average" in text
    results = _benchmark("gpu_check_rollout").main(["--quick", "--out", str(tmp_path / "gpu.md")])
    assert set(results) == {"hf-dynamic", "hf-static", "hf-static-eager", "vllm"}
    assert all(r["tokens_per_s"] > 0 for r in results.values())
    capsys.readouterr()


@pytest.mark.slow
@requires_vllm
def test_the_training_step_benchmark_runs_its_quick_path(tmp_path, capsys):
    out = tmp_path / "step.md"
    assert _benchmark("bench_engine_step").main(["--quick", "--out", str(out)]) == 0
    rows = [line for line in out.read_text().splitlines() if line.startswith("| searchqa |")]
    assert [row.split(" | ")[1] for row in rows] == ["hf", "vllm"] and rows[1].rstrip(" |").endswith("x")
    capsys.readouterr()
