"""Batched multi-turn rollouts on a real text env (sdar_agent.rollout)."""

from __future__ import annotations

import re

import pytest
import torch
import two_choice_env

from sdar_agent.engines import HFEngine, Reply, sampling_seed
from sdar_agent.policy import TinyConfig, build_tiny_policy
from sdar_agent.prompts import INVALID_ENV_ACTION
from sdar_agent.rollout import EnvPool, collect_rollouts, logprob_gaps
from sdar_agent.scoring import score_samples
from skillbank.render import PREFIX_HEADER

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny():
    return build_tiny_policy(TinyConfig())


@pytest.fixture(scope="module")
def pool():
    envs = EnvPool(two_choice_env.ENV_ID, 6)
    yield envs
    envs.close()


class ScriptedEngine:
    """A scripted agent in the engine's place: answers the word the prompt names, except on the first turn of odd
    batch rows; records each call's row count and seeds."""

    name = "scripted"

    def __init__(self, policy):
        self.policy = policy
        self.calls: list[int] = []
        self.seeds: list[list[int]] = []

    def generate(self, prompts, *, seeds, **kwargs):
        self.calls.append(len(prompts))
        self.seeds.append(list(seeds))
        replies = []
        for row, ids in enumerate(prompts):
            text = self.policy.tokenizer.decode(ids)
            word = re.findall(r"The correct word is (\w+)", text)[-1]
            later_turn = "Step " in text
            answer = f"<think>it says {word}</think><action>{word}</action>"
            reply = "I am not sure" if (row % 2 and not later_turn) else answer
            token_ids = self.policy.encode(reply) + self.policy.stop_ids
            replies.append(Reply(token_ids, [-0.5] * len(token_ids)))
        return replies


def test_one_generate_call_per_turn_serves_every_active_episode(tiny, pool):
    scripted = ScriptedEngine(tiny)
    batch = collect_rollouts(tiny, pool, [0, 1, 2], 2, seed=0, max_new_tokens=32, engine=scripted)
    assert scripted.calls == [6, 3]  # turn 1: all six episodes; turn 2: the three that answered invalidly
    assert [e.group_id for e in batch.episodes] == [0, 0, 1, 1, 2, 2]
    assert [e.task_id for e in batch.episodes] == ["train-0", "train-0", "train-1", "train-1", "train-2", "train-2"]
    assert [e.won for e in batch.episodes] == [True] * 6
    assert [e.length for e in batch.episodes] == [1, 2] * 3
    assert [e.invalid_turns for e in batch.episodes] == [0, 1] * 3
    assert batch.sample_returns() == [1.0, 0.9, 1.0, 0.9, 1.0, 0.9, 0.9, 0.9, 0.9]
    assert [e.return_ for e in batch.episodes] == [1.0, 0.9] * 3


def test_turn_samples_carry_ids_history_and_the_sampling_log_probs(tiny, pool):
    batch = collect_rollouts(tiny, pool, ["train-3"], 2, seed=5, max_new_tokens=32, engine=ScriptedEngine(tiny))
    first, invalid, retry = batch.samples  # episode 0 turn 0, episode 1 turn 0, episode 1 turn 1
    assert (first.episode_id, first.turn, first.valid, first.action) == (0, 0, True, first.task.metadata["correct"])
    assert (invalid.episode_id, invalid.turn, invalid.valid, invalid.action) == (1, 0, False, INVALID_ENV_ACTION)
    assert (retry.episode_id, retry.turn, retry.valid) == (1, 1, True)
    assert "[Observation 1: 'The correct word is" in retry.prompt_text and "Nothing happens." in retry.prompt_text
    assert retry.messages[0]["role"] == "user" and retry.messages[0]["content"] in retry.prompt_text
    assert tiny.encode(retry.prompt_text) == retry.prompt_ids
    assert first.task.id == "train-3" and first.group_id == 0
    expected = score_samples(
        tiny.model, [s.prompt_ids for s in batch.samples], [s.response_ids for s in batch.samples], 0
    )
    for sample, logp in zip(batch.samples, expected, strict=True):
        assert sample.old_logp.shape == (len(sample.response_ids),)
        torch.testing.assert_close(sample.old_logp, logp)
        assert sample.sample_logp.tolist() == [-0.5] * len(sample.response_ids)  # the engine's, kept as given


