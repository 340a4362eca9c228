"""The seeded WebShop catalog generator: products, goals and their instructions, in upstream's file schemas.

:func:`generate_catalog` returns the records of upstream's three files (see :mod:`sdar_envs.webshop.catalog` for
their schemas); :func:`ensure_generated` writes them once into the cache and :func:`load_generated` loads them with
the same loader as the official files. The vocabulary (categories, queries, product types, attributes, option axes,
price ranges) is :mod:`sdar_envs.webshop.taxonomy`.

Determinism: the same ``seed``, ``n_products`` and ``n_goals`` give byte-identical files (bump
:data:`GENERATOR_VERSION`, part of the cache path, whenever the output changes). A goal is kept only when buying its
target with the goal's options scores exactly 1.0 and at least :data:`MIN_DISTRACTORS` near distractors exist
(products that fail exactly one of: product type, one goal attribute, a needed option value, the price cap).
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sdar_envs.webshop.catalog import (
    DEFAULT_GOALS,
    DEFAULT_PRODUCTS,
    Catalog,
    default_cache_dir,
    goal_record,
    load_catalog,
    load_product,
    price_upper_for,
)
from sdar_envs.webshop.reward import webshop_reward
from sdar_envs.webshop.taxonomy import BRANDS, CATEGORY_ATTRIBUTES, FILLER_SENTENCES, QUERY_SPECS, QuerySpec

__all__ = [
    "GENERATOR_VERSION",
    "MIN_DISTRACTORS",
    "ensure_generated",
    "generate_catalog",
    "generated_dir",
    "load_generated",
]

#: Bump when the generator's output changes (it is part of the cache path).
GENERATOR_VERSION = 1
MIN_DISTRACTORS = 3
#: The upstream file names the generator writes, in the order :func:`generate_catalog` returns their records.
FILE_NAMES: tuple[str, ...] = ("items_shuffle.json", "items_ins_v2.json", "items_human_ins.json")

_ASIN_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

_INSTRUCTION_TEMPLATES: tuple[str, ...] = (
    "i need a {type} that is {attrs}",
    "i am looking for a {type} that is {attrs}",
    "find me a {type} which is {attrs}",
    "i want a {type} with {attrs}",
    "i'm looking for {attrs} {type}",
    "i'd like to buy a {type}, {attrs}",
    "can you find a {type} that has {attrs}",
    "get me a {type}: {attrs}",
    "search for a {type} featuring {attrs}",
    "i want to purchase a {type} that is {attrs}",
)
_OPTION_TEMPLATES: tuple[str, ...] = ("with {name} {value}", "in {value}", "{name}: {value}", "{value} {name}")
_BULLET_TEMPLATES: tuple[str, ...] = (
    "{Attr} - made to meet everyday needs.",
    "Features {attr} for a better experience.",
    "{Attr}: a detail our customers love.",
    "Designed with {attr} in mind.",
)
_DESCRIPTION_TEMPLATES: tuple[str, ...] = ("It offers {attr}.", "You also get {attr}.", "Built around {attr}.")


def _title_case(text: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in text.split())


def _join_attrs(attrs: Sequence[str]) -> str:
    if len(attrs) == 1:
        return attrs[0]
    return ", ".join(attrs[:-1]) + " and " + attrs[-1]


def _spec_pool(spec: QuerySpec) -> tuple[str, ...]:
    return spec.attributes + tuple(a for a in CATEGORY_ATTRIBUTES[spec.category] if a not in spec.attributes)


def _make_raw_product(
    rng: random.Random,
    asin: str,
    spec: QuerySpec,
    brand: str,
    type_: str,
    attrs: list[str],
    options: dict[str, list[str]],
    price: float,
) -> tuple[dict[str, Any], list[str]]:
    """A raw product (upstream schema) and its attribute list; some attributes show only in Features/Description."""
    n_title = rng.randint(0, max(0, len(attrs) - 1))  # never all attributes in the title
    title_attrs = attrs[:n_title]
    hidden = attrs[n_title:]
    title = f"{brand} {_title_case(type_)}"
    if title_attrs:
        title += ", " + ", ".join(_title_case(a) for a in title_attrs)
    if spec.specs and rng.random() < 0.6:
        title += " - " + rng.choice(spec.specs)
    in_bullets = [a for a in hidden if rng.random() < 0.6]
    in_description = [a for a in hidden if a not in in_bullets] + [a for a in title_attrs if rng.random() < 0.3]
    bullets = [
        rng.choice(_BULLET_TEMPLATES).format(attr=a, Attr=a[:1].upper() + a[1:]) for a in in_bullets + title_attrs
    ]
    bullets += [s.format(type=type_) for s in rng.sample(FILLER_SENTENCES, 2)]
    rng.shuffle(bullets)
    sentences = [f"{brand} {type_}."]
    sentences += [rng.choice(_DESCRIPTION_TEMPLATES).format(attr=a) for a in in_description]
    sentences += [s.format(type=type_) for s in rng.sample(FILLER_SENTENCES, 2)]
    raw = {
        "asin": asin,
        "name": title,
        "full_description": " ".join(sentences),
        "small_description": bullets,
        "pricing": f"${price:.2f}",
        "images": [],
        "customization_options": {n: [{"value": v, "image": None} for v in vs] for n, vs in options.items()},
        "category": spec.category,
        "query": spec.query,
        "product_category": " › ".join(spec.path),
    }
    return raw, list(attrs)


def _new_asin(rng: random.Random, used: set[str]) -> str:
    while True:
        asin = "B0" + "".join(rng.choice(_ASIN_CHARS) for _ in range(8))
        if asin not in used:
            used.add(asin)
            return asin


def _generate_products(rng: random.Random, n_products: int) -> tuple[list[dict], dict[str, list[str]]]:
    """Products in families: a base product and up to two near variants (one attribute swapped, an option value
    removed, or a higher price), so goals have distractors that differ from the target in one way."""
    raws: list[dict] = []
    attributes: dict[str, list[str]] = {}
    used: set[str] = set()
    i = 0
    while len(raws) < n_products:
        spec = QUERY_SPECS[i % len(QUERY_SPECS)]
        i += 1
        pool = _spec_pool(spec)
        brand = rng.choice(BRANDS)
        type_ = rng.choice(spec.types)
        attrs = rng.sample(pool, rng.randint(2, 4))
        options = {}
        for name, values in spec.options.items():
            k = rng.randint(max(1, len(values) - 2), len(values))
            chosen = set(rng.sample(values, k))
            options[name] = [v for v in values if v in chosen]
        lo, hi = spec.price
        price = round(rng.uniform(lo, hi), 2)
        family = [(brand, type_, attrs, options, price)]
        for _ in range(rng.choice((0, 1, 1, 2))):
            v_attrs, v_options, v_price = list(attrs), {k: list(v) for k, v in options.items()}, price
            kind = rng.choice(("attribute", "option", "price"))
            spare = [a for a in pool if a not in attrs]
            axes = [k for k, v in v_options.items() if len(v) > 1]
            if kind == "attribute" and spare:
                v_attrs[rng.randrange(len(v_attrs))] = rng.choice(spare)
            elif kind == "option" and axes:
                axis = rng.choice(axes)
                v_options[axis].pop(rng.randrange(len(v_options[axis])))
            else:
                v_price = round(price * rng.uniform(1.5, 2.5) + 10.0, 2)
            family.append((brand, type_, v_attrs, v_options, v_price))
        for f_brand, f_type, f_attrs, f_options, f_price in family:
            if len(raws) >= n_products:
                break
            raw, attrs_out = _make_raw_product(
                rng, _new_asin(rng, used), spec, f_brand, f_type, f_attrs, f_options, f_price
            )
            raws.append(raw)
            attributes[raw["asin"]] = attrs_out
    rng.shuffle(raws)
    return raws, attributes


def _best_options(product: Mapping[str, Any], goal_options: Sequence[str]) -> dict[str, str]:
    """The options an informed buyer would pick on ``product`` for ``goal_options`` (the goal value when offered)."""
    chosen = {}
    for name, values in product["options"].items():
        chosen[name] = next((v for v in values if v in goal_options), values[0])
    return chosen


def _near_distractor_kind(product: Mapping[str, Any], goal: Mapping[str, Any]) -> str | None:
    """The one way ``product`` fails ``goal`` ("type", "attribute", "option", "price"), or None when it does not
    fail or fails in more than one way."""
    reward, details = webshop_reward(product, goal, _best_options(product, goal["goal_options"]), noun_method="lexicon")
    if reward >= 1.0:
        return None
    failures = []
    if details["r_type"] < 1.0:
        failures.append("type")
    if details["n_attr_matches"] < len(goal["attributes"]):
        failures.append("attribute")
    if details["n_option_matches"] < len(goal["goal_options"]):
        failures.append("option")
    if not details["r_price"]:
        failures.append("price")
    return failures[0] if len(failures) == 1 else None


def _instruction(rng: random.Random, type_phrase: str, attrs: Sequence[str], options: Mapping[str, str]) -> str:
    text = rng.choice(_INSTRUCTION_TEMPLATES).format(type=type_phrase, attrs=_join_attrs(attrs))
    parts = [rng.choice(_OPTION_TEMPLATES).format(name=name, value=value) for name, value in options.items()]
    if parts:
        text += ", " + ", ".join(parts)
    return text


def goal_count(n_products: int, n_goals: int | None = None) -> int:
    """``n_goals``, or by default :data:`DEFAULT_GOALS` and one goal per ten products beyond 16,000 products."""
    return n_goals if n_goals is not None else max(DEFAULT_GOALS, n_products // 10)


def _distractor_kinds(
    rng: random.Random,
    products: Mapping[str, dict[str, Any]],
    goal: Mapping[str, Any],
    same_query: list[str],
    other_types: list[str],
) -> dict[str, int]:
    """Near distractors of ``goal`` by kind among at most 40 products of its query and 10 of other types."""
    candidates = [a for a in same_query if a != goal["asin"]]
    if len(candidates) > 40:
        candidates = rng.sample(candidates, 40)
    candidates += rng.sample(other_types, min(10, len(other_types)))
    kinds: dict[str, int] = {}
    for other in candidates:
        kind = _near_distractor_kind(products[other], goal)
        if kind:
            kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def generate_catalog(
    seed: int = 0, n_products: int = DEFAULT_PRODUCTS, n_goals: int | None = None
) -> tuple[list[dict], dict[str, dict], dict[str, list[dict]]]:
    """Generate ``(items_shuffle, items_ins_v2, items_human_ins)`` records (see the module docstring).

    ``n_goals`` defaults to :func:`goal_count`. Raises ``RuntimeError`` if the catalog is too small to yield that many
    valid goals.
    """
    if n_products < 10:
        raise ValueError(f"n_products must be at least 10, got {n_products}")
    n_goals = goal_count(n_products, n_goals)
    rng = random.Random(seed)
    raws, attributes = _generate_products(rng, n_products)
    products = {raw["asin"]: load_product(raw, attributes[raw["asin"]]) for raw in raws}
    by_query: dict[str, list[str]] = {}
    by_category: dict[str, list[str]] = {}
    for asin, product in products.items():
        by_query.setdefault(product["query"], []).append(asin)
        by_category.setdefault(product["category"], []).append(asin)
    other_types = {
        query: [a for a in by_category[products[asins[0]]["category"]] if products[a]["query"] != query]
        for query, asins in by_query.items()
    }
    type_phrase = {raw["asin"]: raw["name"] for raw in raws}
    spec_types = {spec.query: spec.types for spec in QUERY_SPECS}

    human_ins: dict[str, list[dict]] = {}
    seen: set[tuple] = set()
    order = list(products)
    rng.shuffle(order)
    attempts, max_attempts = 0, 20 * n_goals
    n_kept = 0
    while n_kept < n_goals and attempts < max_attempts:
        attempts += 1
        asin = order[(attempts - 1) % len(order)]
        product = products[asin]
        attrs = rng.sample(product["Attributes"], rng.randint(1, min(3, len(product["Attributes"]))))
        goal_options = {name: rng.choice(values) for name, values in product["options"].items()}
        key = (asin, frozenset(attrs), tuple(sorted(goal_options.items())))
        if key in seen:
            continue
        seen.add(key)
        price_upper = price_upper_for(product["price"], rng)
        types = [t for t in spec_types.get(product["query"], ()) if t in type_phrase[asin].lower()]
        phrase = types[0] if types and rng.random() < 0.7 else product["query"]
        instruction = _instruction(rng, phrase, attrs, goal_options)
        goal = goal_record(product, attributes=attrs, goal_options=list(goal_options.values()), price_upper=price_upper)
        reward, _ = webshop_reward(product, goal, goal_options, noun_method="lexicon")
        if reward != 1.0:
            continue
        kinds = _distractor_kinds(rng, products, goal, by_query[product["query"]], other_types[product["query"]])
        if sum(kinds.values()) < MIN_DISTRACTORS:
            continue
        human_ins.setdefault(asin, []).append(
            {
                "instruction": instruction,
                "instruction_attributes": attrs,
                "instruction_options": list(goal_options.values()),
                "instruction_option_names": list(goal_options),
                "price_upper": price_upper,
                "distractors": dict(sorted(kinds.items())),
            }
        )
        n_kept += 1
    if n_kept < n_goals:
        raise RuntimeError(
            f"only {n_kept} of {n_goals} goals could be generated from {n_products} products; "
            "ask for fewer goals or more products"
        )
    ins_v2 = {asin: {"attributes": attributes[asin]} for asin in products}
    return raws, ins_v2, human_ins


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")), encoding="utf-8")
    os.replace(tmp, path)


def generated_dir(
    seed: int = 0,
    n_products: int = DEFAULT_PRODUCTS,
    n_goals: int | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Where :func:`ensure_generated` keeps a generated catalog:
    ``<cache_dir>/generated/v<GENERATOR_VERSION>-seed<seed>-products<n>-goals<m>`` (default cache:
    :func:`~sdar_envs.webshop.catalog.default_cache_dir`)."""
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    name = f"v{GENERATOR_VERSION}-seed{seed}-products{n_products}-goals{goal_count(n_products, n_goals)}"
    return root / "generated" / name


def ensure_generated(
    seed: int = 0,
    n_products: int = DEFAULT_PRODUCTS,
    n_goals: int | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Generate the catalog files into the cache unless they are there already; return their directory."""
    directory = generated_dir(seed, n_products, n_goals, cache_dir)
    files = [directory / name for name in FILE_NAMES]
    if all(f.is_file() for f in files):
        return directory
    directory.mkdir(parents=True, exist_ok=True)
    for path, data in zip(files, generate_catalog(seed, n_products, n_goals), strict=True):
        _write_json(path, data)
    return directory


def load_generated(
    seed: int = 0,
    n_products: int = DEFAULT_PRODUCTS,
    n_goals: int | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Catalog:
    """The generated catalog (generated into the cache on first use)."""
    directory = ensure_generated(seed, n_products, n_goals, cache_dir)
    return load_catalog(*(directory / name for name in FILE_NAMES), data_source="generated")
