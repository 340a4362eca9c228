"""Question families over a :class:`~sdar_envs.searchqa.world.World`, each with a machine-checkable spec.

A question's *spec* says what it asks, as data::

    {"start": {"kind": "organisation", "where": {"name": "Varro Mills"}},
     "path": ["founder", "birthplace"], "attr": "name"}

reads "start at the one organisation named Varro Mills, follow ``founder`` then ``birthplace``, answer that entity's
name". Comparison specs hold two starts, an attribute and ``"pick": "min" | "max"``. :func:`resolve_spec` evaluates
a spec by scanning the whole world, which is how the tests prove each question is unambiguous (exactly one entity
satisfies every ``where``) and that its gold answer is right.

Families (the ``data_source`` of a generated question):

=============  ============  =================================================================================
family         split role    what it asks
=============  ============  =================================================================================
single_hop     in-domain     one attribute of one entity, named or described without its name
bridge         in-domain     two hops: an attribute of an entity reached through a relation
comparison     out-of-domain which of two entities has the smaller/larger attribute (two searches)
three_hop      out-of-domain three hops through relations
paraphrase     out-of-domain single-hop and bridge questions in templates never used in training
=============  ============  =================================================================================
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from sdar_envs.searchqa.corpus import WORK_PUBLISHED
from sdar_envs.searchqa.world import WORK_RELEASE, WORK_VERBS, World

__all__ = [
    "FAMILIES",
    "IN_DOMAIN",
    "OUT_OF_DOMAIN",
    "EntityFinder",
    "QuestionMaker",
    "answers_for",
    "resolve_spec",
    "support_entities",
]

IN_DOMAIN: tuple[str, ...] = ("single_hop", "bridge")
OUT_OF_DOMAIN: tuple[str, ...] = ("comparison", "three_hop", "paraphrase")
FAMILIES: tuple[str, ...] = IN_DOMAIN + OUT_OF_DOMAIN

#: Profession -> how descriptive questions name it without the passage's word (one phrase per profession, so a
#: description never fits two professions).
DESCRIPTIONS: dict[str, str] = {
    "painter": "artist who works on canvas",
    "engineer": "builder of machines",
    "botanist": "scientist who studies plants",
    "novelist": "author of fiction",
    "architect": "designer of buildings",
    "composer": "writer of music",
    "physician": "doctor",
    "cartographer": "mapmaker",
    "astronomer": "scientist who studies the stars",
    "sculptor": "artist who carves stone",
    "economist": "scholar of trade and money",
    "chemist": "scientist who studies substances",
    "poet": "writer of verse",
    "historian": "scholar of the past",
    "mathematician": "scholar of numbers",
    "diplomat": "envoy",
    "film director": "filmmaker",
    "photographer": "maker of photographs",
    "linguist": "scholar of languages",
    "playwright": "dramatist",
}

#: (entity kind, relation) -> kind of the entity it leads to.
RELATIONS: dict[tuple[str, str], str] = {
    ("person", "birthplace"): "city",
    ("person", "employer"): "organisation",
    ("organisation", "founder"): "person",
    ("organisation", "hq"): "city",
    ("city", "country"): "country",
    ("country", "capital"): "city",
    ("work", "creator"): "person",
    ("work", "publisher"): "organisation",
}

_TABLES = {
    "person": "people",
    "city": "cities",
    "country": "countries",
    "organisation": "organisations",
    "work": "works",
}


def _entities(world: World, kind: str) -> list[Any]:
    return getattr(world, _TABLES[kind])


def _related(world: World, kind: str, entity: Any, relation: str) -> tuple[str, Any] | None:
    target_kind = RELATIONS[(kind, relation)]
    index = getattr(entity, relation)
    if index < 0:
        return None
    return target_kind, _entities(world, target_kind)[index]


def _field(world: World, kind: str, entity: Any, name: str) -> Any:
    """A ``where`` field of an entity: relations compare by the related entity's name."""
    if (kind, name) in RELATIONS:
        related = _related(world, kind, entity, name)
        return None if related is None else _field(world, related[0], related[1], "name")
    if name == "name":
        return entity.title if kind == "work" else entity.name
    return getattr(entity, name)


