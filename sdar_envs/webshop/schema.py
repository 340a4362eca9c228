"""Upstream WebShop's record schemas: a raw ``items_shuffle`` product as the shop uses it, a goal's product keys,
and the goal price cap.

A raw product (``items_shuffle*.json``) has ``asin, name, full_description, small_description (list of bullets),
pricing ("$a" or "$a - $b"), images, customization_options ({name: [{value, image}]}), category, query,
product_category`` (``"A › B › C"``). :func:`load_product` adds upstream's derived keys: ``Title`` (= ``name``),
``Description``, ``BulletPoints``, ``Price`` (display text), ``price`` (purchase price in dollars: the single price,
a deterministic draw within a range, or 100 when missing), ``options`` (``{name: [values]}``, values lowercased with
``/`` turned into ``" | "``), ``Attributes`` (``["DUMMY_ATTR"]`` when unknown).

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


def _parse_pricing(pricing: Any) -> list[float]:
    if isinstance(pricing, (int, float)):
        return [float(pricing)]
    values = []
    for m in _PRICE.finditer(str(pricing or "")):
        try:
            values.append(float(m.group(1).replace(",", "")))
        except ValueError:
            continue
    return values


def _range_price(asin: str, lo: float, hi: float) -> float:
    # Upstream draws uniform(lo, hi) once at load time; a hash of the asin makes the draw reproducible.
    frac = int(hashlib.sha256(asin.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return round(lo + (hi - lo) * frac, 2)


def load_product(raw: Mapping[str, Any], attributes: Sequence[str] | None) -> dict[str, Any]:
    """A raw ``items_shuffle`` product as the shop uses it (the derived keys of the module docstring), with
    ``attributes`` from ``items_ins_v2``."""
    asin = str(raw["asin"]).strip()
    prices = _parse_pricing(raw.get("pricing"))
    if not prices:
        price, display = 100.0, "$100.0"
    elif len(prices) == 1:
        price, display = prices[0], f"${prices[0]:.2f}"
    else:
        lo, hi = sorted(prices[:2])
        price, display = _range_price(asin, lo, hi), f"${lo:.2f} to ${hi:.2f}"
    bullets = raw.get("small_description") or []
    if isinstance(bullets, str):
        bullets = [bullets]
    options: dict[str, list[str]] = {}
    for name, values in (raw.get("customization_options") or {}).items():
        cleaned = []
        for value in values or []:
            text = value.get("value", "") if isinstance(value, Mapping) else str(value)
            text = str(text).strip().replace("/", " | ").lower()
            if text and text not in cleaned:
                cleaned.append(text)
        if cleaned:
            options[str(name).strip().lower()] = cleaned
    name = str(raw.get("name") or "").strip()
    description = raw.get("full_description") or ""
    if isinstance(description, list):
        description = " ".join(str(x) for x in description)
    return {
        "asin": asin,
        "name": name,
        "Title": name,
        "Description": str(description).strip(),
        "BulletPoints": [str(b).strip() for b in bullets if str(b).strip()],
        "Price": display,
        "price": price,
        "options": options,
        "Attributes": list(attributes) if attributes else ["DUMMY_ATTR"],
        "category": str(raw.get("category") or "").strip(),
        "query": str(raw.get("query") or "").lower().strip(),
        "product_category": str(raw.get("product_category") or "").strip(),
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
