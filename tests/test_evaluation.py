"""Evaluation (sdar_agent.evaluation): the episode statistics it shares with the training log, and its engine."""

from __future__ import annotations

import pytest
import torch
import two_choice_env
from requires_vllm import ENGINE_PARAMS

from sdar_agent.evaluation import evaluate, summarize
from sdar_agent.policy import TinyConfig, build_tiny_policy
from sdar_agent.rollout import EnvPool, EpisodeRecord, collect_rollouts
from sdar_agent.trainer import rollout_metrics

torch.set_num_threads(1)


def _episode(i: int, task_type: str, won: bool, length: int, invalid: int) -> EpisodeRecord:
    return EpisodeRecord(
        i, i, f"t{i}", task_type, "toy", 10.0 * won - 0.1 * invalid, won, float(won), length, invalid, 0
    )


def test_summary_of_episodes_overall_and_per_task_type():
    episodes = [_episode(0, "a", True, 2, 0), _episode(1, "a", False, 3, 3), _episode(2, "", True, 5, 1)]
    summary = summarize(episodes)
    assert summary["episodes"] == 3 and summary["success"] == pytest.approx(2 / 3)
    assert summary["return"] == pytest.approx((10 - 0.3 + 10 - 0.1) / 3) and summary["turns"] == pytest.approx(10 / 3)
    assert summary["invalid_rate"] == 4 / 10  # invalid turns over all turns, not a mean of per-episode rates
    assert summary["success_by_type"] == {"a": 0.5, "all": 1.0} and summary["count_by_type"] == {"a": 2, "all": 1}
    assert summarize([])["success"] == 0.0 and summarize([])["invalid_rate"] == 0.0


def test_the_training_log_reports_the_same_statistics_under_its_keys():
    policy = build_tiny_policy(TinyConfig())
    pool = EnvPool(two_choice_env.ENV_ID, 4)
    try:
        torch.manual_seed(0)
        batch = collect_rollouts(policy, pool, [0, 1], 2, seed=0, max_new_tokens=4)
    finally:
        pool.close()
    metrics, summary = rollout_metrics(batch), summarize(batch.episodes)
    assert [k for k in metrics if not k.startswith("success/")] == [
        "return", "success", "score", "turns", "response_length", "invalid_rate"
    ]  # fmt: skip
    assert all(metrics[k] == summary[k] for k in ("return", "success", "score", "turns", "invalid_rate"))
    assert {k[len("success/") :]: v for k, v in metrics.items() if k.startswith("success/")} == summary[
        "success_by_type"
    ]
    # one sample per turn: the per-turn invalid rate is the fraction of invalid samples
    assert metrics["invalid_rate"] == sum(not s.valid for s in batch.samples) / len(batch.samples)
    assert metrics["response_length"] == pytest.approx(
        sum(len(s.response_ids) for s in batch.samples) / len(batch.samples)
    )


@pytest.mark.parametrize("engine", ENGINE_PARAMS)
def test_evaluation_plays_with_the_named_engine_and_greedy_results_agree_across_engines(engine):
    policy = build_tiny_policy(TinyConfig())
    result = evaluate(policy, two_choice_env.ENV_ID, split="train", num_tasks=3, temperature=0.0, engine=engine)
    reference = evaluate(policy, two_choice_env.ENV_ID, split="train", num_tasks=3, temperature=0.0, engine="hf")
    assert result["rollout_engine"] == engine and result["episodes"] == 3
    assert {k: result[k] for k in ("success", "turns", "invalid_rate")} == {
        k: reference[k] for k in ("success", "turns", "invalid_rate")
    }
    # Per-task success, keyed by task id, averages to the overall success and agrees across engines.
    assert result["task_success"] == reference["task_success"] and len(result["task_success"]) == 3
    assert sum(result["task_success"].values()) / 3 == pytest.approx(result["success"])


def test_per_task_success_averages_the_repeats_of_each_task():
    policy = build_tiny_policy(TinyConfig())
    result = evaluate(policy, two_choice_env.ENV_ID, split="train", num_tasks=2, repeats=3, seed=1, engine="hf")
    assert result["episodes"] == 6 and len(result["task_success"]) == 2
    assert all(value * 3 == pytest.approx(round(value * 3)) for value in result["task_success"].values())
    assert sum(result["task_success"].values()) / 2 == pytest.approx(result["success"])
