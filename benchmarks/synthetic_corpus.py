"""A seeded encyclopedia-like corpus with known-answer queries, for benchmarking and cross-checking backends.

Passages read like short Wikipedia chunks about fictional people, places and organisations (Search-R1 ``contents``
layout, ``"\\"Title\\"\\ntext"``, 25-70 words), with the hard cases BM25 meets in practice: shared surnames and
given names, several passages per title, and common filler vocabulary. Each query asks about one entity and names
its *main* passage as the target, so recall can be measured. Same ``seed`` and sizes give identical output.

This is a stand-in for timing and parity checks (``benchmarks/bench_retrieval.py --workload synthetic``); the
Search-QA environment ships its own generated corpus.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["SyntheticCorpus", "synthetic_corpus"]

_ONSETS = [
    "b",
    "br",
    "c",
    "ch",
    "d",
    "dr",
    "f",
    "g",
    "gr",
    "h",
    "j",
    "k",
    "l",
    "m",
    "n",
    "p",
    "pr",
    "r",
    "s",
    "st",
    "t",
    "th",
    "tr",
    "v",
    "w",
    "z",
]
_VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "io", "ou"]
_CODAS = ["", "", "n", "r", "s", "l", "th", "nd", "rk", "x"]
_PROFESSIONS = [
    "painter",
    "sculptor",
    "novelist",
    "poet",
    "architect",
    "engineer",
    "chemist",
    "botanist",
    "historian",
    "composer",
    "violinist",
    "surveyor",
    "cartographer",
    "physician",
    "astronomer",
    "playwright",
    "merchant",
    "banker",
    "jurist",
    "translator",
]
_FILLER = [
    "early",
    "later",
    "work",
    "years",
    "during",
    "period",
    "known",
    "career",
    "life",
    "family",
    "city",
    "region",
    "public",
    "local",
    "wide",
    "small",
    "large",
    "first",
    "second",
    "major",
    "several",
    "many",
    "new",
    "old",
    "history",
    "school",
    "house",
    "river",
    "valley",
    "street",
    "market",
    "letters",
    "archive",
    "collection",
    "museum",
    "library",
    "studio",
    "society",
    "council",
    "journal",
    "press",
    "members",
    "students",
    "friends",
    "colleagues",
    "travelled",
    "studied",
    "returned",
    "moved",
    "lived",
    "worked",
    "wrote",
    "published",
    "exhibited",
    "founded",
    "opened",
    "taught",
    "joined",
    "remained",
    "described",
    "regarded",
    "considered",
    "remembered",
    "admired",
    "influenced",
    "inspired",
    "published",
    "reviewed",
]
_KINDS = ("person", "city", "organisation")


def _word(rng: random.Random, syllables: int) -> str:
    return "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) for _ in range(syllables)) + rng.choice(_CODAS)


@dataclass(frozen=True)
class SyntheticCorpus:
    """``docs``: ``(doc_id, contents)`` pairs; ``queries``: ``(query, target_doc_id)`` pairs."""

    docs: list[tuple[str, str]]
    queries: list[tuple[str, str]]


def synthetic_corpus(num_passages: int = 50_000, num_queries: int = 1_000, seed: int = 0) -> SyntheticCorpus:
    """Generate about ``num_passages`` passages (exactly that many) and ``num_queries`` queries."""
    rng = random.Random(seed)
    given = sorted({_word(rng, rng.choice((1, 2))).capitalize() for _ in range(1500)})
    family = sorted({_word(rng, rng.choice((2, 3))).capitalize() for _ in range(4000)})
    places = sorted({_word(rng, rng.choice((2, 3))).capitalize() for _ in range(3000)})
    docs: list[tuple[str, str]] = []
    queries_pool: list[tuple[str, str]] = []
    entity = 0
    while len(docs) < num_passages:
        kind = _KINDS[entity % 3]
        entity += 1
        city, other_city = rng.sample(places, 2)
        year, other_year = rng.randint(1700, 1990), rng.randint(1700, 1990)
        profession = rng.choice(_PROFESSIONS)
        if kind == "person":
            title = f"{rng.choice(given)} {rng.choice(family)}"
            facts = [
                f"{title} (born {year} in {city}) was a {profession}.",
                f"{title.split()[1]} trained in {other_city} and worked there for {rng.randint(2, 30)} years.",
            ]
            question = rng.choice(
                (
                    f"In which city was the {profession} {title} born?",
                    f"When was {title} born?",
                    f"What was the profession of {title}?",
                )
            )
        elif kind == "city":
            title = f"{city}"
            facts = [
                f"{city} is a city on the {rng.choice(places)} river with {rng.randint(2, 900) * 1000} inhabitants.",
                f"It was founded in {year} and became the seat of the {rng.choice(family)} council in {other_year}.",
            ]
            question = rng.choice((f"When was {city} founded?", f"How many people live in {city}?"))
        else:
            founder = f"{rng.choice(given)} {rng.choice(family)}"
            title = f"{founder.split()[1]} {rng.choice(('Mills', 'Press', 'Works', 'Society', 'Bank', 'Guild'))}"
            facts = [
                f"{title} was founded by the {profession} {founder} in {year}.",
                f"Its headquarters are in {city}; a branch opened in {other_city} in {other_year}.",
            ]
            question = rng.choice((f"Who founded {title}?", f"Where is {title} headquartered?"))
        for part in range(rng.choice((1, 2, 2, 3))):
            if len(docs) >= num_passages:
                break
            filler = " ".join(rng.choice(_FILLER) for _ in range(rng.randint(12, 40)))
            body = " ".join(facts) if part == 0 else f"{title} {rng.choice(facts[1:])}"
            text = f"{body} {filler.capitalize()}."
            doc_id = str(len(docs))
            docs.append((doc_id, f'"{title}"\n{text}'))
            if part == 0:
                queries_pool.append((question, doc_id))
    order = list(range(len(docs)))
    rng.shuffle(order)  # ids say nothing about entity or position
    renamed = {str(old): str(new) for new, old in enumerate(order)}
    docs = sorted(((renamed[d], text) for d, text in docs), key=lambda doc: int(doc[0]))
    queries = [(q, renamed[target]) for q, target in rng.sample(queries_pool, min(num_queries, len(queries_pool)))]
    return SyntheticCorpus(docs=docs, queries=queries)
