"""compute_objective: every method's loss, its composition, micro-batch accumulation and the gate telemetry."""

from __future__ import annotations

import json
import math

import pytest
import torch

from sdar_agent.losses import k3_kl, ppo_clip_loss, sdar_gate, sdar_loss, skill_sd_loss, token_mean
from sdar_agent.methods import METHODS, get_method
from sdar_agent.objective import ObjectiveConfig, ObjectiveInputs, compute_objective, merge_metrics

B, T, V = 6, 5, 9

ABLATIONS = {
    "sdar_entropy_gate": get_method("sdar", gate="entropy"),
    "sdar_soft_or_gate": get_method("sdar", gate="soft_or"),
    "sdar_coupled": get_method("sdar", gate_coupled=True),
    "sdar_forward_kl_top3": get_method("sdar", divergence="forward_kl", divergence_top_k=3),
    "sdar_jsd": get_method("sdar", divergence="jsd"),
}
ALL_SPECS = {**METHODS, **ABLATIONS}


def random_batch(seed: int = 0):
    """A batch computed from leaf logits, as the trainer's scoring pass produces it."""
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(B, T, V, generator=gen, dtype=torch.float64).requires_grad_(True)
    tokens = torch.randint(V, (B, T), generator=gen)
    log_probs = torch.log_softmax(logits, dim=-1)
    logp = log_probs.gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    entropy = -(log_probs.exp() * log_probs).sum(-1)
    lengths = torch.tensor([5, 3, 1, 4, 5, 2])
    mask = (torch.arange(T).unsqueeze(0) < lengths.unsqueeze(1)).float()
    teacher_logits = logits.detach() + torch.randn(B, T, V, generator=gen, dtype=torch.float64)
    teacher_logp = torch.log_softmax(teacher_logits, -1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    inputs = ObjectiveInputs(
        logp=logp,
        entropy=entropy,
        old_logp=logp.detach() + 0.3 * torch.randn(B, T, generator=gen, dtype=torch.float64),
        mask=mask,
        advantages=torch.randn(B, generator=gen, dtype=torch.float64),
        ref_logp=logp.detach() + 0.2 * torch.randn(B, T, generator=gen, dtype=torch.float64),
        teacher_logp=teacher_logp,
        logits=logits,
        teacher_logits=teacher_logits,
        turn_index=torch.tensor([0, 1, 2, 0, 1, 4]),
    )
    return inputs, logits


def _rows(inputs: ObjectiveInputs, rows: slice, num_tokens: float) -> ObjectiveInputs:
    def take(x):
        return None if x is None else x[rows]

    return ObjectiveInputs(
        logp=inputs.logp[rows],
        entropy=inputs.entropy[rows],
        old_logp=inputs.old_logp[rows],
        mask=inputs.mask[rows],
        advantages=inputs.advantages[rows],
        ref_logp=take(inputs.ref_logp),
        teacher_logp=take(inputs.teacher_logp),
        logits=take(inputs.logits),
        teacher_logits=take(inputs.teacher_logits),
        turn_index=take(inputs.turn_index),
        num_tokens=num_tokens,
    )


@pytest.mark.parametrize("name", list(ALL_SPECS))
def test_every_method_gives_a_finite_loss_whose_gradient_reaches_the_student(name):
    inputs, logits = random_batch()
    loss, metrics = compute_objective(ALL_SPECS[name], inputs, ObjectiveConfig(), step=3)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    assert torch.isfinite(logits.grad).all()
    assert logits.grad.abs().sum() > 0
    json.dumps(metrics, allow_nan=False)  # JSON-serialisable floats / lists of floats (None for empty buckets)


@pytest.mark.parametrize("name", list(ALL_SPECS))
def test_micro_batches_sharing_the_token_count_reproduce_the_mini_batch_loss_gradient_and_metrics(name):
    spec, config = ALL_SPECS[name], ObjectiveConfig()
    inputs, logits = random_batch(seed=1)
    full_loss, full_metrics = compute_objective(spec, inputs, config, step=7)
    (full_grad,) = torch.autograd.grad(full_loss, logits)

    inputs, logits = random_batch(seed=1)
    n = float(inputs.mask.sum())
    parts, total = [], 0.0
    for rows in (slice(0, 2), slice(2, 5), slice(5, 6)):
        loss, metrics = compute_objective(spec, _rows(inputs, rows, n), config, step=7)
        loss.backward(retain_graph=True)
        total += loss.item()
        parts.append(metrics)
    assert total == pytest.approx(full_loss.item(), rel=1e-10, abs=1e-12)
    torch.testing.assert_close(logits.grad, full_grad)
    merged = merge_metrics(parts)
    assert set(merged) == set(full_metrics)
    for key, value in full_metrics.items():
        if isinstance(value, list):
            assert merged[key] == [None if v is None else pytest.approx(v, rel=1e-9, abs=1e-12) for v in value], key
        else:
            assert merged[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key


def test_grpo_total_is_pg_minus_entropy_bonus_plus_kl():
    inputs, _ = random_batch()
    config = ObjectiveConfig(kl_coef=0.01, entropy_coef=0.001)
    loss, metrics = compute_objective(METHODS["grpo"], inputs, config, step=0)
    pg, _ = ppo_clip_loss(inputs.logp, inputs.old_logp, inputs.advantages, inputs.mask)
    entropy = token_mean(inputs.entropy, inputs.mask)
    kl = token_mean(k3_kl(inputs.logp, inputs.ref_logp), inputs.mask)
    assert loss.item() == pytest.approx((pg - 0.001 * entropy + 0.01 * kl).item(), rel=1e-12)
    assert metrics["pg_loss"] == pytest.approx(pg.item())
    assert metrics["entropy"] == pytest.approx(entropy.item())
    assert metrics["kl"] == pytest.approx(kl.item())
    assert metrics["response_tokens"] == 20.0
    assert not any(key.startswith(("sdar/gate", "sdar/loss", "rlsd/")) for key in metrics)


def test_sdar_adds_lambda_times_the_gated_surrogate_to_grpo():
    inputs, _ = random_batch()
    config = ObjectiveConfig()
    grpo, _ = compute_objective(METHODS["grpo"], inputs, config, step=0)
    sdar, metrics = compute_objective(METHODS["sdar"], inputs, config, step=0)
    gate = sdar_gate(inputs.teacher_logp - inputs.logp, beta=5.0)
    surrogate = sdar_loss(inputs.logp, inputs.teacher_logp, inputs.mask, gate)
    assert sdar.item() == pytest.approx((grpo + 0.01 * surrogate).item(), rel=1e-12)
    assert metrics["sdar/loss"] == pytest.approx(surrogate.item())
    assert metrics["sdar/gate_mean"] == pytest.approx(token_mean(gate, inputs.mask).item())


def test_sdar_gradient_on_a_leaf_log_prob_is_grpo_gradient_minus_lambda_gate_over_n():
    inputs, _ = random_batch()
    leaf = inputs.logp.detach().clone().requires_grad_(True)
    inputs.logp = leaf
    config = ObjectiveConfig(kl_coef=0.0, entropy_coef=0.0)
    inputs.ref_logp = None
    (grpo_grad,) = torch.autograd.grad(compute_objective(METHODS["grpo"], inputs, config, 0)[0], leaf)
    (sdar_grad,) = torch.autograd.grad(compute_objective(METHODS["sdar"], inputs, config, 0)[0], leaf)
    gate = torch.sigmoid(5.0 * (inputs.teacher_logp - leaf.detach()))
    expected = grpo_grad - 0.01 * torch.where(inputs.mask.bool(), gate, 0.0) / inputs.mask.sum()
    torch.testing.assert_close(sdar_grad, expected)


def test_opsd_ignores_the_advantages():
    inputs, _ = random_batch()
    loss_a, _ = compute_objective(METHODS["opsd"], inputs, ObjectiveConfig(), 0)
    inputs.advantages = -5.0 * inputs.advantages
    loss_b, _ = compute_objective(METHODS["opsd"], inputs, ObjectiveConfig(), 0)
    assert loss_a.item() == loss_b.item()


def test_grpo_opsd_gate_is_one_half_and_never_active_while_the_ungated_gate_is_one():
    inputs, _ = random_batch()
    _, released = compute_objective(METHODS["grpo_opsd"], inputs, ObjectiveConfig(), 0)
    assert released["sdar/gate_mean"] == 0.5 and released["sdar/gate_active_ratio"] == 0.0
    _, ungated = compute_objective(METHODS["grpo_opsd_ungated"], inputs, ObjectiveConfig(), 0)
    assert ungated["sdar/gate_mean"] == 1.0 and ungated["sdar/gate_active_ratio"] == 1.0


def test_skill_sd_adds_its_loss_with_weight_one_thousandth():
    inputs, _ = random_batch()
    grpo, _ = compute_objective(METHODS["grpo"], inputs, ObjectiveConfig(), 0)
    skill_sd, metrics = compute_objective(METHODS["skill_sd"], inputs, ObjectiveConfig(), 0)
    sdl = skill_sd_loss(inputs.logp, inputs.teacher_logp, inputs.old_logp, inputs.mask)
    assert skill_sd.item() == pytest.approx((grpo + 0.001 * sdl).item(), rel=1e-12)
    assert metrics["sdar/loss"] == pytest.approx(sdl.item())


def test_rlsd_reweights_advantages_until_lambda_has_decayed_then_equals_grpo():
    inputs, _ = random_batch()
    grpo, _ = compute_objective(METHODS["grpo"], inputs, ObjectiveConfig(), 0)
    early, early_metrics = compute_objective(METHODS["rlsd"], inputs, ObjectiveConfig(), step=0)
    late, late_metrics = compute_objective(METHODS["rlsd"], inputs, ObjectiveConfig(), step=100)
    assert early_metrics["rlsd/lambda"] == 0.5 and late_metrics["rlsd/lambda"] == 0.0
    assert early.item() != pytest.approx(grpo.item())
    assert late.item() == pytest.approx(grpo.item(), rel=1e-12)


def test_coupled_gate_changes_the_gradient_but_not_the_loss_value():
    inputs, _ = random_batch()
    config = ObjectiveConfig()
    detached, _ = compute_objective(METHODS["sdar"], inputs, config, 0)
    coupled, _ = compute_objective(get_method("sdar", gate_coupled=True), inputs, config, 0)
    assert coupled.item() == pytest.approx(detached.item(), rel=1e-12)
    (g_detached,) = torch.autograd.grad(detached, inputs.logp, retain_graph=True)
    (g_coupled,) = torch.autograd.grad(coupled, inputs.logp)
    assert not torch.allclose(g_detached, g_coupled)


def test_gap_telemetry_by_position_turn_and_sign_on_a_hand_built_batch():
    # Row 0: a 5-token response at turn 0; row 1: a 2-token response at turn 2 (turn 1 absent from the batch).
    logp = torch.zeros(2, 5, requires_grad=True)
    teacher = torch.tensor([[1.0, -1.0, 2.0, 0.0, -3.0], [0.5, 4.0, 9.0, 9.0, 9.0]])
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]])
    inputs = ObjectiveInputs(
        logp=logp,
        entropy=torch.zeros(2, 5),
        old_logp=torch.zeros(2, 5),
        mask=mask,
        advantages=torch.zeros(2),
        teacher_logp=teacher,
        turn_index=torch.tensor([0, 2]),
    )
    _, m = compute_objective(METHODS["sdar"], inputs, ObjectiveConfig(kl_coef=0.0), 0)
    gaps = [1.0, -1.0, 2.0, 0.0, -3.0, 0.5, 4.0]
    assert m["sdar/teacher_gap_mean"] == pytest.approx(sum(gaps) / 7)
    assert m["sdar/gap_positive_frac"] == pytest.approx(4 / 7)
    # Buckets floor(rank * 5 / length): row 0 -> 0, 1, 2, 3, 4; row 1 (length 2) -> 0, 2.
    assert m["sdar/gap_by_position"] == [pytest.approx(v) for v in [0.75, -1.0, 3.0, 0.0, -3.0]]
    assert m["sdar/tokens_by_position"] == [2.0, 1.0, 2.0, 1.0, 1.0]
    assert m["sdar/gap_by_turn"] == [pytest.approx(-0.2), None, pytest.approx(2.25)]
    assert m["sdar/tokens_by_turn"] == [5.0, 0.0, 2.0]

    def k3(d: float) -> float:
        return min(math.exp(d) - d - 1, 10.0)

    assert m["sdar/kl_by_turn"][0] == pytest.approx(sum(k3(d) for d in gaps[:5]) / 5)
    assert m["sdar/kl_by_turn"][2] == pytest.approx((k3(0.5) + k3(4.0)) / 2)
    assert m["sdar/teacher_kl"] == pytest.approx(sum(k3(d) for d in gaps) / 7)
    # sigma(5 * delta) > 0.5 exactly where delta > 0
    assert m["sdar/gate_active_ratio"] == pytest.approx(4 / 7)
    assert m["sdar/gate_mean"] == pytest.approx(sum(1 / (1 + math.exp(-5 * d)) for d in gaps) / 7)
    json.dumps(m, allow_nan=False)


