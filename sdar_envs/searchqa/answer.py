"""Answer scoring in the Search-R1 protocol: ``normalize_answer``, exact match, substring exact match and token F1.

``normalize_answer`` follows Search-R1's ``verl/utils/reward_score/qa_em.py`` (itself SQuAD's): lowercase, drop
ASCII punctuation, drop the articles *a*, *an*, *the* as whole words, collapse whitespace - in that order. Every
score takes a list of gold answers (aliases) and returns the best over them.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence

__all__ = ["exact_match", "f1_score", "normalize_answer", "substring_exact_match"]

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """``"The  Velmoria-Republic!"`` -> ``"velmoriarepublic"``; ``"1,234,567"`` -> ``"1234567"``."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def _golds(golden_answers: str | Sequence[str]) -> list[str]:
    return [golden_answers] if isinstance(golden_answers, str) else [str(g) for g in golden_answers]


def exact_match(prediction: str, golden_answers: str | Sequence[str]) -> float:
    """1.0 when the normalized prediction equals a normalized gold answer, else 0.0 (Search-R1 ``em_check``)."""
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(g) for g in _golds(golden_answers)))


def substring_exact_match(prediction: str, golden_answers: str | Sequence[str]) -> float:
    """1.0 when a normalized gold answer occurs inside the normalized prediction (Search-R1 ``subem_check``)."""
    pred = normalize_answer(prediction)
    return float(any(normalize_answer(g) in pred for g in _golds(golden_answers)))


def f1_score(prediction: str, golden_answers: str | Sequence[str]) -> float:
    """Token-level F1 between normalized prediction and gold (SQuAD), maximised over the gold answers; in [0, 1]."""
    pred_tokens = normalize_answer(prediction).split()
    best = 0.0
    for gold in _golds(golden_answers):
        gold_tokens = normalize_answer(gold).split()
        common = Counter(pred_tokens) & Counter(gold_tokens)
        overlap = sum(common.values())
        if overlap == 0:
            continue
        precision, recall = overlap / len(pred_tokens), overlap / len(gold_tokens)
        best = max(best, 2 * precision * recall / (precision + recall))
    return best
