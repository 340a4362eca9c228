"""The WebShop oracle: the expert behind ``info["expert_action"]``.

It knows the goal's target product and plays upstream's scripted baseline: search the instruction, page through
the results (at most 5 pages) to the target, open it, click each goal option that is not yet selected, buy. When a
query's results do not contain the target, the env records the query as exhausted and the oracle searches the
target's title instead. Its decisions depend only on what the page shows (page kind, result asins, page number,
options and their selection), so both transports get the same expert actions.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sdar_envs.webshop.engine import PRODUCT_WINDOW, canonical_query
from sdar_envs.webshop.pages import BACK_TO_SEARCH, BUY_NOW, NEXT_PAGE, PREV_PAGE, Page
from sdar_envs.webshop.search import SEARCH_RETURN_N

__all__ = ["goal_option_values", "oracle_action", "oracle_queries", "target_missing"]

MAX_RESULT_PAGES = SEARCH_RETURN_N // PRODUCT_WINDOW


def goal_option_values(goal: Mapping[str, Any]) -> list[str]:
    """The option values a goal asks for (a list, or the values of upstream's synthetic-goal dict)."""
    options = goal.get("goal_options", ())
    values = options.values() if isinstance(options, Mapping) else options
    return [str(v).lower() for v in values]


def oracle_queries(goal: Mapping[str, Any]) -> tuple[str, str]:
    """The oracle's first query (the instruction) and its fallback (the target's title)."""
    return canonical_query(str(goal.get("instruction_text", ""))), canonical_query(str(goal.get("name", "")))


def target_missing(page: Page, goal: Mapping[str, Any]) -> bool:
    """On a results page: the target is not here and no later page can hold it (last page or fewer than 10 rows)."""
    if page.kind != "results" or str(goal.get("asin", "")).lower() in page.links:
        return False
    return page.page_no >= MAX_RESULT_PAGES or len(page.result_asins) < PRODUCT_WINDOW


def oracle_action(page: Page, goal: Mapping[str, Any], exhausted: Collection[str] = ()) -> str | None:
    """The oracle's next action on ``page`` (``None`` on the done page). ``exhausted``: queries already searched
    without finding the target."""
    asin = str(goal.get("asin", ""))
    if page.kind == "search":
        first, fallback = oracle_queries(goal)
        return f"search[{first if first not in exhausted else fallback}]"
    if page.kind == "results":
        if asin.lower() in page.links:
            return f"click[{asin.lower()}]"
        if not target_missing(page, goal) and NEXT_PAGE.lower() in page.links:
            return f"click[{NEXT_PAGE.lower()}]"
        return f"click[{BACK_TO_SEARCH.lower()}]"
    if page.kind == "item":
        if page.asin != asin:
            return f"click[{PREV_PAGE.lower()}]"
        for value in goal_option_values(goal):
            # the first option group offering the value is the one its label selects
            name = next((n for n, values in page.options.items() if value in values), None)
            if name is not None and page.selected.get(name) != value:
                return f"click[{value}]"
        return f"click[{BUY_NOW.lower()}]"
    if page.kind == "sub":
        return f"click[{PREV_PAGE.lower()}]"
    return None