def test_missing_inputs_raise_actionable_errors():
    inputs, _ = random_batch()
    inputs.teacher_logp = None
    with pytest.raises(ValueError, match="teacher_logp"):
        compute_objective(METHODS["sdar"], inputs, ObjectiveConfig(), 0)
    compute_objective(METHODS["skill_grpo"], inputs, ObjectiveConfig(), 0)  # no teacher needed

    inputs, _ = random_batch()
    inputs.ref_logp = None
    with pytest.raises(ValueError, match="kl_coef=0"):
        compute_objective(METHODS["grpo"], inputs, ObjectiveConfig(kl_coef=0.01), 0)
    _, metrics = compute_objective(METHODS["grpo"], inputs, ObjectiveConfig(kl_coef=0.0), 0)
    assert "kl" not in metrics

    inputs, _ = random_batch()
    inputs.logits = None
    with pytest.raises(ValueError, match="logits"):
        compute_objective(get_method("sdar", divergence="jsd"), inputs, ObjectiveConfig(), 0)


def test_metrics_are_plain_floats_or_lists_of_floats():
    inputs, _ = random_batch()
    _, metrics = compute_objective(METHODS["sdar"], inputs, ObjectiveConfig(), 0)
    for value in metrics.values():
        assert isinstance(value, (float, list))
        if isinstance(value, list):
            assert all(v is None or isinstance(v, float) for v in value)


