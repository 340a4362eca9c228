"""WebShop's reward (upstream ``web_agent_site/engine/goal.py::get_reward``) and the WebShop :class:`Verifier`.

For a purchased product ``P`` with chosen options and a goal ``G``::

    r_type   query_match    = P.query == G.query
             category_match = |set(P.product_category.split("›")) ∩ set(G.product_category.split("›"))| >= 2
             D, Pn = title nouns of G.name, P.name          (lists, see sdar_envs.webshop.nouns)
             title_score = |set(Pn) ∩ set(D)| / len(D)      (0.2 when D is empty)
             r_type = 1.0; 0.5 if not (query_match or category_match or title_score > 0.2);
             0.1 if title_score < 0.1; 0.0 if title_score == 0       (later rules override earlier ones)
    n_attr   goal attributes g with token_set_ratio(p, g) > 85 for some p in P.Attributes,
             else with g a substring of P's lowercased Title, BulletPoints or Description
    n_opt    goal options g with token_set_ratio(p, g) > 85 for some purchased option p, after normalize_color
             on both sides
    r_price  P.price <= G.price_upper (always true when price_upper <= 0, i.e. no cap)
    reward = r_type * (n_attr + n_opt + r_price) / (len(G.attributes) + len(G.goal_options) + 1)

``token_set_ratio`` is upstream's ``thefuzz.fuzz.token_set_ratio``: the characters U+0080-U+00FF dropped
(``utils.ascii_only``; others, e.g. "Ω", are kept), lowercased, non-alphanumerics to spaces, rapidfuzz's ratio, then
**rounded to an integer** (``int(round(...))``, Python's half-to-even) before the ``> 85`` test: 85.106 fails, as
upstream. Success is ``reward == 1.0``.

Upstream's synthetic goals pass ``goal_options.items()``, i.e. ``(name, value)`` tuples, which never match a colour
word, so the goal side skips colour normalisation while the purchased side does not: a perfect purchase of the
option ``1877blue`` scores 0.75. ``upstream_option_quirk=True`` reproduces that for dict-valued goal options; the
default applies the corrected rule (values normalised on both sides).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz
from rapidfuzz.utils import default_process

from sdar_envs.core import Task, Verdict
from sdar_envs.webshop.nouns import NounMethod, title_nouns

__all__ = [
    "COLOR_SET",
    "FUZZY_THRESHOLD",
    "Purchase",
    "WebShopVerifier",
    "attribute_matches",
    "fuzzy_ratio",
    "normalize_color",
    "option_matches",
    "type_reward",
    "webshop_reward",
]

#: A goal attribute or option matches when ``token_set_ratio`` exceeds this.
FUZZY_THRESHOLD = 85

#: Colour words for option normalisation: an option value becomes the first of these (in this order) it contains.
COLOR_SET: tuple[str, ...] = (
    "alabaster", "apricot", "aqua", "ash", "asphalt", "azure", "banana", "beige", "black", "blue", "blush",
    "bordeaux", "bronze", "brown", "burgundy", "camel", "camo", "caramel", "champagne", "charcoal", "cheetah",
    "chestnut", "chocolate", "christmas", "coffee", "cognac", "copper", "coral", "cranberry", "cream", "crystal",
    "dark", "denim", "eggplant", "elephant", "espresso", "fuchsia", "gold", "granite", "grape", "graphite", "grass",
    "gray", "green", "grey", "heather", "indigo", "ivory", "ivy", "khaki", "lavender", "lemon", "leopard", "light",
    "lilac", "lime", "magenta", "maroon", "mauve", "merlot", "midnight", "mint", "mocha", "multicolor", "mushroom",
    "mustard", "natural", "navy", "nude", "olive", "orange", "peach", "pewter", "pink", "plum", "purple", "rainbow",
    "red", "rose", "royal", "rust", "sand", "sapphire", "seashell", "silver", "skull", "slate", "steel", "stone",
    "stonewash", "sunflower", "tan", "taupe", "teal", "tiger", "turquoise", "violet", "walnut", "wheat", "white",
    "wine", "yellow",
)  # fmt: skip


@functools.lru_cache(maxsize=65_536)
def normalize_color(option: str) -> str:
    """The first :data:`COLOR_SET` word contained in ``option`` (a substring test, as upstream), else ``option``."""
    for color in COLOR_SET:
        if color in option:
            return color
    return option


# thefuzz's utils.ascii_only: "ascii dammit" drops exactly the code points 128-255, nothing above them
_LATIN1 = dict.fromkeys(range(128, 256))


@functools.lru_cache(maxsize=262_144)
def _process(text: str) -> str:
    # thefuzz's full_process(force_ascii=True): drop U+0080-U+00FF, then lowercase, non-alphanumerics to spaces, trim.
    return default_process(str(text).translate(_LATIN1))


@functools.lru_cache(maxsize=1_048_576)
def fuzzy_ratio(a: str, b: str) -> int:
    """Upstream's ``fuzz.token_set_ratio(a, b)``: an int in ``[0, 100]``, rounded as thefuzz rounds
    (``int(round(score))``); 0 when either side is empty after processing."""
    return round(fuzz.token_set_ratio(_process(a), _process(b)))


@dataclass(frozen=True)
class Purchase:
    """What the agent bought: the product's asin and the chosen options (``{option name: value}``)."""

    asin: str
    options: Mapping[str, str]


@functools.lru_cache(maxsize=65_536)
def _category_levels(product_category: str) -> frozenset[str]:
    return frozenset(x.strip() for x in product_category.split("›"))


