"""WebShop's privileged context: the goal's target product, or a near-miss product of the same kind.

Both read ``"Target product: <title> (asin <ASIN>); select: <option>, <option>; price below $<cap>; then buy"``
(``select`` left out when there is nothing to pick, ``price below`` when the goal has no price cap). The asin is the
id a results page shows for the product, so an agent told it can click it.

``informative``
    the goal's target (``task.metadata["asin"]``), the option values the goal asks for, and its price cap.
``adversarial``
    a near miss: among the catalog's products of the target's product type (its search ``query``; else its
    category; else the whole catalog), not the target, the one that would score highest for the goal without
    scoring 1.0 (WebShop's reward, bought with the goal's option value in each group that offers one and the first
    value elsewhere), ties broken by more title words shared with the target, then by asin. Products that also
    score 1.0 are other right answers and are never chosen. On large catalogs only the :data:`MAX_CANDIDATES`
    candidates sharing the most title words with the target are scored. The context names that product, the
    options a buyer of it would pick, and the goal's price cap.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from sdar_envs.core import Task
from sdar_envs.webshop.nouns import NounMethod
from sdar_envs.webshop.oracle import goal_option_values
from sdar_envs.webshop.reward import webshop_reward
from sdar_envs.webshop.schema import NO_PRICE_CAP

__all__ = [
    "MAX_CANDIDATES",
    "adversarial_context",
    "buyer_options",
    "informative_context",
    "near_miss",
    "render_target",
]

#: Products scored per goal when looking for a near miss (the ones sharing most title words with the target).
MAX_CANDIDATES = 64

_WORD = re.compile(r"[a-z0-9]+")


def render_target(product: Mapping[str, Any], options: Sequence[str], price_upper: float) -> str:
    """The context line for buying ``product`` with ``options`` under ``price_upper`` dollars (see the module)."""
    parts = [f"Target product: {product['Title']} (asin {product['asin']})"]
    if options:
        parts.append("select: " + ", ".join(options))
    if 0 < price_upper < NO_PRICE_CAP:
        parts.append(f"price below ${price_upper:.2f}")
    parts.append("then buy")
    return "; ".join(parts)


def buyer_options(product: Mapping[str, Any], goal_options: Sequence[str]) -> dict[str, str]:
    """Per option group of ``product``: the goal's value when the group offers it, else the group's first value."""
    options = product["options"].items()
    return {name: next((v for v in values if v in goal_options), values[0]) for name, values in options if values}


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def near_miss(
    products: Mapping[str, Mapping[str, Any]],
    goal: Mapping[str, Any],
    *,
    noun_method: NounMethod | None = None,
    upstream_option_quirk: bool = False,
) -> Mapping[str, Any] | None:
    """The adversarial product for ``goal`` (rule in the module docstring), or None when every other product of
    the catalog scores 1.0 for it."""
    target = products.get(str(goal["asin"]))
    others = [p for asin, p in products.items() if asin != goal["asin"]]
    pool: list[Mapping[str, Any]] = []
    for key in ("query", "category"):
        value = (target or goal).get(key)
        pool = [p for p in others if value and p.get(key) == value]
        if pool:
            break
    pool = pool or others
    title = _words(str(goal.get("name", "")))
    shared = {p["asin"]: len(title & _words(p["Title"])) for p in pool}
    pool = sorted(pool, key=lambda p: (-shared[p["asin"]], p["asin"]))[:MAX_CANDIDATES]
    wanted = goal_option_values(goal)
    best: tuple[tuple[float, int, str], Mapping[str, Any]] | None = None
    for product in pool:
        reward, _ = webshop_reward(
            product,
            goal,
            buyer_options(product, wanted),
            upstream_option_quirk=upstream_option_quirk,
            noun_method=noun_method,
        )
        if reward >= 1.0:
            continue
        key = (-reward, -shared[product["asin"]], str(product["asin"]))
        if best is None or key < best[0]:
            best = (key, product)
    return best[1] if best else None


def informative_context(task: Task, products: Mapping[str, Mapping[str, Any]]) -> str:
    """The goal's target, options and price cap."""
    goal = task.metadata
    product = products.get(str(goal["asin"])) or {"Title": goal.get("name", ""), "asin": goal["asin"]}
    return render_target(product, goal_option_values(goal), float(goal.get("price_upper") or 0))


def adversarial_context(
    task: Task,
    products: Mapping[str, Mapping[str, Any]],
    *,
    noun_method: NounMethod | None = None,
    upstream_option_quirk: bool = False,
) -> str:
    """A near miss of the goal's target, with the options a buyer of it would pick and the goal's price cap."""
    goal = task.metadata
    product = near_miss(products, goal, noun_method=noun_method, upstream_option_quirk=upstream_option_quirk)
    if product is None:
        raise ValueError(
            f"WebShop goal {task.id!r} has no near-miss product: every other product of the catalog scores 1.0 for it"
        )
    options = list(buyer_options(product, goal_option_values(goal)).values())
    return render_target(product, options, float(goal.get("price_upper") or 0))