def test_an_all_padding_micro_batch_adds_nothing_and_weighs_nothing_when_merged():
    inputs, _ = random_batch()
    n = float(inputs.mask.sum())
    inputs.mask = inputs.mask.clone()
    inputs.mask[2] = 0.0
    empty = _rows(inputs, slice(2, 3), n)
    loss, metrics = compute_objective(METHODS["sdar"], empty, ObjectiveConfig(), 0)
    assert loss.item() == 0.0
    assert metrics["response_tokens"] == 0.0
    assert metrics["sdar/gap_by_position"] == [None] * 5
    rest = _rows(inputs, slice(0, 2), n)
    _, rest_metrics = compute_objective(METHODS["sdar"], rest, ObjectiveConfig(), 0)
    merged = merge_metrics([metrics, rest_metrics])
    assert merged["sdar/gate_mean"] == pytest.approx(rest_metrics["sdar/gate_mean"])
    assert merged["sdar/gap_by_turn"] == rest_metrics["sdar/gap_by_turn"] + [None]


def test_misaligned_inputs_are_refused_with_the_offending_name():
    inputs, _ = random_batch()
    inputs.teacher_logp = inputs.teacher_logp[:, :4]
    with pytest.raises(ValueError, match="teacher_logp has shape"):
        compute_objective(METHODS["sdar"], inputs, ObjectiveConfig(), 0)
    inputs, _ = random_batch()
    inputs.advantages = inputs.advantages[:3]
    with pytest.raises(ValueError, match="advantages must be"):
        compute_objective(METHODS["grpo"], inputs, ObjectiveConfig(), 0)
