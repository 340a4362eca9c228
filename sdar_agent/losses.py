"""The loss terms of GRPO, SDAR and its baselines, as small pure tensor functions.

Shapes: ``B`` samples (one per turn of an episode, the verl-agent layout), ``T`` response tokens (right-padded),
``V`` vocabulary. ``mask`` is ``[B, T]`` (bool or float), 1 on response tokens only: prompt and environment tokens
never enter a loss. Log-probabilities are natural logs of the sampled token, ``[B, T]``.

Every loss is a *token mean*: the sum over all response tokens of the mini-batch divided by their count ``N``.
Each function takes ``num_tokens``: pass the mini-batch's ``N`` to every micro-batch and the micro-batch losses
add up to exactly the mini-batch token mean, so gradient accumulation is a plain sum of ``backward()`` calls.

The formulas follow the released SDAR code (a verl-agent fork); ``docs/methods.md`` lists each against its source.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "entropy_from_logits",
    "forward_kl",
    "grpo_advantages",
    "jsd",
    "k3_kl",
    "ppo_clip_loss",
    "rlsd_lambda",
    "rlsd_token_advantages",
    "sdar_gate",
    "sdar_loss",
    "skill_sd_loss",
    "token_mean",
]

GATE_KINDS = ("gap", "entropy", "soft_or", "none")


def token_mean(values: Tensor, mask: Tensor, num_tokens: float | None = None, weights: Tensor | None = None) -> Tensor:
    """Sum of ``values`` (times ``weights``) over the masked tokens, divided by ``num_tokens`` or the mask's count.

    Args:
        values: ``[B, T]`` per-token values.
        mask: ``[B, T]``, nonzero on response tokens.
        num_tokens: the normaliser; pass the mini-batch's response-token count to every micro-batch so that the
            micro-batch results sum to the mini-batch mean. ``None`` uses this batch's own count (at least 1).
        weights: optional ``[B, T]`` per-token weights (e.g. a gate), multiplied in before the sum.

    Returns:
        A scalar tensor.
    """
    keep = mask.bool()
    if weights is not None:
        values = values * weights
    # `where`, not `values * mask`: padded positions may hold inf/nan (log of a padded token) and 0 * inf = nan.
    total = torch.where(keep, values, torch.zeros_like(values)).sum()
    if num_tokens is None:
        return total / keep.sum().clamp(min=1)
    if num_tokens <= 0:
        raise ValueError(f"num_tokens must be positive (the mini-batch's response-token count), got {num_tokens}")
    return total / num_tokens


def grpo_advantages(returns: Tensor, group_ids: Tensor, eps: float = 1e-6) -> Tensor:
    """Group-normalised GRPO advantage ``(R - mean_g) / (std_g + eps)`` of every turn-sample.

    The statistics run over ALL turn-samples of a group, not over its episodes: each sample carries its episode's
    return, so an episode of 10 turns weighs 10 times in its group's mean and std (verl-agent's
    ``compute_mean_std_cross_steps=True``, the SDAR setting). ``std`` is the unbiased (n - 1) standard deviation,
    as ``torch.std``. A group with a single sample gets mean 0 and std 1, so its advantage is ``R / (1 + eps)``,
    as verl does. A group whose returns are all equal gets advantage 0.

    Args:
        returns: ``[B]`` episode return of each turn-sample.
        group_ids: ``[B]`` integer id of the group (the task shared by the G rollouts).
        eps: added to the std.

    Returns:
        ``[B]`` advantages, without gradient, in the dtype of ``returns``.
    """
    if returns.dim() != 1 or group_ids.shape != returns.shape:
        shapes = f"{tuple(returns.shape)} and {tuple(group_ids.shape)}"
        raise ValueError(f"returns and group_ids must both be [B] tensors; got {shapes}")
    returns = returns.detach()
    rets = returns.double()
    _, group = torch.unique(group_ids, return_inverse=True)
    num_groups = int(group.max()) + 1 if group.numel() else 0
    count = torch.zeros(num_groups, dtype=torch.float64, device=rets.device).index_add_(0, group, torch.ones_like(rets))
    total = torch.zeros_like(count).index_add_(0, group, rets)
    mean = total / count
    sq_dev = torch.zeros_like(count).index_add_(0, group, (rets - mean[group]) ** 2)
    std = (sq_dev / (count - 1).clamp(min=1)).sqrt()
    single = count == 1
    mean = torch.where(single, torch.zeros_like(mean), mean)
    std = torch.where(single, torch.ones_like(std), std)
    return ((rets - mean[group]) / (std[group] + eps)).to(returns.dtype)


def ppo_clip_loss(
    logp: Tensor,
    old_logp: Tensor,
    advantages: Tensor,
    mask: Tensor,
    clip_low: float = 0.2,
    clip_high: float = 0.2,
    dual_clip: float | None = 3.0,
    num_tokens: float | None = None,
) -> tuple[Tensor, dict[str, float]]:
    """PPO clipped surrogate with dual clip, token-mean aggregated.

    Per token, with ``r = exp(logp - old_logp)``:
    ``l = max(-A r, -A clip(r, 1 - clip_low, 1 + clip_high))``; for ``A < 0`` the dual clip then caps it at
    ``-A * dual_clip`` (Ye et al. 2020), so a token whose ratio exploded under a negative advantage cannot produce
    an unbounded loss. ``dual_clip=None`` turns the dual clip off.

    Args:
        logp: ``[B, T]`` current log-probs, with grad.
        old_logp: ``[B, T]`` log-probs of the policy that sampled (no grad).
        advantages: ``[B, T]`` per-token advantages (a ``[B]`` tensor is broadcast over the tokens).
        mask: ``[B, T]`` response mask.

    Returns:
        ``(loss, metrics)``: ``clip_frac`` is the fraction of response tokens where the clipped branch is taken,
        ``dual_clip_frac`` where the dual clip binds, ``approx_kl`` the mean of ``old_logp - logp`` (verl's
        ``ppo_kl``). Metric fractions are over this batch's own tokens.
    """
    if dual_clip is not None and dual_clip <= 1.0:
        raise ValueError(f"dual_clip must be > 1 (the ratio bound for negative advantages) or None; got {dual_clip}")
    if advantages.dim() == 1:
        advantages = advantages.unsqueeze(-1).expand_as(logp)
    advantages = advantages.detach()
    old_logp = old_logp.detach()
    log_ratio = logp - old_logp
    ratio = torch.exp(log_ratio)
    loss_unclipped = -advantages * ratio
    loss_clipped = -advantages * torch.clamp(ratio, 1.0 - clip_low, 1.0 + clip_high)
    per_token = torch.maximum(loss_unclipped, loss_clipped)
    dual_bound = None
    if dual_clip is not None:
        dual_bound = -advantages * dual_clip
        per_token = torch.where(advantages < 0, torch.minimum(per_token, dual_bound), per_token)
    loss = token_mean(per_token, mask, num_tokens)

    with torch.no_grad():
        keep = mask.bool()
        n = max(int(keep.sum()), 1)
        clip_frac = int(((loss_clipped > loss_unclipped) & keep).sum()) / n
        approx_kl = float(torch.where(keep, -log_ratio, torch.zeros_like(log_ratio)).sum()) / n
        dual_frac = 0.0
        if dual_bound is not None:
            pre_dual = torch.maximum(loss_unclipped, loss_clipped)
            dual_frac = int(((pre_dual > dual_bound) & (advantages < 0) & keep).sum()) / n
    metrics = {"clip_frac": clip_frac, "dual_clip_frac": dual_frac, "approx_kl": approx_kl}
    return loss, metrics


def k3_kl(logp: Tensor, ref_logp: Tensor, clamp: float = 10.0) -> Tensor:
    """Per-token k3 ("low_var_kl") estimate of KL(pi || pi_ref) on tokens sampled from pi.

    ``d = ref_logp - logp``; ``k3 = exp(d) - d - 1 >= 0``, unbiased because E_pi[exp(d)] = 1, and clamped to
    ``[-clamp, clamp]`` as verl does. ``d`` is first limited to [-20, 20] so ``exp`` cannot overflow to inf (whose
    backward would give nan): at |d| >= 20, k3 >= 19 already exceeds the clamp, so the values are unchanged.

    Returns:
        ``[B, T]`` per-token KL, with grad through ``logp`` only.
    """
    d = (ref_logp.detach() - logp).clamp(-20.0, 20.0)
    return (torch.exp(d) - d - 1.0).clamp(-clamp, clamp)


def entropy_from_logits(logits: Tensor) -> Tensor:
    """Entropy (nats) of the softmax of ``logits [..., V]`` along the last axis: ``logsumexp(z) - sum(p z)``.

    Logits must be finite (raw model outputs): a ``-inf`` logit makes ``p z`` a ``0 * inf``.
    """
    probs = torch.softmax(logits, dim=-1)
    return torch.logsumexp(logits, dim=-1) - (probs * logits).sum(dim=-1)


def sdar_gate(
    delta: Tensor,
    beta: float,
    kind: str = "gap",
    entropy: Tensor | None = None,
    coupled: bool = False,
) -> Tensor:
    """The SDAR per-token gate ``g_t`` in (0, 1).

    Kinds:
        ``gap`` (released SDAR): ``sigma(beta * delta)`` with ``delta = log pi_T - log pi_theta`` on the sampled
        token. The teacher endorsing the token (delta > 0) opens the gate; a rejection (delta << 0, e.g. an
        irrelevant skill) closes it softly. ``beta = 0`` gives exactly 0.5 everywhere.
        ``entropy``: ``sigma(beta * h)`` with ``h`` the student's token entropy (nats, >= 0, so g >= 0.5):
        distil more where the student is unsure. Not in the released code; our definition.
        ``soft_or``: ``1 - (1 - g_gap)(1 - g_entropy)``, open if either gate is. Our definition.
        ``none``: 1 everywhere (ungated distillation).

    Args:
        delta: ``[B, T]`` teacher-minus-student log-prob gap.
        beta: gate sharpness (5.0 in SDAR).
        entropy: ``[B, T]`` student token entropy, needed by ``entropy`` and ``soft_or``.
        coupled: keep the gradient through ``delta``/``entropy`` (the paper's unstable coupled variant, for the
            ablation). By default the gate is a constant for the optimiser (stop-gradient), as released.

    Returns:
        ``[B, T]`` gate, detached unless ``coupled``.
    """
    if kind not in GATE_KINDS:
        raise ValueError(f"unknown gate kind {kind!r}; choose one of {', '.join(GATE_KINDS)}")
    if kind in ("entropy", "soft_or") and entropy is None:
        raise ValueError(f"gate kind {kind!r} needs the student's token entropy: pass entropy=[B, T]")
    if not coupled:
        delta = delta.detach()
        entropy = entropy.detach() if entropy is not None else None
    if kind == "none":
        return torch.ones_like(delta).detach()
    if kind == "gap":
        return torch.sigmoid(beta * delta)
    assert entropy is not None
    gate_entropy = torch.sigmoid(beta * entropy)
    if kind == "entropy":
        return gate_entropy
    gate_gap = torch.sigmoid(beta * delta)
    return 1.0 - (1.0 - gate_gap) * (1.0 - gate_entropy)


def sdar_loss(
    logp: Tensor, teacher_logp: Tensor, mask: Tensor, gate: Tensor, num_tokens: float | None = None
) -> Tensor:
    """SDAR's sampled-token distillation surrogate ``token_mean(g_t * (log pi_T - log pi_theta))``.

    The teacher is a constant (stop-gradient). With a detached gate the gradient is ``-g_t / N`` on each
    ``log pi_theta`` of a response token: a REINFORCE push up on the student's own tokens weighted by the gate,
    strongest where the teacher endorses them. Its expectation is a policy gradient with advantage ``g_t - 1/2``,
    so at ``beta = 0`` (g = 0.5) it is a zero-mean term (see docs/methods.md).
    """
    return token_mean(teacher_logp.detach() - logp, mask, num_tokens, weights=gate)


def _coarse_log_probs(logits: Tensor, keep_ids: Tensor | None) -> Tensor:
    """Log-probs over ``V`` ids, or over ``keep_ids [..., k]`` plus one bucket holding all the other ids' mass."""
    log_probs = torch.log_softmax(logits, dim=-1)
    if keep_ids is None:
        return log_probs
    kept = log_probs.gather(-1, keep_ids)
    rest_logits = logits.scatter(-1, keep_ids, float("-inf"))
    rest = torch.logsumexp(rest_logits, dim=-1, keepdim=True) - torch.logsumexp(logits, dim=-1, keepdim=True)
    return torch.cat([kept, rest], dim=-1)


