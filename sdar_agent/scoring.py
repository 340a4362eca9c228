"""Per-token log-probs of response tokens: padding, one forward pass, micro-batching, the shared-prefix KV cache.

Tensor layout (the verl layout): each sample is ``[left padding | prompt | response | right padding]``, so every
response token sits at the same columns ``P .. P+T-1`` of the batch (:func:`pad_samples`). Log-probs and entropies
are returned as ``[B, T]`` (right-padded response, ``mask`` 1 on real response tokens).

* :func:`score_tokens`: one (micro-)batch, with gradient unless called under ``torch.no_grad``; the trainer's
  student pass and the teacher's per-micro-batch logits.
* :func:`score_samples`: detached log-probs of many samples, micro-batched by rows or by a token budget, optionally
  with samples that share a prompt start scored on top of one KV cache of it; the old-log-prob, reference and
  teacher passes.
* :func:`pad_rows`: per-sample 1-D results back to ``[B, T]`` rows of a micro-batch.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from sdar_agent.losses import entropy_from_logits

__all__ = [
    "PaddedBatch",
    "ScoredTokens",
    "pad_rows",
    "pad_samples",
    "score_samples",
    "score_tokens",
    "shared_prefix_clusters",
]


@dataclass
class PaddedBatch:
    """``[left pad | prompt | response | right pad]`` rows; response tokens occupy columns ``P .. P+T-1``."""

    input_ids: Tensor  # [B, P+T] long
    attention_mask: Tensor  # [B, P+T] long
    position_ids: Tensor  # [B, P+T] long, 0 at each row's first real token
    response_ids: Tensor  # [B, T] long (pad where mask is 0)
    response_mask: Tensor  # [B, T] float, 1 on real response tokens


def pad_samples(
    prompts: Sequence[Sequence[int]], responses: Sequence[Sequence[int]], pad_id: int, device=None
) -> PaddedBatch:
    """Pad prompts on the left and responses on the right so response columns line up across the batch."""
    if len(prompts) != len(responses):
        raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
    width_p = max(len(p) for p in prompts)
    width_t = max(1, max(len(r) for r in responses))
    batch = len(prompts)
    input_ids = torch.full((batch, width_p + width_t), pad_id, dtype=torch.long)
    attention = torch.zeros((batch, width_p + width_t), dtype=torch.long)
    for row, (prompt, response) in enumerate(zip(prompts, responses, strict=True)):
        start = width_p - len(prompt)
        input_ids[row, start:width_p] = torch.as_tensor(list(prompt), dtype=torch.long)
        input_ids[row, width_p : width_p + len(response)] = torch.as_tensor(list(response), dtype=torch.long)
        attention[row, start : width_p + len(response)] = 1
    position_ids = (attention.cumsum(dim=1) - 1).clamp(min=0)
    response_mask = attention[:, width_p:].float()
    batch_out = PaddedBatch(input_ids, attention, position_ids, input_ids[:, width_p:].clone(), response_mask)
    if device is not None:
        batch_out = PaddedBatch(*(t.to(device) for t in vars(batch_out).values()))
    return batch_out


def pad_rows(rows: Sequence[Tensor], width: int, device) -> Tensor:
    """Per-sample 1-D values (e.g. :func:`score_samples` results) as ``[B, width]`` float32 rows, zero-padded right,
    aligned with the response columns of the same samples' :class:`PaddedBatch`."""
    out = torch.zeros((len(rows), width), dtype=torch.float32)
    for i, row in enumerate(rows):
        out[i, : row.numel()] = row.float()
    return out.to(device)


@dataclass
class ScoredTokens:
    """Per-token results for the response part of a :class:`PaddedBatch` (all ``[B, T]``)."""

    logp: Tensor
    entropy: Tensor | None
    logits: Tensor | None = None


def score_tokens(
    model: torch.nn.Module,
    batch: PaddedBatch,
    *,
    temperature: float = 1.0,
    with_entropy: bool = True,
    with_logits: bool = False,
    past_key_values=None,
) -> ScoredTokens:
    """Log-probs (and entropies) of the response tokens under ``model`` for one (micro-)batch.

    Gradients flow when called outside ``torch.no_grad``. Logits are divided by ``temperature`` first, so the
    numbers match the distribution the tokens were sampled from. Only the last ``T+1`` positions are projected to the
    vocabulary (``logits_to_keep``), which keeps memory at ``B x T x V``. ``past_key_values`` is a KV cache of
    tokens that come before every row (shared prefix scoring): ``batch``'s attention mask then covers cache + rows and
    its positions continue the cache's.
    """
    width_t = batch.response_ids.shape[1]
    cache = {} if past_key_values is None else {_cache_argument(model): past_key_values}
    output = model(
        input_ids=batch.input_ids,
        attention_mask=batch.attention_mask,
        position_ids=batch.position_ids,
        logits_to_keep=width_t + 1,
        use_cache=past_key_values is not None,
        **cache,
    )
    logits = output.logits[:, -width_t - 1 : -1, :].float()  # position i predicts token i+1
    if temperature != 1.0:
        logits = logits / temperature
    logp = torch.gather(F.log_softmax(logits, dim=-1), 2, batch.response_ids.unsqueeze(-1)).squeeze(-1)
    mask = batch.response_mask
    # The objective's entropy definition, so the student's entropy term and its telemetry agree.
    entropy = entropy_from_logits(logits) * mask if with_entropy else None
    return ScoredTokens(logp=logp * mask, entropy=entropy, logits=logits if with_logits else None)


