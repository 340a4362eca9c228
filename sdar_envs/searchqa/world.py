# ruff: noqa: SIM905  (word lists are written as one string each)
"""The fictional world behind the generated Search-QA corpus: countries, cities, people, organisations and works.

Every name is built from invented syllables, so no answer can come from a language model's pretraining. The world
is drawn from one ``random.Random(seed)`` and only ever iterated in list order, so the same seed gives the same world
on every machine and Python hash seed.

Hard distractors are planted on purpose:

* **shared surnames** - a small surname pool, so every surname names dozens of people, and organisations are named
  after their founder's surname (``Varro Mills``);
* **namesakes** - pairs of people with the same full name and different professions; their passage titles carry the
  profession (``Alden Varro (painter)`` / ``Alden Varro (engineer)``), as Wikipedia disambiguates;
* **near-duplicate titles** - cities ``Tarsk`` / ``Port Tarsk`` / ``New Tarsk``, a novel and a film of the same title;
* **twins** - people who share profession and birthplace with another person and differ in employer and birth year,
  so descriptive questions that do not name the entity have a near-miss candidate.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from dataclasses import dataclass, field

__all__ = ["City", "Country", "Organisation", "Person", "Work", "World", "build_world"]

_FIRST_ONSETS = (
    "Al Ber Cal Dar El Fen Gar Hal Is Jor Kel Lor Mar Nor Or Per Quin Ros Sel Tor Ul Var Wil Yar Zel Bram Cor Dov "
    "Eir Fal Ged Hew Ivo Jas Lis Mev Nai Ode Pim Rhu Sav Tam Ves"
).split()
_FIRST_ENDS = "den ric ina wen ald ette mir os an ia el ore ius a o yn".split()
_SUR_ONSETS = (
    "Var Tel Mor Quen Bras Dov Hal Kest Lun Orv Pell Rask Sund Thal Vey Wyn Zor Ash Brun Cor Dras Elm Fenn Grav "
    "Hask Ilv Jurn Kav Lorn Mast Nev Ost Prell Rov Sarn Tov Ulv Wend Yell Zan"
).split()
_SUR_ENDS = "ro an el is en ar ow ick ley ton ford by wick mont gard ius".split()
_CITY_ONSETS = (
    "Tar Vel Ost Brim Cael Dun Esk Fal Grev Hol Ivr Jask Kor Lyr Mav Nes Orr Pryn Quar Rhe Sol Tev Umb Vask Wen "
    "Yss Zar Ald Bel Crom Dra Eld Fors Gil Harn"
).split()
_CITY_ENDS = "mere hold vik dor sk ford burg stead holm wick gate haven ton ora ane is".split()
_CITY_PREFIXES = ("Port", "New", "Upper", "East", "Old")
_COUNTRY_STEMS = (
    "Velmor Ostrand Caldan Brevon Tessar Marvel Quorin Sylvan Drakon Elvar Fenmar Gorvad Harrow Istrel Jovan Kalmir "
    "Lorrad Myrden Norvas Orvel Pallant Rhodan Savron Taldor Umbrel Varsk Westmar Yorvan Zethar Arkell Belvard "
    "Corvath Dunmar Essar Farrow Galdin Hesper Irvad Korval Luthen Merrow Nesk Ombar Prellan Qarth Ruvan"
).split()
_COUNTRY_ENDS = ("ia", "y", "ia", "and", "ia", "a", "ia", "ith")
_COUNTRY_FORMS = ("Republic", "Kingdom", "Federation", "Commonwealth", "Principality", "Union")
_REGIONS = (
    "the northern continent of Arvel",
    "the southern continent of Mereth",
    "the eastern isles of Korrin",
    "the western reaches of Tallow",
    "the central plains of Ysgard",
)
_CURRENCIES = "crown mark talen florin sol dram piast lira ducat real".split()
_RIVERS = "Oun Sevra Talm Iskel Brenn Vodra Calle Mirr Essa Dorn Amber Lusk Pell Rhane Tiva".split()
_LANDMARKS = (
    "clock tower",
    "salt market",
    "glass cathedral",
    "old harbour",
    "stone bridge",
    "botanical garden",
    "observatory",
    "opera house",
    "lighthouse",
    "winter palace",
)
PROFESSIONS: tuple[str, ...] = (
    "painter",
    "engineer",
    "botanist",
    "novelist",
    "architect",
    "composer",
    "physician",
    "cartographer",
    "astronomer",
    "sculptor",
    "economist",
    "chemist",
    "poet",
    "historian",
    "mathematician",
    "diplomat",
    "film director",
    "photographer",
    "linguist",
    "playwright",
)
_HONORIFICS = ("Dr.", "Sir", "Dame", "Professor")
_AWARDS = ("Orvel Medal", "Silver Quill", "Harrow Prize", "Golden Compass", "Tessar Award", "Lantern Prize")
INDUSTRIES: tuple[str, ...] = (
    "shipbuilding",
    "textile",
    "railway",
    "brewing",
    "mining",
    "banking",
    "insurance",
    "glassmaking",
    "publishing",
    "film",
    "music recording",
    "chemical",
)
_PUBLISHING = {"novel": "publishing", "play": "publishing", "film": "film", "album": "music recording"}
_ORG_PATTERNS = ("{s} Industries", "{s} Works", "{s} & Sons", "{s} Mills", "{s} Holdings", "{s} Company")
_ORG_MEDIA = {"publishing": "{s} Press", "film": "{s} Studios", "music recording": "{s} Records"}
_ORG_SUFFIXES = ("Ltd", "Group", "Corporation")
#: Work kind -> professions that create it.
WORK_CREATORS: dict[str, tuple[str, ...]] = {
    "novel": ("novelist", "poet", "historian"),
    "play": ("playwright", "poet"),
    "film": ("film director",),
    "album": ("composer",),
}
_TITLE_ADJ = (
    "Silent Quiet Hollow Amber Broken Hidden Last Distant Golden Pale Burning Northern Winter Crimson Lonely "
    "Forgotten Endless Bitter Restless Silver Narrow Wandering Sleeping Drowned Scarlet"
).split()
_TITLE_NOUN = (
    "River Harbour Orchard Lantern Mirror Garden Tower Bridge Kingdom Meadow Season Voyage Archive Shore Compass "
    "Window Forest Letter Mountain Station Island Clockmaker Cartographer Orchestra Lighthouse"
).split()
_GENRES = {
    "novel": ("historical", "mystery", "adventure", "satirical", "romance"),
    "play": ("tragic", "comic", "historical"),
    "film": ("drama", "thriller", "documentary", "comedy"),
    "album": ("folk", "orchestral", "jazz", "choral"),
}


@dataclass
class Country:
    id: int
    name: str
    official_name: str
    region: str
    currency: str
    independence: int
    capital: int = -1  # city id


@dataclass
class City:
    id: int
    name: str
    country: int
    river: str
    founded: int
    population: int
    landmark: str
    sister: int = -1


@dataclass
class Person:
    id: int
    first: str
    last: str
    profession: str
    birth_year: int
    birthplace: int
    middle: str = ""  # middle initial, e.g. "M."
    honorific: str = ""
    employer: int = -1  # organisation id, -1 for none
    moved_to: int = -1
    moved_year: int = 0
    award: str = ""
    award_year: int = 0
    namesake: bool = False  # another person has the same full name

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"

    @property
    def title(self) -> str:
        """Passage title; namesakes are disambiguated by profession, as encyclopedias do."""
        return f"{self.name} ({self.profession})" if self.namesake else self.name

    @property
    def full_name(self) -> str:
        """The name as the person's own passage writes it (honorific and middle initial included)."""
        parts = [self.honorific, self.first, self.middle, self.last]
        return " ".join(p for p in parts if p)