def _kl_terms(target_logp: Tensor, logp: Tensor) -> Tensor:
    """``sum_v p (log p - log q)`` along the last axis, with 0 log 0 = 0 (an empty bucket has log-prob -inf)."""
    target_p = target_logp.exp()
    present = target_p > 0
    # Zero the log-probs of empty buckets *before* the product: masking only the product would still send
    # 0 * (-inf) = nan through the backward pass.
    zero = torch.zeros_like(target_logp)
    diff = torch.where(present, target_logp, zero) - torch.where(present, logp, zero)
    return (target_p * diff).sum(dim=-1)


def _teacher_top_ids(teacher_logits: Tensor, top_k: int | None) -> Tensor | None:
    if top_k is None or top_k >= teacher_logits.shape[-1]:
        return None
    if top_k < 1:
        raise ValueError(f"top_k must be >= 1 or None (full vocabulary); got {top_k}")
    return teacher_logits.topk(top_k, dim=-1).indices


def forward_kl(
    student_logits: Tensor,
    teacher_logits: Tensor,
    mask: Tensor,
    top_k: int | None = None,
    num_tokens: float | None = None,
    weights: Tensor | None = None,
) -> Tensor:
    """Forward KL(pi_T || pi_theta) per response position, token-mean aggregated.

    Full vocabulary by default. With ``top_k = k`` both distributions are coarsened to the teacher's k most
    likely ids plus ONE bucket for all other ids, whose probability is each model's remaining mass
    (``1 - sum of the k``). Both coarse distributions still sum to one, so nothing is renormalised: the result is
    the exact KL between the coarsened distributions, never above the full-vocabulary KL, and equal to it at
    ``k = V``. The student still sees how much mass it puts outside the teacher's top-k.

    Args:
        student_logits: ``[B, T, V]`` with grad.
        teacher_logits: ``[B, T, V]`` (no grad) at the same response positions.
        weights: optional ``[B, T]`` per-token weights (the SDAR gate).

    Returns:
        A scalar: ``token_mean(weights * KL_t)``.
    """
    teacher_logits = teacher_logits.detach()
    keep_ids = _teacher_top_ids(teacher_logits, top_k)
    teacher_lp = _coarse_log_probs(teacher_logits, keep_ids)
    student_lp = _coarse_log_probs(student_logits, keep_ids)
    return token_mean(_kl_terms(teacher_lp, student_lp), mask, num_tokens, weights=weights)