def type_reward(product: Mapping[str, Any], goal: Mapping[str, Any], noun_method: NounMethod | None = None) -> dict:
    """``r_type`` and its parts (``query_match``, ``category_match``, ``title_score``)."""
    query_match = product.get("query", "") == goal.get("query", "")
    purchased_pc = _category_levels(str(product.get("product_category", "")))
    goal_pc = _category_levels(str(goal.get("product_category", "")))
    category_match = len(purchased_pc & goal_pc) >= 2
    desired = title_nouns(str(goal.get("name", "")), noun_method)
    purchased = title_nouns(str(product.get("name", "")), noun_method)
    title_score = len(set(purchased) & set(desired)) / len(desired) if desired else 0.2
    r_type = 1.0
    if not (query_match or category_match or title_score > 0.2):
        r_type = 0.5
    if title_score < 0.1:
        r_type = 0.1
    if title_score == 0.0:
        r_type = 0.0
    return {
        "r_type": r_type,
        "query_match": query_match,
        "category_match": category_match,
        "title_score": title_score,
    }


def attribute_matches(product: Mapping[str, Any], goal_attributes: Sequence[str]) -> int:
    """How many goal attributes the product has (fuzzy match on ``Attributes``, else a substring of its text)."""
    purchased = list(product.get("Attributes", ()))
    title = str(product.get("Title", "")).lower()
    bullets = " ".join(product.get("BulletPoints", ())).lower()
    description = str(product.get("Description", "")).lower()
    n = 0
    for g_attr in goal_attributes:
        if (
            any(fuzzy_ratio(p_attr, g_attr) > FUZZY_THRESHOLD for p_attr in purchased)
            or g_attr in title
            or g_attr in bullets
            or g_attr in description
        ):
            n += 1
    return n


def option_matches(
    purchased_options: Sequence[str], goal_options: Sequence[str] | Mapping[str, str], *, upstream_option_quirk: bool
) -> int:
    """How many goal options the purchased option values match (see the module docstring for the quirk)."""
    purchased = [normalize_color(o) for o in purchased_options]
    if isinstance(goal_options, Mapping):
        if upstream_option_quirk:
            # Upstream passes (name, value) tuples here: `color in tuple` is never true, and fuzzywuzzy compares
            # str(tuple), which its processing turns into "name value".
            goals = [f"{name} {value}" for name, value in goal_options.items()]
        else:
            goals = [normalize_color(v) for v in goal_options.values()]
    else:
        goals = [normalize_color(o) for o in goal_options]
    return sum(1 for g in goals if any(fuzzy_ratio(p, g) > FUZZY_THRESHOLD for p in purchased))


def webshop_reward(
    product: Mapping[str, Any],
    goal: Mapping[str, Any],
    options: Mapping[str, str],
    *,
    price: float | None = None,
    upstream_option_quirk: bool = False,
    noun_method: NounMethod | None = None,
) -> tuple[float, dict[str, Any]]:
    """WebShop's reward for buying ``product`` with ``options`` against ``goal``; returns ``(reward, details)``.

    ``product`` uses the loaded-product keys (``query, product_category, name, Attributes, Title, BulletPoints,
    Description, price``); ``goal`` the goal keys (``query, product_category, name, attributes, goal_options,
    price_upper``). ``price`` overrides ``product["price"]``.
    """
    type_details = type_reward(product, goal, noun_method)
    attributes = list(goal.get("attributes", ()))
    goal_options = goal.get("goal_options", ())
    price_upper = float(goal.get("price_upper", 0) or 0)
    paid = float(product.get("price", 0.0) if price is None else price)
    r_price = paid <= price_upper if price_upper > 0 else True
    n_attr = attribute_matches(product, attributes)
    n_opt = option_matches(list(options.values()), goal_options, upstream_option_quirk=upstream_option_quirk)
    total = (n_attr + n_opt + float(r_price)) / (len(attributes) + len(goal_options) + 1)
    reward = type_details["r_type"] * total
    details = {
        **type_details,
        "r_att": n_attr / len(attributes) if attributes else None,
        "r_option": n_opt / len(goal_options) if goal_options else None,
        "r_price": bool(r_price),
        "n_attr_matches": n_attr,
        "n_option_matches": n_opt,
        "price": paid,
    }
    return reward, details


class WebShopVerifier:
    """Scores a :class:`Purchase` for a WebShop :class:`Task` with :func:`webshop_reward`.

    ``products`` maps asin to the loaded product dict (a :class:`~sdar_envs.webshop.catalog.Catalog`'s
    ``products``). The task's ``metadata`` holds the goal (``asin, name, query, product_category, attributes,
    goal_options, price_upper``).
    """

    def __init__(
        self,
        products: Mapping[str, Mapping[str, Any]],
        *,
        upstream_option_quirk: bool = False,
        noun_method: NounMethod | None = None,
    ) -> None:
        self.products = products
        self.upstream_option_quirk = upstream_option_quirk
        self.noun_method = noun_method

    def verify(self, task: Task, outcome: Purchase | Mapping[str, Any]) -> Verdict:
        if not isinstance(outcome, Purchase):
            outcome = Purchase(str(outcome["asin"]), dict(outcome.get("options", {})))
        product = self.products.get(outcome.asin)
        if product is None:
            return Verdict(0.0, False, {"error": f"unknown asin {outcome.asin!r}"})
        reward, details = webshop_reward(
            product,
            task.metadata,
            outcome.options,
            upstream_option_quirk=self.upstream_option_quirk,
            noun_method=self.noun_method,
        )
        reward = min(max(reward, 0.0), 1.0)
        return Verdict(reward, reward == 1.0, {**details, "asin": outcome.asin, "options": dict(outcome.options)})