@torch.no_grad()
def score_samples(
    model: torch.nn.Module,
    prompts: Sequence[Sequence[int]],
    responses: Sequence[Sequence[int]],
    pad_id: int,
    *,
    micro_batch_size: int = 8,
    temperature: float = 1.0,
    device=None,
    max_tokens: int | None = None,
    prefix_groups: Sequence[Hashable] | None = None,
    min_shared_prefix: int = 64,
) -> list[Tensor]:
    """Detached response log-probs per sample (a 1-D tensor of its response length each), micro-batched.

    By default micro-batches are consecutive runs of ``micro_batch_size`` samples. With ``max_tokens``, samples are
    taken shortest first and a micro-batch also stops before its padded size (rows x longest prompt + response)
    would exceed ``max_tokens``: long sequences then go in small micro-batches (alone when needed), which bounds
    memory by tokens and avoids padding, without changing any result beyond float rounding. Results are returned
    in the input order either way.

    With ``prefix_groups`` (one hashable key per sample, e.g. the teacher's skill text), samples of one key whose
    prompts start with the same ``>= min_shared_prefix`` tokens are scored as one shared prefix, run once into a
    KV cache, plus each sample's own suffix (see :func:`shared_prefix_clusters`); ``max_tokens`` then bounds the
    suffix tokens of a micro-batch. Results equal the plain path's up to float rounding.
    """
    batching: dict[str, Any] = {"micro_batch_size": micro_batch_size, "temperature": temperature, "device": device}
    if prefix_groups is None:
        return _score_whole(model, prompts, responses, pad_id, max_tokens=max_tokens, **batching)
    if len(prefix_groups) != len(prompts):
        raise ValueError(f"{len(prompts)} prompts but {len(prefix_groups)} prefix groups")
    results: list[Tensor | None] = [None] * len(prompts)
    alone: list[int] = []
    for members, shared in shared_prefix_clusters(prompts, prefix_groups, min_shared_prefix):
        if shared == 0:
            alone.extend(members)
            continue
        prefix = list(prompts[members[0]][:shared])
        suffixes = [prompts[i][shared:] for i in members]
        replies = [responses[i] for i in members]
        scored = _score_with_shared_prefix(model, prefix, suffixes, replies, pad_id, max_tokens=max_tokens, **batching)
        for i, logp in zip(members, scored, strict=True):
            results[i] = logp
    if alone:
        whole = [prompts[i] for i in alone], [responses[i] for i in alone]
        for i, logp in zip(alone, _score_whole(model, *whole, pad_id, max_tokens=max_tokens, **batching), strict=True):
            results[i] = logp
    return results  # type: ignore[return-value]


def _micro_batches(lengths: Sequence[int], micro_batch_size: int, max_tokens: int | None) -> list[list[int]]:
    """Consecutive runs of ``micro_batch_size`` indices, or token-budget groups when ``max_tokens`` is given."""
    if max_tokens is None:
        count = len(lengths)
        return [list(range(s, min(s + micro_batch_size, count))) for s in range(0, count, micro_batch_size)]
    return _token_budget_groups(lengths, micro_batch_size, max_tokens)


def _score_whole(
    model: torch.nn.Module,
    prompts: Sequence[Sequence[int]],
    responses: Sequence[Sequence[int]],
    pad_id: int,
    *,
    micro_batch_size: int,
    temperature: float,
    device,
    max_tokens: int | None,
) -> list[Tensor]:
    """:func:`score_samples` without a shared prefix: every sample's prompt and response in its micro-batch."""
    lengths = [len(p) + len(r) for p, r in zip(prompts, responses, strict=True)]
    results: list[Tensor | None] = [None] * len(prompts)
    for group in _micro_batches(lengths, micro_batch_size, max_tokens):
        batch = pad_samples([prompts[i] for i in group], [responses[i] for i in group], pad_id, device=device)
        scored = score_tokens(model, batch, temperature=temperature, with_entropy=False)
        for row, i in enumerate(group):
            results[i] = scored.logp[row, : len(responses[i])].detach().cpu()
    return results  # type: ignore[return-value]