def jsd(
    student_logits: Tensor,
    teacher_logits: Tensor,
    mask: Tensor,
    top_k: int | None = None,
    num_tokens: float | None = None,
    weights: Tensor | None = None,
) -> Tensor:
    """Jensen-Shannon divergence between pi_theta and pi_T per response position, token-mean aggregated.

    ``JSD = (KL(pi_T || M) + KL(pi_theta || M)) / 2`` with ``M = (pi_T + pi_theta) / 2``; natural log, so each
    position's value lies in ``[0, ln 2]``. ``top_k`` coarsens both distributions to the teacher's top-k ids plus one
    rest-of-vocabulary bucket, exactly as in :func:`forward_kl`.
    """
    teacher_logits = teacher_logits.detach()
    keep_ids = _teacher_top_ids(teacher_logits, top_k)
    teacher_lp = _coarse_log_probs(teacher_logits, keep_ids)
    student_lp = _coarse_log_probs(student_logits, keep_ids)
    mixture_lp = torch.logaddexp(teacher_lp, student_lp) - math.log(2.0)
    per_token = 0.5 * (_kl_terms(teacher_lp, mixture_lp) + _kl_terms(student_lp, mixture_lp))
    return token_mean(per_token, mask, num_tokens, weights=weights)


def skill_sd_loss(
    logp: Tensor, teacher_logp: Tensor, old_logp: Tensor, mask: Tensor, num_tokens: float | None = None
) -> Tensor:
    """Skill-SD self-distillation loss as the SDAR repository re-implements it (``skillsd_utils.py``).

    Per token, with ``l = log pi_theta - log pi_T``: ``k3 = exp(-l) - 1 + l`` (``-l`` capped at 20 so ``exp`` stays
    finite), an on-policy k3 estimate of KL(pi_theta || pi_T); it is weighted by the importance ratio
    ``rho = exp(min(log pi_theta - log pi_old, 10))``. Gradient flows through both ``k3`` and ``rho`` (as
    released); teacher and old log-probs are constants. ``SDL = token_mean(rho * k3)``.
    """
    ell = logp - teacher_logp.detach()
    k3 = torch.exp((-ell).clamp(max=20.0)) - 1.0 + ell
    rho = torch.exp((logp - old_logp.detach()).clamp(max=10.0))
    return token_mean(rho * k3, mask, num_tokens)


