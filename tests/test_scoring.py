"""Padding-correct per-token scoring of response tokens (sdar_agent.scoring)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from sdar_agent.policy import TinyConfig, build_tiny_policy
from sdar_agent.scoring import pad_rows, pad_samples, score_samples, score_tokens

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def tiny():
    return build_tiny_policy(TinyConfig())


def _encode(policy, text):
    return policy.encode(text)


def test_scores_of_a_sample_do_not_depend_on_its_batch_neighbours(tiny):
    prompts = [_encode(tiny, "short prompt"), _encode(tiny, "a much longer prompt with many more tokens in it")]
    responses = [_encode(tiny, "<action>left</action>"), _encode(tiny, "ok")]
    with torch.no_grad():
        both = score_tokens(tiny.model, pad_samples(prompts, responses, tiny.tokenizer.pad_token_id))
        for row in range(2):
            alone = score_tokens(tiny.model, pad_samples([prompts[row]], [responses[row]], tiny.tokenizer.pad_token_id))
            n = len(responses[row])
            torch.testing.assert_close(both.logp[row, :n], alone.logp[0, :n], atol=1e-5, rtol=0)
            torch.testing.assert_close(both.entropy[row, :n], alone.entropy[0, :n], atol=1e-5, rtol=0)
    assert both.logp.shape == (2, max(len(r) for r in responses))
    assert torch.all(both.logp[1, len(responses[1]) :] == 0)


def test_log_probs_and_entropy_match_a_plain_forward_pass(tiny):
    prompt, response = _encode(tiny, "The correct word is left."), _encode(tiny, "<action>left</action>")
    ids = torch.tensor([prompt + response])
    with torch.no_grad():
        logits = tiny.model(ids).logits[0, len(prompt) - 1 : -1].float()
        scored = score_tokens(tiny.model, pad_samples([prompt], [response], tiny.tokenizer.pad_token_id))
    expected = F.log_softmax(logits, -1).gather(1, torch.tensor(response)[:, None]).squeeze(1)
    torch.testing.assert_close(scored.logp[0], expected, atol=1e-5, rtol=0)
    probs = logits.softmax(-1)
    torch.testing.assert_close(scored.entropy[0], -(probs * probs.log()).sum(-1), atol=1e-4, rtol=0)
    hot = score_tokens(tiny.model, pad_samples([prompt], [response], tiny.tokenizer.pad_token_id), temperature=2.0)
    expected_hot = F.log_softmax(logits / 2.0, -1).gather(1, torch.tensor(response)[:, None]).squeeze(1)
    torch.testing.assert_close(hot.logp[0].detach(), expected_hot, atol=1e-5, rtol=0)


def test_micro_batched_scoring_equals_one_batch(tiny):
    prompts = [_encode(tiny, "x" * (i + 1)) for i in range(5)]
    responses = [_encode(tiny, "y" * (5 - i)) for i in range(5)]
    one = score_samples(tiny.model, prompts, responses, tiny.tokenizer.pad_token_id, micro_batch_size=5)
    micro = score_samples(tiny.model, prompts, responses, tiny.tokenizer.pad_token_id, micro_batch_size=2)
    for a, b, r in zip(one, micro, responses, strict=True):
        assert a.shape == (len(r),)
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_scoring_carries_gradients_only_through_response_tokens(tiny):
    batch = pad_samples([_encode(tiny, "abc")], [_encode(tiny, "de")], tiny.tokenizer.pad_token_id)
    scored = score_tokens(tiny.model, batch)
    scored.logp.sum().backward()
    grad = tiny.model.model.embed_tokens.weight.grad
    assert grad is not None and grad.abs().sum() > 0
    tiny.model.zero_grad(set_to_none=True)


def test_padded_rows_line_up_with_the_response_columns():
    rows = pad_rows([torch.tensor([1.0, 2.0, 3.0]), torch.tensor([4.0])], 4, "cpu")
    assert rows.dtype == torch.float32
    assert rows.tolist() == [[1.0, 2.0, 3.0, 0.0], [4.0, 0.0, 0.0, 0.0]]
    batch = pad_samples([[5, 6], [7]], [[1, 2, 3], [4]], 0)
    assert torch.equal((rows[:, :3] != 0).float(), batch.response_mask)  # values exactly where the responses are
