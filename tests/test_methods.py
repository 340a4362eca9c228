"""The method registry (sdar_agent.methods): every method of the paper, as released."""

from __future__ import annotations

import dataclasses

import pytest

from sdar_agent.methods import METHODS, MethodSpec, get_method


def test_the_registry_holds_grpo_sdar_and_every_baseline():
    assert set(METHODS) == {
        "grpo",
        "sdar",
        "opsd",
        "grpo_opsd",
        "grpo_opsd_ungated",
        "skill_grpo",
        "skill_sd",
        "rlsd",
    }
    assert all(spec.name == name for name, spec in METHODS.items())


def test_grpo_has_no_teacher_and_no_distillation():
    spec = METHODS["grpo"]
    assert (spec.pg_coef, spec.use_teacher, spec.skills_in_student_prompt) == (1.0, False, False)
    assert (spec.sd_kind, spec.sd_coef, spec.rlsd) == ("none", 0.0, False)


def test_sdar_uses_the_released_coefficients():
    spec = METHODS["sdar"]
    assert spec.use_teacher and spec.pg_coef == 1.0
    assert (spec.sd_kind, spec.sd_coef, spec.gate, spec.gate_beta) == ("sdar", 0.01, "gap", 5.0)
    assert (spec.gate_coupled, spec.divergence, spec.divergence_top_k) == (False, "sampled", None)


def test_opsd_is_sdar_without_the_grpo_term():
    assert dataclasses.replace(METHODS["opsd"], name="sdar", pg_coef=1.0) == METHODS["sdar"]
    assert METHODS["opsd"].pg_coef == 0.0


def test_grpo_opsd_is_sdar_with_beta_zero_and_the_ungated_variant_has_gate_one():
    assert dataclasses.replace(METHODS["grpo_opsd"], name="sdar", gate_beta=5.0) == METHODS["sdar"]
    assert METHODS["grpo_opsd"].gate_beta == 0.0
    ungated = METHODS["grpo_opsd_ungated"]
    assert (ungated.gate, ungated.sd_kind, ungated.sd_coef, ungated.pg_coef) == ("none", "sdar", 0.01, 1.0)


def test_skill_grpo_puts_skills_in_the_student_prompt_without_a_teacher():
    spec = METHODS["skill_grpo"]
    assert spec.skills_in_student_prompt and not spec.use_teacher
    assert spec.sd_kind == "none" and not spec.rlsd


def test_skill_sd_and_rlsd_settings():
    skill_sd = METHODS["skill_sd"]
    assert (skill_sd.sd_kind, skill_sd.sd_coef, skill_sd.use_teacher) == ("skill_sd", 0.001, True)
    assert skill_sd.pg_coef == 1.0
    rlsd = METHODS["rlsd"]
    assert rlsd.rlsd and rlsd.use_teacher and rlsd.sd_kind == "none"
    assert (rlsd.rlsd_lambda0, rlsd.rlsd_warmdown_steps, rlsd.rlsd_eps) == (0.5, 100, 0.2)


def test_get_method_applies_overrides_without_touching_the_registry():
    spec = get_method("sdar", gate="entropy", gate_coupled=True, divergence="jsd", divergence_top_k=16)
    assert (spec.gate, spec.gate_coupled, spec.divergence, spec.divergence_top_k) == ("entropy", True, "jsd", 16)
    assert METHODS["sdar"].gate == "gap"
    with pytest.raises(dataclasses.FrozenInstanceError):
        METHODS["sdar"].gate = "none"  # type: ignore[misc]


def test_a_typo_in_the_method_name_lists_the_known_methods():
    with pytest.raises(ValueError, match=r"unknown method 'sdra'.*grpo, sdar, opsd"):
        get_method("sdra")


def test_an_unknown_field_or_value_is_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"unknown MethodSpec field.*gate_beta"):
        get_method("sdar", gate_betta=1.0)
    with pytest.raises(ValueError, match="gap, entropy, soft_or, none"):
        get_method("sdar", gate="sigmoid")
    with pytest.raises(ValueError, match="sampled, forward_kl, jsd"):
        get_method("sdar", divergence="reverse_kl")


def test_inconsistent_methods_are_refused():
    with pytest.raises(ValueError, match="use_teacher"):
        MethodSpec("x", sd_kind="sdar", sd_coef=0.01)
    with pytest.raises(ValueError, match="use_teacher"):
        MethodSpec("x", rlsd=True)
    with pytest.raises(ValueError, match="sd_kind='sdar'"):
        get_method("skill_sd", divergence="forward_kl")
    with pytest.raises(ValueError, match="divergence_top_k"):
        get_method("sdar", divergence_top_k=0)


def test_only_vocabulary_divergences_need_the_teachers_logits():
    assert not any(spec.needs_teacher_logits for spec in METHODS.values())  # every shipped method is sampled-token
    assert get_method("sdar", divergence="jsd").needs_teacher_logits
    assert get_method("opsd", divergence="forward_kl", divergence_top_k=4).needs_teacher_logits
    assert not get_method("sdar", divergence="sampled").needs_teacher_logits