def test_each_episode_and_turn_gets_its_own_sampling_seed_from_its_index_in_the_whole_step(tiny, pool):
    alone, second_half = ScriptedEngine(tiny), ScriptedEngine(tiny)
    collect_rollouts(tiny, pool, [0, 1, 2], 2, seed=7, max_new_tokens=32, engine=alone)
    collect_rollouts(tiny, pool, [1, 2], 2, seed=7, max_new_tokens=32, engine=second_half, first_group=1)
    # turn 1 seeds of episodes 2..5 (groups 1, 2) are the same whether one call plays all groups or a second
    # process plays groups 1 and 2; every (episode, turn) has its own seed
    assert second_half.seeds[0] == alone.seeds[0][2:]
    assert len({seed for call in alone.seeds for seed in call}) == 6 + 3
    assert alone.seeds[0][0] == sampling_seed(7, 0, 0) and alone.seeds[1][0] == sampling_seed(7, 1, 1)


def test_the_log_prob_gap_compares_engine_and_recomputed_log_probs_token_by_token(tiny, pool):
    batch = collect_rollouts(tiny, pool, ["train-3"], 2, seed=5, max_new_tokens=32, engine=ScriptedEngine(tiny))
    gaps = logprob_gaps(batch.samples)
    expected = torch.cat([(s.old_logp + 0.5).abs() for s in batch.samples])
    torch.testing.assert_close(gaps, expected)
    assert gaps.numel() == sum(len(s.response_ids) for s in batch.samples)


def test_hf_engine_rollouts_sample_with_log_probs_matching_the_recomputation(tiny, pool):
    batch = collect_rollouts(tiny, pool, [0, 1], 2, seed=0, max_new_tokens=6, engine=HFEngine(tiny))
    gaps = logprob_gaps(batch.samples)
    assert gaps.numel() == batch.generated_tokens and float(gaps.max()) < 1e-4


def test_random_tiny_policy_plays_to_the_step_limit_with_every_turn_penalised(tiny, pool):
    batch = collect_rollouts(tiny, pool, [0, 1], 2, seed=0, max_new_tokens=6)
    assert len(batch.samples) == 4 * 3  # 4 episodes x the env's 3-step limit, every reply invalid
    assert all(not s.valid for s in batch.samples)
    assert [e.return_ for e in batch.episodes] == pytest.approx([-0.3] * 4)
    assert batch.generated_tokens == sum(len(s.response_ids) for s in batch.samples)
    assert all(1 <= len(s.response_ids) <= 6 for s in batch.samples)


def test_max_turns_and_skills_prefix(tiny, pool):
    batch = collect_rollouts(
        tiny, pool, [0], 2, seed=0, max_new_tokens=4, max_turns=1, skills=lambda task: f"pick {task.id}"
    )
    assert len(batch.samples) == 2 and all(e.length == 1 for e in batch.episodes)
    assert batch.samples[0].prompt_text.startswith(PREFIX_HEADER + "pick train-0\n\n<|im_start|>user\n")


def test_prompts_are_cut_on_the_left_to_the_prompt_limit(tiny, pool):
    batch = collect_rollouts(tiny, pool, [0], 1, seed=0, max_new_tokens=2, max_turns=1, max_prompt_tokens=10)
    sample = batch.samples[0]
    assert sample.prompt_ids == tiny.encode(sample.prompt_text)[-10:]


def test_too_small_a_pool_is_refused(tiny, pool):
    with pytest.raises(ValueError, match="need 8 envs"):
        collect_rollouts(tiny, pool, [0, 1], 4, seed=0, max_new_tokens=2)
