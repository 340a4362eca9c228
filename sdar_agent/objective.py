"""The one place where per-token tensors become the training loss of a method, plus its telemetry.

``total = pg_coef * PPO-clip(A) - entropy_coef * H + kl_coef * KL_k3(pi_theta || pi_ref) + sd_coef * L_SD``

where ``A`` is the GRPO advantage (RLSD: its teacher-weighted token version) and ``L_SD`` the method's
self-distillation term (SDAR's gated surrogate, a gated forward KL / JSD, or Skill-SD). All terms are token means
with the shared normaliser ``num_tokens``, so the losses of a mini-batch's micro-batches sum to the mini-batch loss.

Metrics (JSON-serialisable; computed without gradient) are means over the call's OWN response tokens, whatever
``num_tokens`` is, so a token-weighted average over micro-batches gives the mini-batch value
(:func:`merge_metrics` does this, lists included):

=============================  ==========================================================================
``pg_loss``                    PPO-clip term (before ``pg_coef``)
``entropy``                    mean student token entropy (nats)
``kl``                         mean k3 KL to the reference (only when ``ref_logp`` is given)
``clip_frac``                  fraction of tokens on the clipped branch
``dual_clip_frac``             fraction of tokens where the dual clip binds (negative advantages)
``approx_kl``                  mean ``old_logp - logp`` (drift since sampling)
``response_tokens``            number of response tokens in this call (the weight for merging)
``rlsd/lambda``                RLSD's mixing weight at this step (RLSD only)
``sdar/loss``                  the self-distillation term ``L_SD`` (before ``sd_coef``), any ``sd_kind``
``sdar/gate_mean``             mean gate (``sd_kind='sdar'`` only)
``sdar/gate_active_ratio``     fraction of tokens with g > 0.5 (``sd_kind='sdar'`` only)
``sdar/teacher_gap_mean``      mean delta = log pi_T - log pi_theta on the sampled tokens
``sdar/gap_positive_frac``     fraction of tokens with delta > 0 (the teacher endorses the student's token)
``sdar/teacher_kl``            sampled-token k3 estimate of KL(pi_theta || pi_T): ``exp(delta) - delta - 1``,
                               clamped to 10 per token like the reference KL; unbiased (before the clamp) since
                               the tokens were sampled from the student
``sdar/gap_by_position``       mean delta in ``position_buckets`` equal slices of each response's length
                               (token at rank p of a response of L tokens is in bucket ``floor(p * K / L)``)
``sdar/tokens_by_position``    token count of each bucket
``sdar/gap_by_turn``           mean delta per turn index 0..max turn in the batch
``sdar/kl_by_turn``            ``sdar/teacher_kl`` per turn index
``sdar/tokens_by_turn``        token count per turn index
=============================  ==========================================================================

The ``sdar/*`` keys appear whenever ``teacher_logp`` is given; the ``*_by_turn`` lists need ``turn_index``. A bucket
with no tokens holds ``None`` (JSON ``null``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from sdar_agent.losses import (
    forward_kl,
    jsd,
    k3_kl,
    ppo_clip_loss,
    rlsd_lambda,
    rlsd_token_advantages,
    sdar_gate,
    sdar_loss,
    skill_sd_loss,
    token_mean,
)
from sdar_agent.methods import MethodSpec

__all__ = ["ObjectiveConfig", "ObjectiveInputs", "compute_objective", "merge_metrics"]

# List metrics and the count list that weighs each of their entries.
_LIST_WEIGHTS = {
    "sdar/gap_by_position": "sdar/tokens_by_position",
    "sdar/gap_by_turn": "sdar/tokens_by_turn",
    "sdar/kl_by_turn": "sdar/tokens_by_turn",
}


@dataclass
class ObjectiveInputs:
    """Per-token tensors of one (micro-)batch. ``B`` turn-samples, ``T`` response tokens, ``V`` vocabulary.

    Attributes:
        logp: ``[B, T]`` log pi_theta of the sampled tokens, with grad.
        entropy: ``[B, T]`` student token entropy (nats), with grad.
        old_logp: ``[B, T]`` log-probs of the policy that sampled (no grad).
        mask: ``[B, T]`` 1 on response tokens only.
        advantages: ``[B]`` GRPO advantages (broadcast over tokens) or ``[B, T]``.
        ref_logp: ``[B, T]`` frozen reference log-probs; required when ``kl_coef != 0``.
        teacher_logp: ``[B, T]`` teacher log-probs of the same tokens; required by teacher methods.
        logits: ``[B, T, V]`` student logits at response positions (``forward_kl``/``jsd`` only), with grad.
        teacher_logits: ``[B, T, V]`` teacher logits at the same positions (``forward_kl``/``jsd`` only).
        turn_index: ``[B]`` turn number of each sample in its episode (0 = first), for telemetry.
        num_tokens: response-token count of the whole mini-batch (the shared normaliser); None = this batch's.
    """

    logp: Tensor
    entropy: Tensor
    old_logp: Tensor
    mask: Tensor
    advantages: Tensor
    ref_logp: Tensor | None = None
    teacher_logp: Tensor | None = None
    logits: Tensor | None = None
    teacher_logits: Tensor | None = None
    turn_index: Tensor | None = None
    num_tokens: float | None = None


@dataclass
class ObjectiveConfig:
    """Coefficients shared by all methods (verl-agent / SDAR defaults).

    Attributes:
        clip_low: PPO ratio clip below 1 (0.2).
        clip_high: PPO ratio clip above 1 (0.2).
        dual_clip: bound on the ratio's loss for negative advantages (3.0); None disables it.
        kl_coef: weight of the k3 KL to the reference (0.01 ALFWorld/WebShop, 0.001 Search-QA; 0 = no reference).
        entropy_coef: weight of the entropy bonus (0.001).
        position_buckets: number of relative-position buckets of the gap telemetry (5).
    """

    clip_low: float = 0.2
    clip_high: float = 0.2
    dual_clip: float | None = 3.0
    kl_coef: float = 0.01
    entropy_coef: float = 0.001
    position_buckets: int = 5


def compute_objective(
    spec: MethodSpec, inputs: ObjectiveInputs, config: ObjectiveConfig, step: int
) -> tuple[Tensor, dict[str, Any]]:
    """The scalar training loss of ``spec`` on ``inputs`` at training ``step`` (0-based), and its metrics.

    Raises:
        ValueError: when an input the method needs is missing (teacher log-probs, reference log-probs with a
            nonzero KL coefficient, logits for a vocabulary divergence).
    """
    _check_shapes(inputs)
    logp, mask, num_tokens = inputs.logp, inputs.mask.bool(), inputs.num_tokens
    teacher_logp = inputs.teacher_logp
    if spec.use_teacher and teacher_logp is None:
        raise ValueError(f"method {spec.name!r} needs teacher_logp: score the responses with the teacher first")
    if config.kl_coef != 0 and inputs.ref_logp is None:
        raise ValueError(f"kl_coef={config.kl_coef} needs ref_logp from the frozen reference; or set kl_coef=0")
    advantages = inputs.advantages.detach()
    if advantages.dim() == 1:
        advantages = advantages.unsqueeze(-1).expand_as(logp)
    metrics: dict[str, Any] = {}

    # RL term. RLSD keeps GRPO's sign and scale per sequence and lets the teacher move credit between its tokens.
    if spec.rlsd:
        assert teacher_logp is not None
        lam = rlsd_lambda(step, spec.rlsd_lambda0, spec.rlsd_warmdown_steps)
        advantages = rlsd_token_advantages(advantages, teacher_logp, inputs.old_logp, lam, spec.rlsd_eps)
        metrics["rlsd/lambda"] = lam
    pg_loss, pg_metrics = ppo_clip_loss(
        logp, inputs.old_logp, advantages, mask, config.clip_low, config.clip_high, config.dual_clip, num_tokens
    )
    entropy = token_mean(inputs.entropy, mask, num_tokens)
    total = spec.pg_coef * pg_loss - config.entropy_coef * entropy
    kl = None
    if inputs.ref_logp is not None:
        kl = token_mean(k3_kl(logp, inputs.ref_logp), mask, num_tokens)
        total = total + config.kl_coef * kl

    # Self-distillation term.
    gate = sd_loss = None
    if spec.sd_kind == "sdar":
        assert teacher_logp is not None
        # delta keeps its graph; sdar_gate cuts it unless the method is the coupled ablation.
        delta = teacher_logp.detach() - logp
        gate = sdar_gate(delta, spec.gate_beta, spec.gate, entropy=inputs.entropy, coupled=spec.gate_coupled)
        if not spec.needs_teacher_logits:
            sd_loss = sdar_loss(logp, teacher_logp, mask, gate, num_tokens)
        else:
            if inputs.logits is None or inputs.teacher_logits is None:
                raise ValueError(
                    f"divergence {spec.divergence!r} needs logits and teacher_logits [B, T, V] at response positions"
                )
            divergence = forward_kl if spec.divergence == "forward_kl" else jsd
            sd_loss = divergence(
                inputs.logits, inputs.teacher_logits, mask, spec.divergence_top_k, num_tokens, weights=gate
            )
    elif spec.sd_kind == "skill_sd":
        assert teacher_logp is not None
        sd_loss = skill_sd_loss(logp, teacher_logp, inputs.old_logp, mask, num_tokens)
    if sd_loss is not None:
        total = total + spec.sd_coef * sd_loss

    with torch.no_grad():
        local = float(mask.sum())
        # Losses above are normalised by num_tokens; report them as means over this call's own tokens.
        rescale = (num_tokens / local) if (num_tokens is not None and local > 0) else 1.0
        metrics["pg_loss"] = float(pg_loss.detach()) * rescale
        metrics["entropy"] = float(entropy.detach()) * rescale
        if kl is not None:
            metrics["kl"] = float(kl.detach()) * rescale
        metrics.update(pg_metrics)
        metrics["response_tokens"] = local
        if sd_loss is not None:
            metrics["sdar/loss"] = float(sd_loss.detach()) * rescale
        if gate is not None:
            metrics["sdar/gate_mean"] = _masked_mean(gate, mask)
            metrics["sdar/gate_active_ratio"] = _masked_mean((gate > 0.5).to(logp.dtype), mask)
        if teacher_logp is not None:
            metrics.update(_teacher_metrics(logp.detach(), teacher_logp.detach(), mask, inputs.turn_index, config))
    return total, metrics


def _check_shapes(inputs: ObjectiveInputs) -> None:
    """Refuse misaligned tensors early: a silent broadcast would mix tokens of different samples."""
    shape = tuple(inputs.logp.shape)
    if len(shape) != 2:
        raise ValueError(f"logp must be [B, T] (one row per turn-sample); got shape {shape}")
    per_token = {"entropy": inputs.entropy, "old_logp": inputs.old_logp, "mask": inputs.mask}
    per_token.update({"ref_logp": inputs.ref_logp, "teacher_logp": inputs.teacher_logp})
    for name, tensor in per_token.items():
        if tensor is not None and tuple(tensor.shape) != shape:
            raise ValueError(f"{name} has shape {tuple(tensor.shape)} but logp has {shape}; pad both to [B, T]")
    if tuple(inputs.advantages.shape) not in ((shape[0],), shape):
        raise ValueError(f"advantages must be [B] or [B, T] = {shape}; got {tuple(inputs.advantages.shape)}")
    for name, tensor in (("logits", inputs.logits), ("teacher_logits", inputs.teacher_logits)):
        if tensor is not None and tuple(tensor.shape[:2]) != shape:
            raise ValueError(f"{name} must be [B, T, V] with [B, T] = {shape}; got {tuple(tensor.shape)}")
    if inputs.turn_index is not None and tuple(inputs.turn_index.shape) != (shape[0],):
        raise ValueError(f"turn_index must be [B] = [{shape[0]}]; got {tuple(inputs.turn_index.shape)}")


def _masked_mean(values: Tensor, mask: Tensor) -> float:
    return float(torch.where(mask, values, torch.zeros_like(values)).sum() / mask.sum().clamp(min=1))


def _bucket_means(values: Tensor, buckets: Tensor, mask: Tensor, num_buckets: int) -> tuple[list, list[float]]:
    """Mean of ``values`` per bucket id over the masked tokens (None where a bucket is empty), and the counts."""
    ids = buckets[mask]
    vals = values[mask].double()
    zeros = torch.zeros(num_buckets, dtype=torch.float64, device=values.device)
    count = zeros.index_add(0, ids, torch.ones_like(vals))
    total = zeros.index_add(0, ids, vals)
    means = [float(t / c) if c > 0 else None for t, c in zip(total.tolist(), count.tolist(), strict=True)]
    return means, count.tolist()


def _teacher_metrics(
    logp: Tensor, teacher_logp: Tensor, mask: Tensor, turn_index: Tensor | None, config: ObjectiveConfig
) -> dict[str, Any]:
    gap = teacher_logp - logp
    teacher_kl = k3_kl(logp, teacher_logp)  # exp(delta) - delta - 1 on the student's own samples
    out: dict[str, Any] = {
        "sdar/teacher_gap_mean": _masked_mean(gap, mask),
        "sdar/gap_positive_frac": _masked_mean((gap > 0).to(gap.dtype), mask),
        "sdar/teacher_kl": _masked_mean(teacher_kl, mask),
    }
    # Relative position: rank p of the token among its response's L tokens, bucket floor(p * K / L).
    k = config.position_buckets
    rank = mask.long().cumsum(dim=1) - 1
    length = mask.long().sum(dim=1, keepdim=True).clamp(min=1)
    position = ((rank.clamp(min=0) * k) // length).clamp(max=k - 1)
    out["sdar/gap_by_position"], out["sdar/tokens_by_position"] = _bucket_means(gap, position, mask, k)
    if turn_index is not None and turn_index.numel() > 0:
        turns = turn_index.long().to(gap.device).unsqueeze(-1).expand_as(gap)
        num_turns = int(turn_index.max()) + 1
        out["sdar/gap_by_turn"], out["sdar/tokens_by_turn"] = _bucket_means(gap, turns, mask, num_turns)
        out["sdar/kl_by_turn"], _ = _bucket_means(teacher_kl, turns, mask, num_turns)
    return out


def merge_metrics(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Combine the metrics of several :func:`compute_objective` calls (micro-batches) into the mini-batch's.

    Scalars are averaged weighted by ``response_tokens``; per-bucket lists by their token counts; count lists and
    ``response_tokens`` are summed. The result equals the metrics of one call on the concatenated batch.
    """
    if not parts:
        return {}
    merged: dict[str, Any] = {}
    weights = [float(part.get("response_tokens", 0.0)) for part in parts]
    total_weight = sum(weights)
    count_keys = set(_LIST_WEIGHTS.values())
    for key in dict.fromkeys(k for part in parts for k in part):
        present = [(part[key], w, part) for part, w in zip(parts, weights, strict=True) if key in part]
        if key == "response_tokens" or key in count_keys:
            if key == "response_tokens":
                merged[key] = total_weight
            else:
                merged[key] = _sum_lists([value for value, _, _ in present])
        elif key in _LIST_WEIGHTS:
            size = max(len(value) for value, _, _ in present)
            sums, counts = [0.0] * size, [0.0] * size
            for value, _, part in present:
                for i, (mean, count) in enumerate(zip(value, part[_LIST_WEIGHTS[key]], strict=True)):
                    if mean is not None:
                        sums[i] += mean * count
                        counts[i] += count
            merged[key] = [s / c if c > 0 else None for s, c in zip(sums, counts, strict=True)]
        else:
            weight = sum(w for _, w, _ in present)
            merged[key] = sum(float(value) * w for value, w, _ in present) / weight if weight > 0 else 0.0
    return merged


def _sum_lists(lists: list[list[float]]) -> list[float]:
    size = max(len(values) for values in lists)
    out = [0.0] * size
    for values in lists:
        for i, value in enumerate(values):
            out[i] += value
    return out
