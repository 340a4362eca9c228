"""English text analysis shared by the pip-only backends (tantivy and bm25s).

It reproduces, in pure Python plus PyStemmer, what Lucene's English analysis in pyserini/Anserini does
(``DefaultEnglishAnalyzer``: standard tokenizer, possessive filter, lower-casing, Lucene's 33 English stopwords,
Porter stemming), so that every backend ranks the same tokens and the Lucene backend is a fair reference:

``"The Founders' guild of Ashford's 3.5 mills"`` -> ``["founder", "guild", "ashford", "3.5", "mill"]``

Tokens are runs of word characters, joined across an inner apostrophe or period (``don't``, ``3.5``, ``u.s``), the
rule of Unicode word segmentation (UAX #29) for letters and digits. Tokens longer than 255 characters are dropped,
as Lucene's tokenizer does.
"""

from __future__ import annotations

import re

import Stemmer

__all__ = ["ANALYZER_SETTINGS", "STOPWORDS", "analyze"]

#: Lucene's ``EnglishAnalyzer.ENGLISH_STOP_WORDS_SET``.
STOPWORDS: frozenset[str] = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "if",
        "in",
        "into",
        "is",
        "it",
        "no",
        "not",
        "of",
        "on",
        "or",
        "such",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "will",
        "with",
    ]
)

_TOKEN = re.compile(r"\w+(?:['’.]\w+)*")
_POSSESSIVES = ("'s", "’s")
_MAX_TOKEN_CHARS = 255
_STEMMER = Stemmer.Stemmer("porter")
_STEMMER.maxCacheSize = 200_000

#: Recorded in every index manifest; a change here must bump the version so old indexes are rebuilt.
ANALYZER_SETTINGS: dict[str, object] = {
    "name": "english-lucene-compatible",
    "version": 1,
    "stemmer": "porter",
    "stopwords": "lucene-english-33",
    "lowercase": True,
    "possessive_filter": True,
}


def analyze(text: str) -> list[str]:
    """Return the index terms of ``text`` in order (duplicates kept): tokenised, lower-cased, stopped, stemmed.

    Never raises on a ``str``; text with no word characters gives ``[]``.
    """
    words = _TOKEN.findall(text.lower())
    if "'" in text or "’" in text:
        words = [w[:-2] if w.endswith(_POSSESSIVES) else w for w in words]
    words = [w for w in words if w not in STOPWORDS and len(w) <= _MAX_TOKEN_CHARS]
    return _STEMMER.stemWords(words) if words else []
