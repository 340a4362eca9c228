"""Training methods as data: which loss terms are on, with which coefficients.

Every method runs through the same trainer loop and :func:`sdar_agent.objective.compute_objective`; a method only
says which terms to add. ``docs/methods.md`` compares each one with the released SDAR code.

>>> get_method("sdar").sd_coef
0.01
>>> get_method("sdar", gate="soft_or").gate
'soft_or'
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from sdar_agent.losses import GATE_KINDS

__all__ = ["DIVERGENCES", "METHODS", "SD_KINDS", "MethodSpec", "get_method"]

SD_KINDS = ("none", "sdar", "skill_sd")
DIVERGENCES = ("sampled", "forward_kl", "jsd")


@dataclass(frozen=True)
class MethodSpec:
    """One training method.

    Attributes:
        name: the method's name (``--method``).
        pg_coef: weight of the PPO-clip GRPO term (0 removes the RL signal, as OPSD does).
        use_teacher: score the student's response tokens with the teacher (same weights, skills prepended).
        skills_in_student_prompt: put the skill text in the student's own prompt (Skill-GRPO), train and eval.
        sd_kind: self-distillation term: ``none``, ``sdar`` (gated teacher-student term), ``skill_sd`` (Skill-SD).
        sd_coef: its weight (lambda): 0.01 for SDAR/OPSD, 0.001 for Skill-SD.
        gate: SDAR gate: ``gap`` sigma(beta delta), ``entropy`` sigma(beta h), ``soft_or`` of both, ``none`` (g = 1).
        gate_beta: gate sharpness beta (5.0; 0.0 gives g = 0.5 everywhere).
        gate_coupled: let the gradient flow through the gate (the paper's unstable ablation).
        divergence: ``sampled`` (the released sampled-token surrogate), ``forward_kl`` or ``jsd`` over the
            vocabulary (these need full student and teacher logits).
        divergence_top_k: restrict ``forward_kl``/``jsd`` to the teacher's top-k ids plus a rest bucket; None = all.
        rlsd: replace the GRPO advantage by RLSD's teacher-weighted token advantage.
        rlsd_lambda0: RLSD's initial mixing weight (0.5).
        rlsd_warmdown_steps: steps over which it decays linearly to 0 (100).
        rlsd_eps: clip of RLSD's token weight to [1 - eps, 1 + eps] (0.2).
    """

    name: str
    pg_coef: float = 1.0
    use_teacher: bool = False
    skills_in_student_prompt: bool = False
    sd_kind: str = "none"
    sd_coef: float = 0.0
    gate: str = "gap"
    gate_beta: float = 5.0
    gate_coupled: bool = False
    divergence: str = "sampled"
    divergence_top_k: int | None = None
    rlsd: bool = False
    rlsd_lambda0: float = 0.5
    rlsd_warmdown_steps: int = 100
    rlsd_eps: float = 0.2

    def __post_init__(self) -> None:
        if self.sd_kind not in SD_KINDS:
            raise ValueError(f"{self.name}: sd_kind {self.sd_kind!r} unknown; choose one of {', '.join(SD_KINDS)}")
        if self.gate not in GATE_KINDS:
            raise ValueError(f"{self.name}: gate {self.gate!r} unknown; choose one of {', '.join(GATE_KINDS)}")
        if self.divergence not in DIVERGENCES:
            raise ValueError(
                f"{self.name}: divergence {self.divergence!r} unknown; choose one of {', '.join(DIVERGENCES)}"
            )
        if (self.sd_kind != "none" or self.rlsd) and not self.use_teacher:
            raise ValueError(f"{self.name}: sd_kind={self.sd_kind!r}/rlsd={self.rlsd} needs use_teacher=True")
        if self.divergence != "sampled" and self.sd_kind != "sdar":
            raise ValueError(f"{self.name}: divergence {self.divergence!r} applies to sd_kind='sdar' only")
        if self.divergence_top_k is not None and self.divergence_top_k < 1:
            raise ValueError(f"{self.name}: divergence_top_k must be >= 1 or None; got {self.divergence_top_k}")
        if self.rlsd and self.rlsd_warmdown_steps <= 0:
            raise ValueError(f"{self.name}: rlsd_warmdown_steps must be positive; got {self.rlsd_warmdown_steps}")

    @property
    def needs_teacher_logits(self) -> bool:
        """The SD term compares whole distributions (``forward_kl``/``jsd``): it needs the teacher's and the student's
        logits ``[B, T, V]`` at every response position, not only the sampled tokens' log-probs."""
        return self.sd_kind == "sdar" and self.divergence != "sampled"


METHODS: dict[str, MethodSpec] = {
    spec.name: spec
    for spec in (
        # Plain GRPO: PPO clip on group-normalised episode returns, + entropy bonus and k3 KL to the reference.
        MethodSpec("grpo"),
        # SDAR: GRPO + 0.01 * token_mean(sigma(5 delta) (log pi_T - log pi_theta)), gate detached.
        MethodSpec("sdar", use_teacher=True, sd_kind="sdar", sd_coef=0.01, gate="gap", gate_beta=5.0),
        # OPSD: the SDAR term alone (released as the SDAR entry point with pg_loss_coef=0); KL and entropy stay.
        MethodSpec("opsd", pg_coef=0.0, use_teacher=True, sd_kind="sdar", sd_coef=0.01, gate="gap", gate_beta=5.0),
        # GRPO+OPSD as released: the SDAR entry point with gate_beta=0, so g = 0.5 on every token.
        MethodSpec("grpo_opsd", use_teacher=True, sd_kind="sdar", sd_coef=0.01, gate="gap", gate_beta=0.0),
        # GRPO+OPSD with no gate at all (g = 1): the plain sampled-token distillation term.
        MethodSpec("grpo_opsd_ungated", use_teacher=True, sd_kind="sdar", sd_coef=0.01, gate="none", gate_beta=0.0),
        # Skill-GRPO: GRPO with the skills in the student's own prompt; no teacher.
        MethodSpec("skill_grpo", skills_in_student_prompt=True),
        # Skill-SD: GRPO + 0.001 * token_mean(rho * k3(pi_theta || pi_T)).
        MethodSpec("skill_sd", use_teacher=True, sd_kind="skill_sd", sd_coef=0.001, gate="none"),
        # RLSD: GRPO whose advantage is re-weighted per token by the teacher, lambda 0.5 -> 0 over 100 steps.
        MethodSpec("rlsd", use_teacher=True, rlsd=True, rlsd_lambda0=0.5, rlsd_warmdown_steps=100, rlsd_eps=0.2),
    )
}


def get_method(name: str, **overrides: object) -> MethodSpec:
    """The named method, with any field replaced by ``overrides`` (e.g. ``gate="entropy"`` for an ablation).

    Raises:
        ValueError: on an unknown method name or field, listing the known ones.
    """
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; known methods: {', '.join(METHODS)}")
    fields = {f.name for f in dataclasses.fields(MethodSpec)} - {"name"}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"unknown MethodSpec field(s) {', '.join(unknown)}; fields: {', '.join(sorted(fields))}")
    return dataclasses.replace(METHODS[name], **overrides)  # type: ignore[arg-type]
