"""Search-QA: a Search-R1 style retrieval QA environment over a generated fictional encyclopedia or real data.

Modules: :mod:`~.world` (the fictional entities), :mod:`~.corpus` (their passages), :mod:`~.questions` (question
families and specs), :mod:`~.generator` (deterministic generation and the cache), :mod:`~.loaders` (real Search-R1
files), :mod:`~.dataset` (questions + retrieval for an env), :mod:`~.answer` (normalize_answer, EM, F1, subEM),
:mod:`~.verifier`, :mod:`~.protocol` (prompt, action parsing, passage formatting), :mod:`~.oracle`, :mod:`~.env`.
"""

from sdar_envs.searchqa.answer import exact_match, f1_score, normalize_answer, substring_exact_match
from sdar_envs.searchqa.verifier import SearchQAVerifier

__all__ = ["SearchQAVerifier", "exact_match", "f1_score", "normalize_answer", "substring_exact_match"]
