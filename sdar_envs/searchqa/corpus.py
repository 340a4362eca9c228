"""Encyclopedia passages about a :class:`~sdar_envs.searchqa.world.World`, in the Search-R1 corpus format.

Each entity has a *main* passage holding every fact a question can ask about it, and one or two secondary passages
with the same title that hold near-miss facts (another city, other years), as the chunks of a Wikipedia article do.
A passage's ``contents`` is ``"\\"Title\\"\\ntext"`` (Search-R1's ``wiki-18`` layout: the quoted title on the first
line). Passage ids are the decimal strings ``"0"`` ... ``"N-1"`` in a seeded shuffled order, so an id says nothing
about the entity.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from sdar_envs.searchqa.world import WORK_RELEASE, WORK_VERBS, World

__all__ = ["WORK_PUBLISHED", "Passage", "build_passages", "entity_key"]

#: Kind -> how the work's organisation is named in passages and questions.
WORK_PUBLISHED: dict[str, str] = {"novel": "published", "play": "published", "film": "produced", "album": "released"}

_ACTIVITIES = (
    "opened a small studio near the {landmark}",
    "taught evening classes at the public library",
    "joined a circle of fellow {profession}s",
    "completed a long survey of the {river} valley",
    "lived above a bookshop close to the {landmark}",
    "spent a decade restoring an old house by the {river}",
)
_PARENT_OCCUPATIONS = ("clockmaker", "farmer", "sailor", "weaver", "miller", "schoolteacher", "printer", "carpenter")
_FILLERS = (
    "{last}'s early work drew on memories of the {landmark} in {city}.",
    "Contemporaries described {last} as patient, exacting and private.",
    "Several letters by {last} survive in the archive of {city}.",
    "{last} is remembered as one of the more original {profession}s of the period.",
    "Much of {last}'s correspondence was lost in a fire.",
)


@dataclass(frozen=True)
class Passage:
    """One corpus passage before ids are assigned. ``entity`` is ``(kind, id)``; ``main`` marks the fact passage."""

    entity: tuple[str, int]
    main: bool
    title: str
    text: str

    @property
    def contents(self) -> str:
        return f'"{self.title}"\n{self.text}'


def entity_key(kind: str, index: int) -> str:
    """The string key of an entity, e.g. ``"person:12"`` (used in question specs and support lists)."""
    return f"{kind}:{index}"


def _person_ref(world: World, pid: int) -> str:
    person = world.people[pid]
    return f"the {person.profession} {person.name}"


def build_passages(world: World, seed: int) -> list[Passage]:
    """All passages of ``world`` in entity order (main passage first per entity); deterministic in ``seed``."""
    rng = random.Random(f"sdar-searchqa-corpus-{seed}")
    out: list[Passage] = []
    cities, countries, orgs = world.cities, world.countries, world.organisations

    for c in countries:
        capital = cities[c.capital]
        out.append(
            Passage(
                ("country", c.id),
                True,
                c.name,
                f"{c.name}, officially the {c.official_name}, is a country in {c.region}. Its capital is "
                f"{capital.name}. The currency of {c.name} is the {c.currency}.",
            )
        )
        own = sorted((x for x in cities if x.country == c.id), key=lambda x: (-x.population, x.id))[:3]
        largest = ", ".join(x.name for x in own[:-1]) + (f" and {own[-1].name}" if len(own) > 1 else own[0].name)
        out.append(
            Passage(
                ("country", c.id),
                False,
                c.name,
                f"{c.name} became independent in {c.independence}. Its largest cities are {largest}. "
                f"Trade along the coast of {c.name} grew quickly in the following century.",
            )
        )

    for x in cities:
        country = countries[x.country]
        capital = f" It is the capital of {country.name}." if country.capital == x.id else ""
        form = rng.randrange(3)
        if form == 0:
            text = (
                f"{x.name} is a city in {country.name}, on the {x.river} river.{capital} Founded in {x.founded}, "
                f"it has a population of {x.population:,}."
            )
        elif form == 1:
            text = (
                f"{x.name} is a city of {country.name} with a population of {x.population:,}. It lies on the "
                f"{x.river} river and was founded in {x.founded}.{capital}"
            )
        else:
            text = (
                f"Founded in {x.founded} on the banks of the {x.river}, {x.name} is a city in {country.name}."
                f"{capital} Its population is {x.population:,}."
            )
        out.append(Passage(("city", x.id), True, x.name, text))
        out.append(
            Passage(
                ("city", x.id),
                False,
                x.name,
                f"{x.name} is known for its {x.landmark}. It is twinned with {cities[x.sister].name}, and its "
                f"markets draw traders from across {country.name}.",
            )
        )

    for p in world.people:
        city = cities[p.birthplace].name
        employer = orgs[p.employer].name if p.employer >= 0 else ""
        # Half of the forms avoid the word "born", so a question's wording does not always match its passage.
        form = rng.randrange(6)
        if form == 0:
            text = f"{p.full_name} (born {p.birth_year} in {city}) is a {p.profession}."
        elif form == 1:
            text = f"{p.full_name} is a {p.profession} who was born in {city} in {p.birth_year}."
        elif form == 2:
            text = f"Born in {city} in {p.birth_year}, {p.full_name} became a noted {p.profession}."
        elif form == 3:
            text = f"{p.full_name} (b. {p.birth_year}) is a {p.profession} and a native of {city}."
        elif form == 4:
            text = f"A native of {city}, {p.full_name} (b. {p.birth_year}) became a noted {p.profession}."
        else:
            text = f"{p.full_name} is a {p.profession}; {p.last}'s birthplace is {city} and birth year {p.birth_year}."
        if employer:
            text += rng.choice(
                (
                    f" {p.last} worked for {employer} for most of a long career.",
                    f" {p.last} was employed by {employer}.",
                    f" For many years {p.last} worked for {employer}.",
                )
            )
        else:
            text += f" {p.last} never held a permanent post."
        facts = {"last": p.last, "city": city, "landmark": cities[p.birthplace].landmark, "profession": p.profession}
        text += " " + rng.choice(_FILLERS).format(**facts)
        out.append(Passage(("person", p.id), True, p.title, text))

        moved = cities[p.moved_to]
        activity = rng.choice(_ACTIVITIES).format(landmark=moved.landmark, river=moved.river, profession=p.profession)
        out.append(
            Passage(
                ("person", p.id),
                False,
                p.title,
                f"In {p.moved_year}, {p.last} moved to {moved.name}, where {p.last} {activity}. Later {p.last} "
                f"travelled widely through {countries[moved.country].name}.",
            )
        )
        if rng.random() < 0.5:
            # A relative's birth: the word "born", the person's name, another city and another year - a near-miss
            # for "When/where was X born?" inside X's own article.
            relative = rng.choice(("father", "mother"))
            place = cities[rng.randrange(len(cities))].name
            settled = cities[rng.randrange(len(cities))].name
            out.append(
                Passage(
                    ("person", p.id),
                    False,
                    p.title,
                    f"{p.name}'s {relative}, a {rng.choice(_PARENT_OCCUPATIONS)}, was born in {place} in "
                    f"{p.birth_year - rng.randint(20, 40)}. The family later settled in {settled}.",
                )
            )
        if p.award:
            out.append(
                Passage(
                    ("person", p.id),
                    False,
                    p.title,
                    f"In {p.award_year}, {p.last} received the {p.award}, an honour given to few "
                    f"{p.profession}s of that generation.",
                )
            )

    for o in orgs:
        official = f" (officially {o.name} {o.suffix})" if o.suffix else ""
        kind = {"publishing": "publishing house", "film": "film studio", "music recording": "record label"}.get(
            o.industry, f"{o.industry} company"
        )
        hq = cities[o.hq].name
        founder = _person_ref(world, o.founder)
        if rng.randrange(2):
            text = f"{o.name}{official} is a {kind} founded in {o.founded} by {founder}. It is headquartered in {hq}."
        else:
            text = f"{o.name}{official} is a {kind} headquartered in {hq}. It was founded by {founder} in {o.founded}."
        out.append(Passage(("organisation", o.id), True, o.name, text))
        out.append(
            Passage(
                ("organisation", o.id),
                False,
                o.name,
                f"In {o.branch_year}, {o.name} opened an office in {cities[o.branch].name}. At its height it "
                f"employed {o.staff:,} people.",
            )
        )

    for w in world.works:
        passive = WORK_VERBS[w.kind][0]
        creator = _person_ref(world, w.creator)
        out.append(
            Passage(
                ("work", w.id),
                True,
                w.passage_title,
                f"{w.title} is a {w.year} {w.genre} {w.kind} {passive} {creator}. It was "
                f"{WORK_PUBLISHED[w.kind]} by {orgs[w.publisher].name}.",
            )
        )
        if rng.random() < 0.5:
            out.append(
                Passage(
                    ("work", w.id),
                    False,
                    w.passage_title,
                    f"{w.title} was {WORK_RELEASE[w.kind]} to mixed reviews; a revised version appeared in "
                    f"{w.year + rng.randint(3, 30)}.",
                )
            )
    return out