@dataclass
class Organisation:
    id: int
    name: str
    industry: str
    founder: int
    founded: int
    hq: int
    suffix: str = ""
    branch: int = -1
    branch_year: int = 0
    staff: int = 0


@dataclass
class Work:
    id: int
    title: str
    kind: str
    creator: int
    year: int
    publisher: int
    genre: str
    duplicate_title: bool = False  # another work has the same title

    @property
    def passage_title(self) -> str:
        return f"{self.title} ({self.kind})" if self.duplicate_title else self.title


@dataclass
class World:
    countries: list[Country] = field(default_factory=list)
    cities: list[City] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    organisations: list[Organisation] = field(default_factory=list)
    works: list[Work] = field(default_factory=list)


def _unique_names(rng: random.Random, candidates: list[str], count: int) -> list[str]:
    if count > len(candidates):
        raise ValueError(f"asked for {count} names but only {len(candidates)} can be made")
    return rng.sample(candidates, count)


def _sizes(num_passages: int) -> dict[str, int]:
    """Entity counts whose passages add up to about ``num_passages`` (see corpus.py for passages per entity)."""
    countries = max(8, min(48, num_passages // 1250))
    cities = max(40, num_passages // 40)
    # people ~2.8 passages, organisations (people/5) 2, works (people/2.5) ~1.5  => ~3.8 passages per person
    people = max(120, int((num_passages - 2 * countries - 2 * cities) / 3.8))
    return {
        "countries": countries,
        "cities": cities,
        "people": people,
        "organisations": max(24, people // 5),
        "works": max(48, int(people / 2.5)),
    }


def build_world(seed: int, num_passages: int) -> World:
    """Draw a world whose corpus has about ``num_passages`` passages; deterministic in ``seed``."""
    rng = random.Random(f"sdar-searchqa-world-{seed}")
    sizes = _sizes(num_passages)
    world = World()

    # ---- countries ----------------------------------------------------------------------------------------------
    stems = _unique_names(rng, _COUNTRY_STEMS, sizes["countries"])
    for i, stem in enumerate(stems):
        name = stem + _COUNTRY_ENDS[i % len(_COUNTRY_ENDS)]
        form = rng.choice(_COUNTRY_FORMS)
        world.countries.append(
            Country(
                id=i,
                name=name,
                official_name=f"{form} of {name}",
                region=rng.choice(_REGIONS),
                currency=rng.choice(_CURRENCIES),
                independence=rng.randint(1650, 1950),
            )
        )

    # ---- cities: base names plus near-duplicates ("Port Tarsk") ---------------------------------------------------
    base = [a + b for a in _CITY_ONSETS for b in _CITY_ENDS]
    n_base = min(len(base), max(sizes["cities"] * 2 // 3, 1))
    base_names = _unique_names(rng, base, n_base)
    names = list(base_names)
    prefixed = [f"{p} {b}" for b in base_names for p in _CITY_PREFIXES]
    names += _unique_names(rng, prefixed, min(len(prefixed), sizes["cities"] - len(names)))
    rng.shuffle(names)
    n_countries = len(world.countries)
    for i, name in enumerate(names):
        country = i if i < n_countries else rng.randrange(n_countries)  # every country gets a city
        world.cities.append(
            City(
                id=i,
                name=name,
                country=country,
                river=rng.choice(_RIVERS),
                founded=rng.randint(900, 1800),
                population=rng.randint(12_000, 4_800_000),
                landmark=rng.choice(_LANDMARKS),
            )
        )
    for country in world.countries:
        country.capital = country.id  # city i < n_countries lies in country i
    for city in world.cities:
        city.sister = rng.randrange(len(world.cities))
        if city.sister == city.id:
            city.sister = (city.id + 1) % len(world.cities)

    # ---- people -------------------------------------------------------------------------------------------------
    firsts = [a + b for a in _FIRST_ONSETS for b in _FIRST_ENDS]
    surnames = [a + b for a in _SUR_ONSETS for b in _SUR_ENDS]
    # A small surname pool: each surname is shared by ~25 people.
    surnames = _unique_names(rng, surnames, min(len(surnames), max(8, sizes["people"] // 25)))
    n_people = sizes["people"]
    used: set[str] = set()
    n_cities = len(world.cities)
    while len(world.people) < n_people:
        pid = len(world.people)
        roll = rng.random()
        if roll < 0.04 and world.people:  # namesake: same full name, another profession
            other = world.people[rng.randrange(len(world.people))]
            if other.namesake:
                continue
            profession = rng.choice([p for p in PROFESSIONS if p != other.profession])
            person = Person(pid, other.first, other.last, profession, rng.randint(1780, 1960), rng.randrange(n_cities))
            other.namesake = person.namesake = True
        elif roll < 0.12 and world.people:  # twin: same profession and birthplace, other year and employer
            other = world.people[rng.randrange(len(world.people))]
            first, last = rng.choice(firsts), rng.choice(surnames)
            if f"{first} {last}" in used:
                continue
            year = other.birth_year + rng.choice((-1, 1)) * rng.randint(2, 30)
            person = Person(pid, first, last, other.profession, year, other.birthplace)
        else:
            first, last = rng.choice(firsts), rng.choice(surnames)
            if f"{first} {last}" in used:
                continue
            person = Person(pid, first, last, rng.choice(PROFESSIONS), rng.randint(1780, 1960), rng.randrange(n_cities))
        used.add(person.name)
        if rng.random() < 0.25:
            person.middle = rng.choice("ABCDEFGHJKLMNPRSTW") + "."
        if rng.random() < 0.15:
            person.honorific = rng.choice(_HONORIFICS)
        person.moved_to = rng.randrange(n_cities)
        if person.moved_to == person.birthplace:
            person.moved_to = (person.moved_to + 1) % n_cities
        person.moved_year = person.birth_year + rng.randint(18, 40)
        if rng.random() < 0.3:
            person.award = rng.choice(_AWARDS)
            person.award_year = person.birth_year + rng.randint(25, 60)
        world.people.append(person)

    # ---- organisations: founders are people; names often carry the founder's surname -----------------------------
    n_orgs = sizes["organisations"]
    org_names: set[str] = set()
    media = list(_ORG_MEDIA)
    while len(world.organisations) < n_orgs:
        oid = len(world.organisations)
        founder = world.people[rng.randrange(n_people)]
        # Every fourth organisation is a publisher, studio or label (works need them).
        industry = media[oid // 4 % len(media)] if oid % 4 == 0 else rng.choice(INDUSTRIES)
        pattern = _ORG_MEDIA.get(industry) if rng.random() < 0.7 else None
        pattern = pattern or rng.choice(_ORG_PATTERNS)
        stem = founder.last if rng.random() < 0.7 else world.cities[rng.randrange(n_cities)].name
        name = pattern.format(s=stem)
        if name in org_names:
            continue
        org_names.add(name)
        founded = founder.birth_year + rng.randint(22, 55)
        hq = rng.randrange(n_cities)
        branch = (hq + 1 + rng.randrange(n_cities - 1)) % n_cities
        world.organisations.append(
            Organisation(
                id=oid,
                name=name,
                industry=industry,
                founder=founder.id,
                founded=founded,
                hq=hq,
                suffix=rng.choice(_ORG_SUFFIXES) if rng.random() < 0.3 else "",
                branch=branch,
                branch_year=founded + rng.randint(5, 60),
                staff=rng.randint(40, 90_000),
            )
        )

    # ---- employers: an organisation founded before the person turned 45 -----------------------------------------
    by_founded = sorted(world.organisations, key=lambda o: (o.founded, o.id))
    founded_years = [o.founded for o in by_founded]
    for person in world.people:
        limit = bisect_right(founded_years, person.birth_year + 45)
        if limit and rng.random() < 0.85:
            org = by_founded[rng.randrange(limit)]
            if org.founder != person.id:
                person.employer = org.id

    # ---- works: created by people of a fitting profession, published by a fitting organisation --------------------
    by_profession: dict[str, list[Person]] = {p: [] for p in PROFESSIONS}
    for person in world.people:
        by_profession[person.profession].append(person)
    publishers: dict[str, list[Organisation]] = {ind: [] for ind in _ORG_MEDIA}
    for org in world.organisations:
        if org.industry in publishers:
            publishers[org.industry].append(org)
    kinds = list(WORK_CREATORS)
    short_titles = [f"The {a} {n}" for a in _TITLE_ADJ for n in _TITLE_NOUN]
    place_titles = [f"{n} of {c.name}" for n in _TITLE_NOUN for c in world.cities]
    seen_titles: dict[tuple[str, str], int] = {}
    title_count: dict[str, int] = {}
    attempts = 0
    while len(world.works) < sizes["works"]:
        attempts += 1
        if attempts > 50 * sizes["works"]:
            raise RuntimeError("work generation did not converge; the title pool is too small for this size")
        wid = len(world.works)
        kind = kinds[wid % len(kinds)]
        pool = by_profession[rng.choice(WORK_CREATORS[kind])]
        if not pool:
            continue
        creator = pool[rng.randrange(len(pool))]
        title = rng.choice(short_titles if rng.random() < 0.4 else place_titles)
        if (title, kind) in seen_titles or title_count.get(title, 0) >= 2:
            continue
        year = creator.birth_year + rng.randint(22, 60)
        media_pool = [o for o in publishers[_PUBLISHING[kind]] if o.founded <= year] or publishers[_PUBLISHING[kind]]
        if not media_pool:
            continue
        publisher = media_pool[rng.randrange(len(media_pool))]
        seen_titles[(title, kind)] = wid
        title_count[title] = title_count.get(title, 0) + 1
        world.works.append(Work(wid, title, kind, creator.id, year, publisher.id, rng.choice(_GENRES[kind])))
    for work in world.works:
        work.duplicate_title = title_count[work.title] > 1
    return world


#: Kind -> verb used in passages and questions ("written by", "Who wrote ...?").
WORK_VERBS: dict[str, tuple[str, str, str]] = {
    # kind: (passive verb, active verb, creator role)
    "novel": ("written by", "wrote", "author"),
    "play": ("written by", "wrote", "playwright"),
    "film": ("directed by", "directed", "director"),
    "album": ("recorded by", "recorded", "composer"),
}
#: Kind -> verb for the release year ("published in", "released in").
WORK_RELEASE: dict[str, str] = {"novel": "published", "play": "first staged", "film": "released", "album": "released"}
