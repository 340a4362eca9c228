"""Title nouns for WebShop's type reward.

Upstream (``web_agent_site/engine/goal.py``) keeps the lowercased tokens of a product name that spaCy's
``en_core_web_sm`` tags ``NOUN`` or ``PROPN``. That model cannot be installed everywhere, so this module offers two
extractors behind one function, :func:`title_nouns`:

``"spacy"``
    used when ``spacy`` and ``en_core_web_sm`` are importable: exactly upstream's rule. Its output depends on the
    model version (spaCy 3.8 gives ``title_score`` 0.4 where upstream's own test expects 0.333).
``"lexicon"``
    the default otherwise, deterministic and dependency-free. A token (a run of letters, digits, ``'`` or ``&``
    split on anything else, so ``Clip-In`` gives ``clip`` and ``in``) counts as a noun when it is alphabetic, at
    least two letters long, not a function word (:data:`FUNCTION_WORDS`), not a known adjective, colour or
    participle (:data:`NON_NOUNS`) and does not end in an adverb/adjective suffix (``-ly``, ``-ous``, ``-ful``,
    ``-less``, ``-able``, ``-ible``, ``-ive``, ``-ish``). Unlike spaCy it has no context: a word is a noun or not
    wherever it stands ("light" is never a noun, "pack" always is), and brand names count as nouns (spaCy mostly
    tags them ``PROPN``, which upstream also keeps).

Tokens are returned in order with repeats, as upstream does: ``title_score`` divides by the length of this list.
"""

from __future__ import annotations

import functools
import re
from typing import Literal

__all__ = ["FUNCTION_WORDS", "NON_NOUNS", "NounMethod", "default_method", "spacy_available", "title_nouns"]

NounMethod = Literal["spacy", "lexicon"]

#: Determiners, pronouns, prepositions, conjunctions, auxiliaries and other closed-class words.
FUNCTION_WORDS: frozenset[str] = frozenset((
    "a", "an", "the", "this", "that", "these", "those", "my", "your", "his", "her", "its", "our", "their",
    "some", "any", "each", "every", "no", "all", "both", "either", "neither", "i", "me", "you", "he", "she",
    "it", "we", "they", "them", "us", "him", "who", "whom", "which", "what", "whose", "and", "or", "but", "nor",
    "so", "yet", "for", "of", "in", "on", "at", "by", "to", "from", "with", "without", "within", "into", "onto",
    "over", "under", "above", "below", "up", "down", "out", "off", "about", "around", "after", "before",
    "between", "through", "during", "per", "via", "than", "as", "if", "then", "while", "is", "are", "was",
    "were", "be", "been", "being", "am", "do", "does", "did", "have", "has", "had", "can", "could", "will",
    "would", "shall", "should", "may", "might", "must", "not", "very", "too", "also", "just", "only", "more",
    "most", "less", "least", "much", "many", "few", "one", "two", "three", "four", "five", "six", "seven",
    "eight", "nine", "ten", "twelve", "pcs", "pc", "x",
))  # fmt: skip

#: Words that are never counted as nouns: common product adjectives, colours, participles and adverbs.
NON_NOUNS: frozenset[str] = frozenset((
    "new", "best", "premium", "natural", "organic", "original", "classic", "modern", "vintage", "portable",
    "wireless", "mini", "large", "small", "medium", "big", "little", "long", "short", "tall", "wide", "thin",
    "thick", "slim", "light", "heavy", "soft", "hard", "smooth", "warm", "cool", "cold", "hot", "fresh", "dry",
    "wet", "clean", "clear", "easy", "quick", "fast", "slow", "high", "low", "deep", "full", "half", "double",
    "single", "multi", "extra", "super", "ultra", "pure", "real", "true", "free", "safe", "strong", "sturdy",
    "durable", "compact", "lightweight", "waterproof", "adjustable", "foldable", "ergonomic", "breathable",
    "comfortable", "stylish", "cute", "elegant", "casual", "formal", "daily", "everyday", "active", "sensitive",
    "gentle", "mild", "rich", "dark", "bright", "matte", "glossy", "flat", "round", "square", "rectangular",
    "oval", "solid", "open", "hidden", "flowy", "relaxed", "fitted", "loose", "tight", "non", "anti", "black",
    "white", "red", "blue", "green", "yellow", "orange", "purple", "pink", "brown", "gray", "grey", "beige",
    "ivory", "navy", "teal", "olive", "burgundy", "silver", "gold", "golden", "tan", "cream", "khaki", "maroon",
    "mens", "womens", "men's", "women's", "kids", "unisex", "roasted", "salted", "ground", "mixed", "cushioned",
    "upholstered", "wrapped", "lined", "waisted", "backlit", "built", "included", "required", "cancelling",
    "canceling", "wicking", "blocking", "cutting", "resistant", "proof", "based", "cut", "boiled", "baked",
    "fried", "dried", "wall", "top",
))  # fmt: skip

_TOKEN = re.compile(r"[A-Za-z0-9'&]+")
_SUFFIXES = ("ly", "ous", "ful", "less", "able", "ible", "ive", "ish")


def spacy_available() -> bool:
    """``True`` when spaCy and its ``en_core_web_sm`` model are importable."""
    return _spacy_model() is not None


def default_method() -> NounMethod:
    """``"spacy"`` when its model is importable, else ``"lexicon"``."""
    return "spacy" if spacy_available() else "lexicon"


@functools.lru_cache(maxsize=1)
def _spacy_model():
    try:
        import spacy

        return spacy.load("en_core_web_sm")
    except (ImportError, OSError):
        return None


def _is_lexicon_noun(token: str) -> bool:
    return (
        token.isalpha()
        and len(token) >= 2
        and token not in FUNCTION_WORDS
        and token not in NON_NOUNS
        and not token.endswith(_SUFFIXES)
    )


@functools.lru_cache(maxsize=65_536)
def _lexicon_nouns(text: str) -> tuple[str, ...]:
    return tuple(t for t in (m.group(0).lower() for m in _TOKEN.finditer(text)) if _is_lexicon_noun(t))


@functools.lru_cache(maxsize=65_536)
def _spacy_nouns(text: str) -> tuple[str, ...]:
    model = _spacy_model()
    if model is None:
        raise RuntimeError("noun method 'spacy' needs spaCy with en_core_web_sm; use method='lexicon'")
    return tuple(t.text.lower() for t in model(text) if t.pos_ in ("PNOUN", "NOUN", "PROPN"))


def title_nouns(text: str, method: NounMethod | None = None) -> tuple[str, ...]:
    """The lowercased noun tokens of a product name, in order with repeats (see the module docstring).

    ``method=None`` picks :func:`default_method`.
    """
    method = method or default_method()
    if method == "spacy":
        return _spacy_nouns(text)
    if method == "lexicon":
        return _lexicon_nouns(text)
    raise ValueError(f"unknown noun method {method!r}; use 'spacy' or 'lexicon'")