def rlsd_token_advantages(
    advantages: Tensor, teacher_logp: Tensor, old_logp: Tensor, lam: float, eps: float = 0.2
) -> Tensor:
    """RLSD token advantages ``A_t = A ((1 - lam) + lam clip(exp(sign(A) (log pi_T - log pi_old)), 1-eps, 1+eps))``.

    The teacher re-weights each token's share of the sequence advantage: for A > 0 tokens the teacher endorses get
    up to ``1 + eps`` times the credit, for A < 0 tokens the teacher rejects get up to ``1 + eps`` times the blame.
    The sign of the advantage is never flipped. ``lam = 0`` gives back ``A`` (plain GRPO).

    Args:
        advantages: ``[B, T]`` GRPO advantage broadcast over the tokens (a ``[B]`` tensor is broadcast here).
        teacher_logp: ``[B, T]`` teacher log-probs of the sampled tokens.
        old_logp: ``[B, T]`` log-probs of the policy that sampled them (RLSD's student, pre-update).
        lam: mixing weight, see :func:`rlsd_lambda`.
        eps: token-weight clip.

    Returns:
        ``[B, T]`` token advantages, without gradient.
    """
    with torch.no_grad():
        if advantages.dim() == 1:
            advantages = advantages.unsqueeze(-1).expand_as(old_logp)
        gap = (teacher_logp - old_logp).clamp(-20.0, 20.0)  # keep exp finite; the clip below bounds it anyway
        weight = torch.exp(torch.sign(advantages) * gap).clamp(1.0 - eps, 1.0 + eps)
        return advantages * ((1.0 - lam) + lam * weight)


def rlsd_lambda(step: int, lam0: float = 0.5, warmdown_steps: int = 100) -> float:
    """RLSD's mixing weight, decayed linearly from ``lam0`` at step 0 to 0 at ``warmdown_steps`` and after.

    ``lam0 * (1 - step / warmdown_steps)`` (``rlsd_ray_trainer.py``; verl numbers its first step 1, so there the
    first update already uses ``lam0 * 0.99``).
    """
    if warmdown_steps <= 0:
        raise ValueError(f"warmdown_steps must be a positive number of steps; got {warmdown_steps}")
    if step < 0:
        raise ValueError(f"step must be >= 0; got {step}")
    if step >= warmdown_steps:
        return 0.0
    return lam0 * (1.0 - step / warmdown_steps)