def answers_for(world: World, kind: str, entity: Any, attr: str) -> list[str]:
    """Gold answers for ``attr`` of an entity: the canonical form first, then aliases."""
    if attr != "name":
        value = getattr(entity, attr)
        if attr == "population":
            forms = [f"{value:,}"]
            if value >= 1_000_000:
                forms.append(f"{value / 1_000_000:.1f} million")
            return forms
        return [str(value)]
    if kind == "person":
        forms = [entity.name]
        if entity.middle:
            forms.append(f"{entity.first} {entity.middle} {entity.last}")
        if entity.honorific:
            forms.append(entity.full_name)
    elif kind == "city":
        forms = [entity.name, f"{entity.name}, {world.countries[entity.country].name}"]
    elif kind == "country":
        forms = [entity.name, entity.official_name]
    elif kind == "organisation":
        forms = [entity.name] + ([f"{entity.name} {entity.suffix}"] if entity.suffix else [])
    else:
        forms = [entity.title]
    return list(dict.fromkeys(forms))


def _follow(world: World, kind: str, entity: Any, path: list[str]) -> list[tuple[str, Any]] | None:
    chain = [(kind, entity)]
    for relation in path:
        nxt = _related(world, chain[-1][0], chain[-1][1], relation)
        if nxt is None:
            return None
        chain.append(nxt)
    return chain


def _find(world: World, start: Mapping[str, Any]) -> list[Any]:
    kind, where = start["kind"], start["where"]
    return [e for e in _entities(world, kind) if all(_field(world, kind, e, k) == v for k, v in where.items())]


class EntityFinder:
    """Answers ``where`` lookups through dictionaries built once per set of ``where`` keys (same result as a scan)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._indexes: dict[tuple[str, tuple[str, ...]], dict[tuple[Any, ...], list[Any]]] = {}

    def __call__(self, world: World, start: Mapping[str, Any]) -> list[Any]:
        kind, where = start["kind"], start["where"]
        keys = tuple(sorted(where))
        index = self._indexes.get((kind, keys))
        if index is None:
            index = {}
            for e in _entities(self.world, kind):
                index.setdefault(tuple(_field(self.world, kind, e, k) for k in keys), []).append(e)
            self._indexes[(kind, keys)] = index
        return index.get(tuple(where[k] for k in keys), [])


def resolve_spec(
    world: World, spec: Mapping[str, Any], finder: Callable[[World, Mapping[str, Any]], list[Any]] | None = None
) -> tuple[list[str], list[str]]:
    """Evaluate a spec: ``(gold answers, support entity keys)``. By default starts are found by scanning the world.

    Raises ``ValueError`` if a start matches no entity or several (the question would be ambiguous), if a relation
    is missing, or if a comparison ties.
    """

    find = finder or _find

    def unique(start: Mapping[str, Any]) -> Any:
        found = find(world, start)
        if len(found) != 1:
            raise ValueError(f"{len(found)} {start['kind']} entities satisfy {dict(start['where'])}")
        return found[0]

    if "compare" in spec:
        attr = spec["attr"]
        pair = [(s["kind"], unique(s)) for s in spec["compare"]]
        values = [getattr(e, attr) for _, e in pair]
        if values[0] == values[1]:
            raise ValueError(f"comparison ties on {attr}")
        pick = min if spec["pick"] == "min" else max
        kind, winner = pair[values.index(pick(values))]
        return answers_for(world, kind, winner, "name"), [f"{k}:{e.id}" for k, e in pair]
    kind = spec["start"]["kind"]
    chain = _follow(world, kind, unique(spec["start"]), list(spec["path"]))
    if chain is None:
        raise ValueError(f"relation path {spec['path']} is broken")
    return answers_for(world, chain[-1][0], chain[-1][1], spec["attr"]), support_entities(chain, spec["attr"])


def support_entities(chain: list[tuple[str, Any]], attr: str) -> list[str]:
    """Entities whose main passage must be read: the last one's name is already written in the one before it."""
    read = chain[:-1] if attr == "name" and len(chain) > 1 else chain
    return [f"{k}:{e.id}" for k, e in read]


# ---- question makers --------------------------------------------------------------------------------------------
Made = tuple[str, dict[str, Any]]


