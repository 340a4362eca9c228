"""The loss terms on hand-computed tensors (sdar_agent.losses)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sdar_agent.losses import (
    entropy_from_logits,
    forward_kl,
    grpo_advantages,
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

LN = math.log


def approx(value, rel=1e-6, abs=1e-9):
    return pytest.approx(value, rel=rel, abs=abs)


# ----------------------------------------------------------------------------------------------- token mean


def test_token_mean_averages_response_tokens_only_and_ignores_nan_padding():
    values = torch.tensor([[1.0, 2.0, float("nan")], [4.0, float("inf"), 6.0]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    assert token_mean(values, mask).item() == approx(7.0 / 3.0)


def test_token_mean_with_shared_normaliser_divides_by_it():
    values = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    assert token_mean(values, mask, num_tokens=7.0).item() == approx(1.0)


def test_micro_batches_with_the_mini_batch_normaliser_sum_to_the_mini_batch_mean():
    values = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    mask = torch.tensor([[1, 1, 0], [1, 0, 0], [1, 1, 1]])
    full = token_mean(values, mask)  # (1 + 2 + 4 + 7 + 8 + 9) / 6 = 31 / 6
    parts = token_mean(values[:2], mask[:2], num_tokens=6.0) + token_mean(values[2:], mask[2:], num_tokens=6.0)
    assert full.item() == approx(31.0 / 6.0)
    assert parts.item() == approx(31.0 / 6.0)


def test_token_mean_of_an_empty_mask_is_zero_and_a_bad_normaliser_is_refused():
    assert token_mean(torch.ones(2, 3), torch.zeros(2, 3)).item() == 0.0
    with pytest.raises(ValueError, match="num_tokens"):
        token_mean(torch.ones(2, 3), torch.ones(2, 3), num_tokens=0.0)


# ------------------------------------------------------------------------------------------- GRPO advantage


def test_grpo_statistics_run_over_every_turn_sample_of_the_group():
    # Group 0: a won episode of 3 turns (return 10) and a lost episode of 1 turn (return 0). Across step-samples the
    # mean is 7.5 (not the per-episode 5) and the unbiased std is sqrt((3 * 2.5^2 + 7.5^2) / 3) = 5.
    returns = torch.tensor([10.0, 10.0, 10.0, 0.0])
    groups = torch.tensor([0, 0, 0, 0])
    adv = grpo_advantages(returns, groups)
    assert adv.tolist() == [approx(0.5), approx(0.5), approx(0.5), approx(-1.5)]


def test_grpo_advantage_uses_the_unbiased_std_per_group_and_handles_singletons_and_ties():
    returns = torch.tensor([1.0, 2.0, 1.0, 5.0, 0.0, 5.0, 4.0])
    groups = torch.tensor([0, 7, 0, 3, 0, 3, 0])
    adv = grpo_advantages(returns, groups, eps=1e-6)
    # group 0 = [1, 1, 0, 4]: mean 1.5, squared deviations sum to 9, unbiased variance 9 / 3 = 3.
    std0 = math.sqrt(3.0) + 1e-6
    assert adv[0].item() == approx((1.0 - 1.5) / std0)
    assert adv[2].item() == approx((1.0 - 1.5) / std0)
    assert adv[4].item() == approx((0.0 - 1.5) / std0)
    assert adv[6].item() == approx((4.0 - 1.5) / std0)
    # group 7 has one sample: mean 0, std 1 (as verl), so A = R / (1 + eps).
    assert adv[1].item() == approx(2.0 / (1.0 + 1e-6))
    # group 3's returns tie: zero advantage, no division by zero.
    assert adv[3].item() == 0.0
    assert adv[5].item() == 0.0
    assert adv.dtype == returns.dtype


def test_grpo_advantage_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\[B\]"):
        grpo_advantages(torch.zeros(3), torch.zeros(4, dtype=torch.long))


# ------------------------------------------------------------------------------------------------- PPO clip


def _ppo_case():
    # Five response tokens + one padded token with garbage values.
    ratios = torch.tensor([[1.5, 0.5, 5.0, 0.5, 1.1, 9.0]])
    advantages = torch.tensor([[1.0, 1.0, -1.0, -1.0, -1.0, 7.0]])
    mask = torch.tensor([[1, 1, 1, 1, 1, 0]])
    old_logp = torch.full((1, 6), -2.0)
    logp = (old_logp + ratios.log()).clone().requires_grad_(True)
    return logp, old_logp, advantages, mask


def test_ppo_clip_takes_the_pessimistic_branch_and_dual_clips_negative_advantages():
    logp, old_logp, advantages, mask = _ppo_case()
    loss, metrics = ppo_clip_loss(logp, old_logp, advantages, mask, 0.2, 0.2, 3.0)
    # per token: A>0,r=1.5 -> -1.2 (clipped); A>0,r=0.5 -> -0.5; A<0,r=5 -> min(max(5, 1.2), 3) = 3 (dual clip);
    # A<0,r=0.5 -> max(0.5, 0.8) = 0.8 (clipped); A<0,r=1.1 -> 1.1.
    assert loss.item() == approx((-1.2 - 0.5 + 3.0 + 0.8 + 1.1) / 5, rel=1e-5)
    assert metrics["clip_frac"] == approx(2 / 5)
    assert metrics["dual_clip_frac"] == approx(1 / 5)
    assert metrics["approx_kl"] == approx(-(LN(1.5) + LN(0.5) + LN(5.0) + LN(0.5) + LN(1.1)) / 5, rel=1e-5)
    loss.backward()
    # Only unclipped tokens carry gradient: d(-A r)/d logp = -A r.
    expected = torch.tensor([[0.0, -0.5, 0.0, 0.0, 1.1, 0.0]]) / 5
    torch.testing.assert_close(logp.grad, expected)


def test_ppo_without_dual_clip_lets_the_negative_advantage_loss_grow_with_the_ratio():
    logp, old_logp, advantages, mask = _ppo_case()
    loss, metrics = ppo_clip_loss(logp, old_logp, advantages, mask, dual_clip=None)
    assert loss.item() == approx((-1.2 - 0.5 + 5.0 + 0.8 + 1.1) / 5, rel=1e-5)
    assert metrics["dual_clip_frac"] == 0.0


def test_ppo_broadcasts_sequence_advantages_and_uses_the_shared_normaliser():
    logp = torch.zeros(2, 2, requires_grad=True)
    old_logp = torch.zeros(2, 2)
    mask = torch.ones(2, 2)
    loss, metrics = ppo_clip_loss(logp, old_logp, torch.tensor([2.0, -1.0]), mask, num_tokens=8.0)
    # ratio 1 everywhere: per-token loss -A, summed (-2 - 2 + 1 + 1) / 8.
    assert loss.item() == approx(-2.0 / 8.0)
    assert metrics["clip_frac"] == 0.0 and metrics["approx_kl"] == 0.0


def test_ppo_refuses_a_dual_clip_that_is_not_above_one():
    logp, old_logp, advantages, mask = _ppo_case()
    with pytest.raises(ValueError, match="dual_clip"):
        ppo_clip_loss(logp, old_logp, advantages, mask, dual_clip=1.0)


# ---------------------------------------------------------------------------------------------------- k3 KL


def test_k3_kl_matches_the_closed_form_and_is_zero_on_agreement():
    logp = torch.tensor([[LN(0.5), LN(0.3)]])
    ref = torch.tensor([[LN(0.25), LN(0.3)]])
    kl = k3_kl(logp, ref)
    # d = ln 0.25 - ln 0.5 = -ln 2: exp(d) - d - 1 = 0.5 + ln 2 - 1.
    assert kl[0, 0].item() == approx(LN(2.0) - 0.5)
    assert kl[0, 1].item() == 0.0


def test_k3_kl_is_clamped_at_ten_with_finite_zero_gradient_beyond():
    logp = torch.tensor([[-100.0, 100.0, -1.0]], requires_grad=True)
    ref = torch.tensor([[0.0, 0.0, -1.5]])
    kl = k3_kl(logp, ref, clamp=10.0)
    assert kl[0, :2].tolist() == [10.0, 10.0]
    kl.sum().backward()
    assert torch.isfinite(logp.grad).all()
    assert logp.grad[0, :2].tolist() == [0.0, 0.0]
    # inside the clamp d k3 / d logp = 1 - exp(ref - logp)
    assert logp.grad[0, 2].item() == approx(1.0 - math.exp(-0.5), rel=1e-5)


# -------------------------------------------------------------------------------------------------- entropy


def test_entropy_from_logits_matches_hand_values_and_ignores_a_logit_shift():
    logits = torch.tensor([[[0.0, 0.0, 0.0, 0.0], [LN(0.5), LN(0.25), LN(0.25), -1e4]]])
    h = entropy_from_logits(logits)
    assert h[0, 0].item() == approx(LN(4.0), rel=1e-5)
    assert h[0, 1].item() == approx(1.5 * LN(2.0), rel=1e-5)
    torch.testing.assert_close(entropy_from_logits(logits + 7.0), h)


# --------------------------------------------------------------------------------------------- SDAR gate/loss


def test_gate_is_exactly_one_half_at_beta_zero():
    delta = torch.tensor([[-30.0, -1.0, 0.0, 2.0, 40.0]])
    gate = sdar_gate(delta, beta=0.0)
    assert torch.equal(gate, torch.full_like(delta, 0.5))


def test_gate_kinds_match_their_formulas():
    delta = torch.tensor([[LN(3.0), -LN(3.0)]])
    entropy = torch.tensor([[0.0, LN(3.0)]])
    gap = sdar_gate(delta, beta=1.0, kind="gap")
    assert gap.tolist() == [[approx(0.75), approx(0.25)]]  # sigma(ln 3) = 3 / 4
    ent = sdar_gate(delta, beta=1.0, kind="entropy", entropy=entropy)
    assert ent.tolist() == [[approx(0.5), approx(0.75)]]
    soft_or = sdar_gate(delta, beta=1.0, kind="soft_or", entropy=entropy)
    assert soft_or.tolist() == [[approx(1 - 0.25 * 0.5), approx(1 - 0.75 * 0.25)]]
    assert torch.equal(sdar_gate(delta, beta=5.0, kind="none"), torch.ones_like(delta))


def test_gate_needs_entropy_for_entropy_kinds_and_rejects_unknown_kinds():
    delta = torch.zeros(1, 2)
    with pytest.raises(ValueError, match="entropy"):
        sdar_gate(delta, 5.0, kind="soft_or")
    with pytest.raises(ValueError, match="gap"):
        sdar_gate(delta, 5.0, kind="gapp")


def _sdar_case():
    logp = torch.tensor([[-1.0, -2.0, -0.5], [-3.0, -0.2, -9.0]], requires_grad=True)
    teacher = torch.tensor([[-0.5, -2.5, -0.5], [-1.0, -0.2, 0.0]], requires_grad=True)
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]])
    return logp, teacher, mask


def test_sdar_loss_gradient_on_each_student_token_is_minus_gate_over_token_count():
    logp, teacher, mask = _sdar_case()
    entropy = torch.rand(2, 3, requires_grad=True)
    for kind in ("gap", "entropy", "soft_or", "none"):
        logp.grad = teacher.grad = entropy.grad = None
        gate = sdar_gate(teacher - logp, beta=5.0, kind=kind, entropy=entropy)
        assert not gate.requires_grad
        loss = sdar_loss(logp, teacher, mask, gate)
        loss.backward()
        expected = torch.where(mask.bool(), -gate / 5.0, torch.zeros_like(gate))
        torch.testing.assert_close(logp.grad, expected)
        assert teacher.grad is None  # the teacher is a constant
        assert entropy.grad is None  # so is the gate


def test_sdar_loss_value_and_shared_normaliser():
    logp, teacher, mask = _sdar_case()
    gate = sdar_gate(teacher - logp, beta=0.0)
    # g = 0.5: L = 0.5 * sum(lT - l) / N over the 5 response tokens: deltas 0.5, -0.5, 0, 2, 0.
    assert sdar_loss(logp, teacher, mask, gate).item() == approx(0.5 * 2.0 / 5.0)
    loss = sdar_loss(logp, teacher, mask, gate, num_tokens=20.0)
    assert loss.item() == approx(0.5 * 2.0 / 20.0)
    loss.backward()
    torch.testing.assert_close(logp.grad, torch.where(mask.bool(), -0.5 / 20.0, 0.0))


def test_coupled_gate_passes_gradient_through_the_gate_but_never_to_the_teacher():
    logp, teacher, mask = _sdar_case()
    beta = 2.0
    gate = sdar_gate(teacher - logp, beta=beta, coupled=True)
    assert gate.requires_grad
    sdar_loss(logp, teacher.detach(), mask, gate).backward()
    delta = (teacher - logp).detach()
    g = torch.sigmoid(beta * delta)
    # L_t = sigma(beta * delta) * delta with delta = lT - l: dL_t/dl = -(g + beta g (1 - g) delta).
    expected = torch.where(mask.bool(), -(g + beta * g * (1 - g) * delta) / 5.0, 0.0)
    torch.testing.assert_close(logp.grad, expected)


# ------------------------------------------------------------------------------------- forward KL and JSD


def _direct_probs(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max()
    p = np.exp(z)
    return p / p.sum()


def _direct_coarse(logits: np.ndarray, ids: list[int] | None) -> np.ndarray:
    p = _direct_probs(logits)
    if ids is None:
        return p
    kept = p[ids]
    return np.append(kept, 1.0 - kept.sum())


def _direct_kl(p: np.ndarray, q: np.ndarray) -> float:
    return float(sum(pi * math.log(pi / qi) for pi, qi in zip(p, q, strict=True) if pi > 0))


def _direct_jsd(p: np.ndarray, q: np.ndarray) -> float:
    m = (p + q) / 2
    return 0.5 * _direct_kl(p, m) + 0.5 * _direct_kl(q, m)


def _divergence_case(seed: int = 0, B: int = 2, T: int = 3, V: int = 7):
    gen = torch.Generator().manual_seed(seed)
    student = (2 * torch.randn(B, T, V, generator=gen, dtype=torch.float64)).requires_grad_(True)
    teacher = (2 * torch.randn(B, T, V, generator=gen, dtype=torch.float64)).requires_grad_(True)
    mask = torch.ones(B, T)
    mask[1, 2] = 0
    return student, teacher, mask


def _direct_mean(student, teacher, mask, fn, top_k=None):
    values = []
    for b in range(mask.shape[0]):
        for t in range(mask.shape[1]):
            if mask[b, t]:
                s, te = student[b, t].detach().numpy(), teacher[b, t].detach().numpy()
                ids = None if top_k is None else list(np.argsort(-te)[:top_k])
                values.append(fn(_direct_coarse(te, ids), _direct_coarse(s, ids)))
    return float(np.mean(values))


@pytest.mark.parametrize("top_k", [None, 1, 3])
def test_forward_kl_matches_a_direct_computation(top_k):
    student, teacher, mask = _divergence_case()
    loss = forward_kl(student, teacher, mask, top_k=top_k)
    assert loss.item() == approx(_direct_mean(student, teacher, mask, _direct_kl, top_k), rel=1e-9)
    loss.backward()
    assert teacher.grad is None
    assert student.grad[1, 2].abs().sum().item() == 0.0  # padded position


@pytest.mark.parametrize("top_k", [None, 2])
def test_jsd_matches_a_direct_computation(top_k):
    student, teacher, mask = _divergence_case(seed=1)
    loss = jsd(student, teacher, mask, top_k=top_k)
    assert loss.item() == approx(_direct_mean(student, teacher, mask, _direct_jsd, top_k), rel=1e-9)
    loss.backward()
    assert teacher.grad is None and torch.isfinite(student.grad).all()


def test_top_k_as_large_as_the_vocabulary_is_the_full_divergence():
    student, teacher, mask = _divergence_case(V=5)
    assert forward_kl(student, teacher, mask, top_k=5).item() == forward_kl(student, teacher, mask).item()


def test_divergences_are_zero_on_identical_distributions_and_jsd_is_at_most_ln2():
    student, _, mask = _divergence_case()
    assert forward_kl(student, student + 3.0, mask).item() == approx(0.0, abs=1e-12)
    assert jsd(student, student, mask).item() == approx(0.0, abs=1e-12)
    far = torch.tensor([[[60.0, 0.0, 0.0]]], dtype=torch.float64, requires_grad=True)
    near = torch.tensor([[[0.0, 0.0, 60.0]]], dtype=torch.float64)
    value = jsd(far, near, torch.ones(1, 1))
    assert value.item() == approx(LN(2.0), rel=1e-9)
    value.backward()
    assert torch.isfinite(far.grad).all()  # empty (underflowed) buckets give no nan


def test_divergence_weights_act_as_a_per_token_gate():
    student, teacher, mask = _divergence_case()
    weights = torch.rand(2, 3, dtype=torch.float64)
    gated = forward_kl(student, teacher, mask, weights=weights).item()
    direct = 0.0
    for b in range(2):
        for t in range(3):
            if mask[b, t]:
                p = _direct_probs(teacher[b, t].detach().numpy())
                q = _direct_probs(student[b, t].detach().numpy())
                direct += weights[b, t].item() * _direct_kl(p, q)
    assert gated == approx(direct / 5.0, rel=1e-9)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), top_k=st.integers(1, 6))
def test_top_k_forward_kl_never_exceeds_the_full_vocabulary_kl(seed, top_k):
    # Coarsening to top-k ids + one rest bucket is a deterministic map of the outcomes: data processing inequality.
    student, teacher, mask = _divergence_case(seed=seed, V=7)
    assert forward_kl(student, teacher, mask, top_k=top_k).item() <= forward_kl(student, teacher, mask).item() + 1e-12
    assert jsd(student, teacher, mask, top_k=top_k).item() <= jsd(student, teacher, mask).item() + 1e-12


# ------------------------------------------------------------------------------------------ Skill-SD, RLSD


def test_skill_sd_loss_is_the_importance_weighted_k3_of_student_to_teacher():
    logp = torch.tensor([[LN(0.5), LN(0.3), -1.0]], requires_grad=True)
    teacher = torch.tensor([[LN(0.25), LN(0.3), 0.0]], requires_grad=True)
    old = torch.tensor([[LN(0.4), LN(0.3), 0.0]])
    mask = torch.tensor([[1, 1, 0]])
    loss = skill_sd_loss(logp, teacher, old, mask)
    # token 0: l = ln 2, k3 = exp(-l) - 1 + l = ln 2 - 0.5, rho = 0.5 / 0.4 = 1.25; token 1: l = 0, k3 = 0.
    assert loss.item() == approx(1.25 * (LN(2.0) - 0.5) / 2, rel=1e-6)
    loss.backward()
    # d(rho k3)/dl = rho k3 + rho (1 - exp(-l)) = 1.25 (ln 2 - 0.5 + 0.5) = 1.25 ln 2 (rho carries gradient).
    assert logp.grad[0, 0].item() == approx(1.25 * LN(2.0) / 2, rel=1e-6)
    assert logp.grad[0, 1].item() == approx(0.0, abs=1e-7)
    assert teacher.grad is None


def test_skill_sd_ratio_is_capped_at_exp_ten():
    logp = torch.tensor([[-1.0]])
    loss = skill_sd_loss(logp, torch.tensor([[-2.0]]), torch.tensor([[-16.0]]), torch.ones(1, 1))
    assert loss.item() == approx(math.exp(10.0) * (math.exp(-1.0) - 1.0 + 1.0), rel=1e-6)


def test_rlsd_token_advantages_reweight_within_the_clip_and_keep_the_sign():
    adv = torch.tensor([[2.0, 2.0, -1.0, -1.0, 0.0]])
    old = torch.zeros(1, 5)
    teacher = torch.tensor([[LN(1.1), LN(2.0), LN(2.0), -LN(1.1), 5.0]])
    out = rlsd_token_advantages(adv, teacher, old, lam=0.5, eps=0.2)
    # w = clip(exp(sign(A) * gap), 0.8, 1.2): 1.1, 1.2 (clipped), 0.8 (exp(-ln 2) = 0.5 clipped), 1.1, -.
    expected = [2 * (0.5 + 0.5 * 1.1), 2 * (0.5 + 0.5 * 1.2), -(0.5 + 0.5 * 0.8), -(0.5 + 0.5 * 1.1), 0.0]
    assert out[0].tolist() == [approx(v, rel=1e-6) for v in expected]
    assert not out.requires_grad


def test_rlsd_with_lambda_zero_is_plain_grpo_and_broadcasts_sequence_advantages():
    adv = torch.tensor([1.5, -0.5])
    teacher = torch.randn(2, 4)
    old = torch.randn(2, 4)
    out = rlsd_token_advantages(adv, teacher, old, lam=0.0)
    torch.testing.assert_close(out, adv.unsqueeze(-1).expand(2, 4))


def test_rlsd_lambda_decays_linearly_to_zero_over_the_warmdown():
    assert rlsd_lambda(0) == 0.5
    assert rlsd_lambda(50) == approx(0.25)
    assert rlsd_lambda(99) == approx(0.005)
    assert rlsd_lambda(100) == 0.0
    assert rlsd_lambda(150) == 0.0
    assert rlsd_lambda(10, lam0=1.0, warmdown_steps=20) == approx(0.5)
    with pytest.raises(ValueError, match="warmdown_steps"):
        rlsd_lambda(0, warmdown_steps=0)
    with pytest.raises(ValueError, match="step"):
        rlsd_lambda(-1)


def _expected_sdar_gradient(beta: float, kind: str = "gap") -> tuple[torch.Tensor, torch.Tensor]:
    """Exact E_{y ~ pi_theta}[grad L_SDAR(y)] over a 6-token vocabulary, and grad KL(pi_theta || pi_T)."""
    logits = torch.tensor([0.3, -1.0, 2.0, 0.0, 0.5, -0.2], dtype=torch.float64, requires_grad=True)
    teacher = torch.log_softmax(torch.tensor([1.0, 0.0, -1.0, 2.0, 0.0, 0.1], dtype=torch.float64), -1)
    log_probs = torch.log_softmax(logits, -1)
    expected = torch.zeros_like(logits)
    for y in range(6):
        logp = log_probs[y].reshape(1, 1)
        gate = sdar_gate(teacher[y].reshape(1, 1) - logp, beta, kind=kind)
        loss = sdar_loss(logp, teacher[y].reshape(1, 1), torch.ones(1, 1), gate)
        (grad,) = torch.autograd.grad(loss, logits, retain_graph=True)
        expected += log_probs[y].exp().detach() * grad
    (kl_grad,) = torch.autograd.grad((log_probs.exp() * (log_probs - teacher)).sum(), logits)
    return expected, kl_grad


def test_at_beta_zero_the_sdar_term_has_exactly_zero_expected_gradient():
    # The released GRPO+OPSD (gate_beta=0, g = 0.5) therefore adds zero-mean noise to GRPO, no distillation.
    expected, _ = _expected_sdar_gradient(beta=0.0)
    assert expected.abs().max().item() < 1e-15
    # so does the ungated surrogate (g = 1): only a gate that depends on the teacher makes it a distillation signal
    ungated, _ = _expected_sdar_gradient(beta=5.0, kind="none")
    assert ungated.abs().max().item() < 1e-15


def test_with_beta_five_the_expected_sdar_gradient_descends_the_reverse_kl_to_the_teacher():
    expected, kl_grad = _expected_sdar_gradient(beta=5.0)
    cosine = torch.nn.functional.cosine_similarity(expected, kl_grad, dim=0).item()
    assert cosine > 0.5
