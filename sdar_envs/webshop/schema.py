"""Upstream WebShop's record schemas: a raw ``items_shuffle`` product as the shop uses it, a goal's product keys,
and the goal price cap.

A raw product (``items_shuffle*.json``) has ``asin, name, full_description, small_description (list of bullets),
pricing ("$a" or "$a - $b"), images (a list of URLs; upstream reads the first), customization_options ({name:
[{value, image}]}), category, query, product_category`` (``"A › B › C"``). :func:`load_product` adds upstream's
derived keys exactly as upstream's ``engine/engine.py::load_products`` writes them: ``Title`` (= ``name``),
``Description``, ``BulletPoints``, ``Price`` (display text: each price as Python prints the float, ``"$23.9"``,
``"$100.0"``, a range as ``"$a to $b"`` in file order), ``price`` (purchase price in dollars: the single price, a
deterministic draw within a range, or 100 when missing), ``options`` (``{name: [values]}``, names and values
lowercased, values stripped with ``/`` turned into ``" | "``, repeats and empty values kept), ``Attributes``
(``["DUMMY_ATTR"]`` when unknown).

Both the loader (:mod:`sdar_envs.webshop.catalog`) and the generator (:mod:`sdar_envs.webshop.generator`, which
scores its goals on the products as they will be loaded) use these.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["NO_PRICE_CAP", "PRICE_GRID", "goal_record", "load_product", "price_text", "price_upper_for"]

#: Upstream's price grid for the goal price cap (``PRICE_RANGE`` in ``engine/goal.py``).
PRICE_GRID: tuple[float, ...] = tuple(10.0 * i for i in range(1, 100))
NO_PRICE_CAP = 1_000_000.0


def price_upper_for(price: float, rng: random.Random) -> float:
    """Upstream's goal price cap: the larger of two draws from the next four multiples of 10 above ``price``.

    Returns :data:`NO_PRICE_CAP` when fewer than two multiples remain (no price phrase is then added).
    """
    grid = [p for p in PRICE_GRID if p > price][:4]
    if len(grid) < 2:
        return NO_PRICE_CAP
    return max(rng.sample(grid, 2))


def price_text(price_upper: float) -> str:
    """The phrase upstream appends to an instruction for a price cap ('' for no cap)."""
    return f", and price lower than {price_upper:.2f} dollars" if price_upper < NO_PRICE_CAP else ""


_PRICE = re.compile(r"\$?\s*([0-9][0-9,]*\.?[0-9]*)")
_NOT_DIGIT_OR_DOT = re.compile(r"[^\d.]")


def _parse_pricing(pricing: Any) -> list[float]:
    """The prices of a ``pricing`` field, in file order.

    Upstream's rule: split the text on ``$`` and read each later piece with its non-digit, non-dot characters removed
    (``"$1,299.00 - $1,499.00"`` -> 1299.0, 1499.0). Pieces that are no number (upstream would raise) are skipped;
    text without any ``$`` is read number by number; a bare number is taken as is.
    """
    if isinstance(pricing, (int, float)) and not isinstance(pricing, bool):
        return [float(pricing)]
    text = str(pricing or "")
    values = []
    for piece in text.split("$")[1:]:
        try:
            values.append(float(_NOT_DIGIT_OR_DOT.sub("", piece)))
        except ValueError:
            continue
    if not values and "$" not in text:
        for m in _PRICE.finditer(text):
            try:
                values.append(float(m.group(1).replace(",", "")))
            except ValueError:
                continue
    return values


def _range_price(asin: str, lo: float, hi: float) -> float:
    # Upstream draws uniform(lo, hi) once at load time; a hash of the asin makes the draw reproducible.
    frac = int(hashlib.sha256(asin.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return round(lo + (hi - lo) * frac, 2)


def _options(raw_options: Any) -> dict[str, list[str]]:
    """``customization_options`` as upstream's ``options``: names lowercased; values stripped, ``/`` -> ``" | "``,
    lowercased, in file order (repeats and empty values kept, as upstream keeps them); ``None`` groups skipped."""
    options: dict[str, list[str]] = {}
    if not isinstance(raw_options, Mapping):
        return options
    for name, values in raw_options.items():
        if values is None:
            continue
        cleaned = []
        for value in values:
            text = value.get("value", "") if isinstance(value, Mapping) else value
            cleaned.append(str(text if text is not None else "").strip().replace("/", " | ").lower())
        options[str(name).lower()] = cleaned
    return options


def load_product(raw: Mapping[str, Any], attributes: Sequence[str] | None) -> dict[str, Any]:
    """A raw ``items_shuffle`` product as the shop uses it (the derived keys of the module docstring), with
    ``attributes`` from ``items_ins_v2`` (``None``: unknown, ``["DUMMY_ATTR"]`` as upstream)."""
    asin = str(raw["asin"])
    prices = _parse_pricing(raw.get("pricing"))
    if not prices:
        price, display = 100.0, "$100.0"
    elif len(prices) == 1:
        price, display = prices[0], f"${prices[0]}"
    else:
        first, second = prices[:2]
        price, display = _range_price(asin, min(first, second), max(first, second)), f"${first} to ${second}"
    bullets = raw.get("small_description")
    if bullets is None:
        bullets = []
    elif not isinstance(bullets, list):
        bullets = [bullets]
    name = str(raw.get("name") or "")
    description = raw.get("full_description") or ""
    if isinstance(description, list):
        description = " ".join(str(x) for x in description)
    return {
        "asin": asin,
        "name": name,
        "Title": name,
        "Description": str(description),
        "BulletPoints": [str(b) for b in bullets],
        "Price": display,
        "price": price,
        "options": _options(raw.get("customization_options")),
        "Attributes": list(attributes) if attributes is not None else ["DUMMY_ATTR"],
        "category": str(raw.get("category") or ""),
        "query": str(raw.get("query") or "").lower().strip(),
        "product_category": str(raw.get("product_category") or ""),
    }


def goal_record(product: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    """A goal dict for ``product``: its asin, category, query, name and product_category, then ``extra``."""
    return {
        "asin": product["asin"],
        "category": product["category"],
        "query": product["query"],
        "name": product["name"],
        "product_category": product["product_category"],
        **extra,
    }