class QuestionMaker:
    """Draws questions of each family from a world (see :meth:`make`)."""

    def __init__(self, world: World) -> None:
        self.world = world
        people = world.people
        self._by_pro_city_employer = Counter((p.profession, p.birthplace, p.employer) for p in people)
        self._by_pro_city_year = Counter((p.profession, p.birthplace, p.birth_year) for p in people)
        pro_city = Counter((p.profession, p.birthplace) for p in people)
        # Targets of descriptive questions: people with a near-miss (same profession and birthplace).
        self._crowded = [p for p in people if pro_city[(p.profession, p.birthplace)] > 1]
        self._org_desc = Counter((o.industry, o.hq, o.founded) for o in world.organisations)
        self._work_desc = Counter((w.kind, w.year, w.publisher) for w in world.works)
        self._by_last_profession = Counter((p.last, p.profession) for p in people)
        self._surname: dict[str, list[int]] = {}
        for p in people:
            self._surname.setdefault(p.last, []).append(p.id)
        self._makers: dict[str, list[Callable[[random.Random], Made | None]]] = {
            "single_hop": [
                self._person_year,
                self._person_birthplace,
                self._person_employer,
                self._org_founder,
                self._org_founded,
                self._org_hq,
                self._city_country,
                self._city_population,
                self._country_capital,
                self._work_creator,
                self._work_year,
                self._work_publisher,
                self._desc_person_year,
                self._desc_person_year,
                self._desc_person_year,
                self._desc_person_employer,
                self._desc_person_employer,
                self._desc_person_employer,
                self._desc_org_founder,
                self._desc_work_creator,
                self._surname_year,
                self._surname_year,
                self._surname_birthplace,
                self._surname_birthplace,
            ],
            "bridge": [
                self._founder_birthplace,
                self._founder_year,
                self._creator_year,
                self._creator_birthplace,
                self._publisher_founder,
                self._org_country,
                self._employer_founded,
                self._person_country,
            ],
            "comparison": [self._cmp_people, self._cmp_people, self._cmp_orgs, self._cmp_cities, self._cmp_works],
            "three_hop": [
                self._founder_country,
                self._creator_country,
                self._creator_employer_founded,
                self._publisher_founder_year,
                self._employer_country,
            ],
            "paraphrase": [
                self._para_person_year,
                self._para_org_founder,
                self._para_org_hq,
                self._para_work_creator,
                self._para_founder_birthplace,
                self._para_creator_year,
                self._para_city_country,
                self._para_org_founded,
            ],
        }

    def make(self, family: str, rng: random.Random) -> tuple[str, dict[str, Any], str] | None:
        """A question of ``family``: ``(text, spec, template name)``, or ``None`` when the draw was unusable."""
        maker = rng.choice(self._makers[family])
        made = maker(rng)
        return None if made is None else (*made, maker.__name__.lstrip("_"))

    # ---- references ---------------------------------------------------------------------------------------------
    def _person(self, rng: random.Random) -> Any:
        return self.world.people[rng.randrange(len(self.world.people))]

    def _org(self, rng: random.Random) -> Any:
        return self.world.organisations[rng.randrange(len(self.world.organisations))]

    def _work(self, rng: random.Random) -> Any:
        return self.world.works[rng.randrange(len(self.world.works))]

    def _city(self, rng: random.Random) -> Any:
        return self.world.cities[rng.randrange(len(self.world.cities))]

    @staticmethod
    def _pref(p: Any) -> tuple[str, dict[str, Any]]:
        """How a question names a person: namesakes get their profession."""
        if p.namesake:
            where = {"name": p.name, "profession": p.profession}
            return f"the {p.profession} {p.name}", {"kind": "person", "where": where}
        return p.name, {"kind": "person", "where": {"name": p.name}}

    @staticmethod
    def _wref(w: Any) -> tuple[str, dict[str, Any]]:
        return f"the {w.kind} {w.title}", {"kind": "work", "where": {"name": w.title, "kind": w.kind}}

    @staticmethod
    def _named(kind: str, name: str) -> dict[str, Any]:
        return {"kind": kind, "where": {"name": name}}

    @staticmethod
    def _spec(start: dict[str, Any], path: list[str], attr: str) -> dict[str, Any]:
        return {"start": start, "path": path, "attr": attr}

    # ---- single hop: named ----------------------------------------------------------------------------------------
    def _person_year(self, rng: random.Random) -> Made | None:
        ref, start = self._pref(self._person(rng))
        q = rng.choice(("In what year was {} born?", "When was {} born?"))
        return q.format(ref), self._spec(start, [], "birth_year")

    def _person_birthplace(self, rng: random.Random) -> Made | None:
        ref, start = self._pref(self._person(rng))
        q = rng.choice(("Where was {} born?", "In which city was {} born?"))
        return q.format(ref), self._spec(start, ["birthplace"], "name")

    def _person_employer(self, rng: random.Random) -> Made | None:
        p = self._person(rng)
        if p.employer < 0:
            return None
        ref, start = self._pref(p)
        return f"Which organisation did {ref} work for?", self._spec(start, ["employer"], "name")

    def _org_founder(self, rng: random.Random) -> Made | None:
        o = self._org(rng)
        return f"Who founded {o.name}?", self._spec(self._named("organisation", o.name), ["founder"], "name")

    def _org_founded(self, rng: random.Random) -> Made | None:
        o = self._org(rng)
        return f"In what year was {o.name} founded?", self._spec(self._named("organisation", o.name), [], "founded")

    def _org_hq(self, rng: random.Random) -> Made | None:
        o = self._org(rng)
        q = f"In which city is {o.name} headquartered?"
        return q, self._spec(self._named("organisation", o.name), ["hq"], "name")

    def _city_country(self, rng: random.Random) -> Made | None:
        c = self._city(rng)
        return f"In which country is {c.name} located?", self._spec(self._named("city", c.name), ["country"], "name")

    def _city_population(self, rng: random.Random) -> Made | None:
        c = self._city(rng)
        return f"What is the population of {c.name}?", self._spec(self._named("city", c.name), [], "population")

    def _country_capital(self, rng: random.Random) -> Made | None:
        c = self.world.countries[rng.randrange(len(self.world.countries))]
        return f"What is the capital of {c.name}?", self._spec(self._named("country", c.name), ["capital"], "name")

    def _work_creator(self, rng: random.Random) -> Made | None:
        w = self._work(rng)
        ref, start = self._wref(w)
        return f"Who {WORK_VERBS[w.kind][1]} {ref}?", self._spec(start, ["creator"], "name")

    def _work_year(self, rng: random.Random) -> Made | None:
        w = self._work(rng)
        ref, start = self._wref(w)
        return f"In what year was {ref} {WORK_RELEASE[w.kind]}?", self._spec(start, [], "year")

    def _work_publisher(self, rng: random.Random) -> Made | None:
        w = self._work(rng)
        ref, start = self._wref(w)
        return f"Which company {WORK_PUBLISHED[w.kind]} {ref}?", self._spec(start, ["publisher"], "name")

    # ---- single hop: descriptive (the entity is not named) ---------------------------------------------------------
    def _crowded_person(self, rng: random.Random) -> Any:
        pool = self._crowded or self.world.people
        return pool[rng.randrange(len(pool))]

    def _desc_person_year(self, rng: random.Random) -> Made | None:
        p = self._crowded_person(rng)
        if p.employer < 0 or self._by_pro_city_employer[(p.profession, p.birthplace, p.employer)] != 1:
            return None
        city, org = self.world.cities[p.birthplace].name, self.world.organisations[p.employer].name
        where = {"profession": p.profession, "birthplace": city, "employer": org}
        q = f"In what year was the {DESCRIPTIONS[p.profession]} from {city} who was on the staff of {org} born?"
        return q, self._spec({"kind": "person", "where": where}, [], "birth_year")

    def _desc_person_employer(self, rng: random.Random) -> Made | None:
        p = self._crowded_person(rng)
        if p.employer < 0 or self._by_pro_city_year[(p.profession, p.birthplace, p.birth_year)] != 1:
            return None
        city = self.world.cities[p.birthplace].name
        where = {"profession": p.profession, "birthplace": city, "birth_year": p.birth_year}
        who = DESCRIPTIONS[p.profession]
        q = f"Which organisation employed the {city}-born {who} whose birth year is {p.birth_year}?"
        return q, self._spec({"kind": "person", "where": where}, ["employer"], "name")

    def _desc_org_founder(self, rng: random.Random) -> Made | None:
        o = self._org(rng)
        if self._org_desc[(o.industry, o.hq, o.founded)] != 1:
            return None
        city = self.world.cities[o.hq].name
        where = {"industry": o.industry, "hq": city, "founded": o.founded}
        q = f"Who founded the {o.industry} company that is headquartered in {city} and was established in {o.founded}?"
        return q, self._spec({"kind": "organisation", "where": where}, ["founder"], "name")

    def _desc_work_creator(self, rng: random.Random) -> Made | None:
        w = self._work(rng)
        if self._work_desc[(w.kind, w.year, w.publisher)] != 1:
            return None
        org = self.world.organisations[w.publisher].name
        where = {"kind": w.kind, "year": w.year, "publisher": org}
        q = f"Who {WORK_VERBS[w.kind][1]} the {w.kind} from {w.year} that was {WORK_PUBLISHED[w.kind]} by {org}?"
        return q, self._spec({"kind": "work", "where": where}, ["creator"], "name")

    def _surname_person(self, rng: random.Random) -> Any:
        p = self._person(rng)
        return p if self._by_last_profession[(p.last, p.profession)] == 1 and not p.namesake else None

    def _surname_year(self, rng: random.Random) -> Made | None:
        p = self._surname_person(rng)
        if p is None:
            return None
        where = {"last": p.last, "profession": p.profession}
        q = f"When was the {p.profession} {p.last} born?"
        return q, self._spec({"kind": "person", "where": where}, [], "birth_year")

    def _surname_birthplace(self, rng: random.Random) -> Made | None:
        p = self._surname_person(rng)
        if p is None:
            return None
        where = {"last": p.last, "profession": p.profession}
        q = f"In which city was the {p.profession} {p.last} born?"
        return q, self._spec({"kind": "person", "where": where}, ["birthplace"], "name")

    # ---- bridge ---------------------------------------------------------------------------------------------------
    def _founder_birthplace(self, rng: random.Random) -> Made | None:
        o = self._org(rng)
        q = f"In which city was the founder of {o.name} born?"
        return q, self._spec(self._named("organisation", o.name), ["founder", "birthplace"], "name")

    def _founder_year(self, rng: random.Random) -> Made | None:
        o = self._org(rng)
        q = f"In what year was the founder of {o.name} born?"
        return q, self._spec(self._named("organisation", o.name), ["founder"], "birth_year")

    def _creator_year(self, rng: random.Random) -> Made | None:
        w = self._work(rng)
        ref, start = self._wref(w)
        q = f"In what year was the {WORK_VERBS[w.kind][2]} of {ref} born?"
        return q, self._spec(start, ["creator"], "birth_year")

    def _creator_birthplace(self, rng: random.Random) -> Made | None:
        w = self._work(rng)
        ref, start = self._wref(w)
        q = f"Where was the {WORK_VERBS[w.kind][2]} of {ref} born?"
        return q, self._spec(start, ["creator", "birthplace"], "name")

    def _publisher_founder(self, rng: random.Random) -> Made | None:
        w = self._work(rng)
        ref, start = self._wref(w)
        q = f"Who founded the company that {WORK_PUBLISHED[w.kind]} {ref}?"
        return q, self._spec(start, ["publisher", "founder"], "name")

    def _org_country(self, rng: random.Random) -> Made | None:
        o = self._org(rng)
        q = f"In which country is {o.name} headquartered?"
        return q, self._spec(self._named("organisation", o.name), ["hq", "country"], "name")

    def _employer_founded(self, rng: random.Random) -> Made | None:
        p = self._person(rng)
        if p.employer < 0:
            return None
        ref, start = self._pref(p)
        q = f"In what year was the organisation that {ref} worked for founded?"
        return q, self._spec(start, ["employer"], "founded")

    def _person_country(self, rng: random.Random) -> Made | None:
        ref, start = self._pref(self._person(rng))
        return f"In which country was {ref} born?", self._spec(start, ["birthplace", "country"], "name")

    # ---- comparison -----------------------------------------------------------------------------------------------
    def _cmp_people(self, rng: random.Random) -> Made | None:
        a = self._person(rng)
        # Prefer a partner with the same surname: a shared-surname distractor in the same question.
        namesakes = self._surname[a.last]
        b = self.world.people[namesakes[rng.randrange(len(namesakes))]] if rng.random() < 0.7 else self._person(rng)
        if a.id == b.id or a.birth_year == b.birth_year or a.name == b.name:
            return None
        (ra, sa), (rb, sb) = self._pref(a), self._pref(b)
        q = rng.choice(("Who was born earlier, {} or {}?", "Who was born first, {} or {}?")).format(ra, rb)
        return q, {"compare": [sa, sb], "attr": "birth_year", "pick": "min"}

    def _cmp_orgs(self, rng: random.Random) -> Made | None:
        a, b = self._org(rng), self._org(rng)
        if a.id == b.id or a.founded == b.founded:
            return None
        q = f"Which was founded first, {a.name} or {b.name}?"
        spec = {"compare": [self._named("organisation", a.name), self._named("organisation", b.name)]}
        return q, {**spec, "attr": "founded", "pick": "min"}

    def _cmp_cities(self, rng: random.Random) -> Made | None:
        a, b = self._city(rng), self._city(rng)
        if a.id == b.id or a.population == b.population:
            return None
        q = f"Which city has the larger population, {a.name} or {b.name}?"
        spec = {"compare": [self._named("city", a.name), self._named("city", b.name)]}
        return q, {**spec, "attr": "population", "pick": "max"}

    def _cmp_works(self, rng: random.Random) -> Made | None:
        a, b = self._work(rng), self._work(rng)
        if a.id == b.id or a.year == b.year or a.title == b.title:
            return None
        (ra, sa), (rb, sb) = self._wref(a), self._wref(b)
        return f"Which came out first, {ra} or {rb}?", {"compare": [sa, sb], "attr": "year", "pick": "min"}

    # ---- three hop ------------------------------------------------------------------------------------------------
    def _founder_country(self, rng: random.Random) -> Made | None:
        o = self._org(rng)
        q = f"In which country was the founder of {o.name} born?"
        return q, self._spec(self._named("organisation", o.name), ["founder", "birthplace", "country"], "name")

    def _creator_country(self, rng: random.Random) -> Made | None:
        w = self._work(rng)
        ref, start = self._wref(w)
        q = f"In which country was the {WORK_VERBS[w.kind][2]} of {ref} born?"
        return q, self._spec(start, ["creator", "birthplace", "country"], "name")

    def _creator_employer_founded(self, rng: random.Random) -> Made | None:
        w = self._work(rng)
        if self.world.people[w.creator].employer < 0:
            return None
        ref, start = self._wref(w)
        q = f"In what year was the organisation that employed the {WORK_VERBS[w.kind][2]} of {ref} founded?"
        return q, self._spec(start, ["creator", "employer"], "founded")

    def _publisher_founder_year(self, rng: random.Random) -> Made | None:
        w = self._work(rng)
        ref, start = self._wref(w)
        q = f"In what year was the founder of the company that {WORK_PUBLISHED[w.kind]} {ref} born?"
        return q, self._spec(start, ["publisher", "founder"], "birth_year")

    def _employer_country(self, rng: random.Random) -> Made | None:
        p = self._person(rng)
        if p.employer < 0:
            return None
        ref, start = self._pref(p)
        q = f"In which country is the organisation that {ref} worked for headquartered?"
        return q, self._spec(start, ["employer", "hq", "country"], "name")

    # ---- paraphrase: templates never used for training -------------------------------------------------------------
    def _para_person_year(self, rng: random.Random) -> Made | None:
        ref, start = self._pref(self._person(rng))
        return f"Give the birth year of {ref}.", self._spec(start, [], "birth_year")

    def _para_org_founder(self, rng: random.Random) -> Made | None:
        o = self._org(rng)
        q = f"Name the person who established {o.name}."
        return q, self._spec(self._named("organisation", o.name), ["founder"], "name")

    def _para_org_hq(self, rng: random.Random) -> Made | None:
        o = self._org(rng)
        q = f"{o.name} has its headquarters in what city?"
        return q, self._spec(self._named("organisation", o.name), ["hq"], "name")

    def _para_work_creator(self, rng: random.Random) -> Made | None:
        w = self._work(rng)
        ref, start = self._wref(w)
        return f"Name the {WORK_VERBS[w.kind][2]} of {ref}.", self._spec(start, ["creator"], "name")

    def _para_founder_birthplace(self, rng: random.Random) -> Made | None:
        o = self._org(rng)
        q = f"The person who established {o.name} came from which city?"
        return q, self._spec(self._named("organisation", o.name), ["founder", "birthplace"], "name")

    def _para_creator_year(self, rng: random.Random) -> Made | None:
        w = self._work(rng)
        ref, start = self._wref(w)
        q = f"Tell me the birth year of whoever {WORK_VERBS[w.kind][1]} {ref}."
        return q, self._spec(start, ["creator"], "birth_year")

    def _para_city_country(self, rng: random.Random) -> Made | None:
        c = self._city(rng)
        return f"{c.name} lies in which country?", self._spec(self._named("city", c.name), ["country"], "name")

    def _para_org_founded(self, rng: random.Random) -> Made | None:
        o = self._org(rng)
        return f"When did {o.name} come into being?", self._spec(self._named("organisation", o.name), [], "founded")
