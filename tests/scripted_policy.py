"""A tiny Qwen-architecture model whose sampling follows a script, for tests that drive real trainers.

A random-init model almost never writes a well-formed tool call. Here the model and its generation are the real
``transformers`` ones (TRL calls ``model.generate`` and parses the decoded reply itself); only the sampled tokens are
chosen by a ``LogitsProcessor``: at every step of an assistant turn it leaves one finite logit, the next token of the
reply ``script(conversation)`` returns for that turn, and after the reply the end-of-turn token. The chat template is
TRL's copy of Qwen2.5's (``trl/chat_templates/qwen2_5.jinja``): tools in ``<tools>`` in the system prompt, calls as
``<tool_call>{"name": ..., "arguments": ...}</tool_call>``, results in ``<tool_response>`` blocks, so TRL's own Qwen
response template parses the calls.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

import torch
from transformers import LogitsProcessor, LogitsProcessorList

__all__ = ["ScriptedReplies", "script_generation", "tiny_tool_policy", "tool_call"]

#: Text the tiny tokenizer's merges also learn from, so tool calls and responses take fewer tokens.
_TOOL_CORPUS = (
    '<tool_call>\n{"name": "search", "arguments": {"query": "x"}}\n</tool_call>',
    '<tool_call>\n{"name": "click", "arguments": {"label": "buy now"}}\n</tool_call>',
    '<tool_call>\n{"name": "act", "arguments": {"command": "go to cabinet 1"}}\n</tool_call>',
    "<|im_start|>user\n<tool_response>\n[SEP] Back to Search [SEP] Page 1 (Total results: 50) [SEP] Next > [SEP] "
    "</tool_response><|im_end|>\n<|im_start|>assistant\n",
)


def tiny_tool_policy(max_positions: int = 16_384, seed: int = 0) -> tuple[Any, Any]:
    """``(model, tokenizer)``: the project's tiny random Qwen3 model with Qwen2.5's tool-rendering chat template."""
    from trl.chat_template_utils import qwen2_5_chat_template

    from sdar_agent.policy import TinyConfig, build_tiny_policy

    policy = build_tiny_policy(TinyConfig(max_position_embeddings=max_positions, seed=seed, extra_corpus=_TOOL_CORPUS))
    policy.tokenizer.chat_template = qwen2_5_chat_template
    return policy.model, policy.tokenizer


def tool_call(name: str, **arguments: Any) -> str:
    """One call in Qwen's format."""
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": arguments}) + "\n</tool_call>"


class ScriptedReplies(LogitsProcessor):
    """Forces, on every row, the tokens of ``script(conversation)`` for the current assistant turn, then end of turn.

    ``conversation`` is the decoded text before the turn's ``<|im_start|>assistant`` header (special tokens kept);
    ``script`` returns the reply text. Replies are tokenized once per turn and cached by the prefix.
    """

    def __init__(self, tokenizer: Any, script: Callable[[str], str]) -> None:
        self.tokenizer = tokenizer
        self.script = script
        self.header = tokenizer.encode("<|im_start|>assistant\n", add_special_tokens=False)
        self.end = tokenizer.convert_tokens_to_ids("<|im_end|>")
        self._targets: dict[tuple[int, ...], list[int]] = {}

    def _turn_start(self, ids: list[int]) -> int:
        size = len(self.header)
        for start in range(len(ids) - size, -1, -1):
            if ids[start : start + size] == self.header:
                return start
        raise AssertionError("no assistant header in the generation prompt")

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        for row in range(input_ids.shape[0]):
            ids = input_ids[row].tolist()
            start = self._turn_start(ids)
            prefix = tuple(ids[:start])
            if prefix not in self._targets:
                reply = self.script(self.tokenizer.decode(list(prefix), skip_special_tokens=False))
                self._targets[prefix] = [*self.tokenizer.encode(reply, add_special_tokens=False), self.end]
            target = self._targets[prefix]
            written = len(ids) - start - len(self.header)
            token = target[written] if written < len(target) else self.end
            scores[row, :] = -float("inf")
            scores[row, token] = 0.0
        return scores


def script_generation(model: Any, tokenizer: Any, script: Callable[[str], str]) -> ScriptedReplies:
    """Make every ``model.generate`` call follow ``script`` (the model instance's ``generate`` gets the processor)."""
    processor = ScriptedReplies(tokenizer, script)
    model.generate = functools.partial(model.generate, logits_processor=LogitsProcessorList([processor]))
    return processor