def _cache_argument(model: torch.nn.Module) -> str:
    """The forward argument that takes a KV cache: ``cache`` (transformers >= 5.24) or ``past_key_values``."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def _common_prefix_length(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def shared_prefix_clusters(
    prompts: Sequence[Sequence[int]], keys: Sequence[Hashable], min_shared: int
) -> list[tuple[list[int], int]]:
    """Partition sample indices into ``(members, shared)``: members share their first ``shared`` prompt tokens.

    Samples are only clustered with samples of the same key. Within a key, the first unassigned sample anchors a
    cluster; every other unassigned sample whose prompt shares ``>= min_shared`` leading tokens with the anchor's
    joins it, and ``shared`` is the shortest such overlap, capped one token short of the shortest member prompt (so
    every response token is predicted from a position past the prefix). Clusters of one sample, or whose overlap
    falls under ``min_shared``, have ``shared == 0`` (score them plainly). Left-truncated prompts, which lose a
    different number of leading tokens each, end up alone this way rather than spoiling a cluster.
    """
    by_key: dict[Hashable, list[int]] = {}
    for i, key in enumerate(keys):
        by_key.setdefault(key, []).append(i)
    clusters: list[tuple[list[int], int]] = []
    for members in by_key.values():
        pending = list(members)
        while pending:
            anchor, rest = pending[0], pending[1:]
            joined, left, shared = [anchor], [], len(prompts[anchor]) - 1
            for i in rest:
                overlap = _common_prefix_length(prompts[anchor], prompts[i])
                if overlap >= min_shared:
                    joined.append(i)
                    shared = min(shared, overlap, len(prompts[i]) - 1)
                else:
                    left.append(i)
            if len(joined) < 2 or shared < min_shared:
                clusters.extend(([i], 0) for i in joined)
            else:
                clusters.append((joined, shared))
            pending = left
    return clusters


def _score_with_shared_prefix(
    model: torch.nn.Module,
    prefix: list[int],
    suffixes: Sequence[Sequence[int]],
    responses: Sequence[Sequence[int]],
    pad_id: int,
    *,
    micro_batch_size: int,
    temperature: float,
    device,
    max_tokens: int | None,
) -> list[Tensor]:
    """Response log-probs of ``prefix + suffix_i + response_i``, the prefix run once into a KV cache.

    Each micro-batch gets its own copy of the prefix cache repeated to its rows; its ``[left pad | suffix |
    response | right pad]`` rows continue the prefix's positions, with padding masked out.
    """
    width = len(prefix)
    prefix_ids = torch.as_tensor([prefix], dtype=torch.long, device=device)
    output = model(input_ids=prefix_ids, use_cache=True, logits_to_keep=1)
    cache = output["cache"] if "cache" in output else output["past_key_values"]
    lengths = [len(p) + len(r) for p, r in zip(suffixes, responses, strict=True)]
    results: list[Tensor | None] = [None] * len(suffixes)
    for group in _micro_batches(lengths, micro_batch_size, max_tokens):
        batch = pad_samples([suffixes[i] for i in group], [responses[i] for i in group], pad_id, device=device)
        rows = len(group)
        past = copy.deepcopy(cache)  # the forward pass appends to the cache it gets: every micro-batch needs its own
        if rows > 1:
            past.batch_repeat_interleave(rows)
        ones = torch.ones((rows, width), dtype=batch.attention_mask.dtype, device=batch.attention_mask.device)
        shifted = PaddedBatch(
            batch.input_ids,
            torch.cat([ones, batch.attention_mask], dim=1),
            batch.position_ids + width,
            batch.response_ids,
            batch.response_mask,
        )
        scored = score_tokens(model, shifted, temperature=temperature, with_entropy=False, past_key_values=past)
        for row, i in enumerate(group):
            results[i] = scored.logp[row, : len(responses[i])].detach().cpu()
    return results  # type: ignore[return-value]


def _token_budget_groups(lengths: Sequence[int], max_rows: int, max_tokens: int) -> list[list[int]]:
    """Indices grouped shortest first, each group at most ``max_rows`` rows and ``rows x longest <= max_tokens``
    (a single sequence longer than ``max_tokens`` forms its own group)."""
    groups: list[list[int]] = []
    current: list[int] = []
    for i in sorted(range(len(lengths)), key=lambda j: (lengths[j], j)):
        if current and (len(current) + 1 > max_rows or (len(current) + 1) * lengths[i] > max_tokens):
            groups.append(current)
            current = []
        current.append(i)
    if current:
        groups.append(current)
    return groups
