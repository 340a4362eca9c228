"""The shop's page state machine: actions, navigation and rendering, shared by the server and the in-process
transport.

Actions (upstream ``WebAgentTextEnv``): ``search[<query>]`` (only where the page has a search bar) and
``click[<label>]`` where ``label`` is one of the page's clickables, compared case-insensitively; ``click[search]``
is refused as upstream does. Anything else is invalid and changes nothing.

Navigation (upstream ``engine/engine.py`` constants): a search shows the top :data:`~sdar_envs.webshop.search.
SEARCH_RETURN_N` results, :data:`PRODUCT_WINDOW` per page; "Next >" appears on every results page (past the last
result the page is empty), "< Prev" from page 2 on; on an item page "< Prev" returns to the results, on a sub-page to
the item page (keeping the chosen options); "Back to Search" returns to the search page; "Buy Now" ends the episode
with the WebShop reward of the product and options chosen.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from sdar_envs.core import Task
from sdar_envs.webshop.catalog import Catalog
from sdar_envs.webshop.nouns import NounMethod
from sdar_envs.webshop.pages import (
    BACK_TO_SEARCH,
    BUY_NOW,
    NEXT_PAGE,
    PREV_PAGE,
    SUB_PAGES,
    Page,
    State,
)
from sdar_envs.webshop.reward import Purchase, WebShopVerifier
from sdar_envs.webshop.search import ProductSearch

__all__ = [
    "MAX_QUERY_CHARS",
    "PRODUCT_WINDOW",
    "ActionTarget",
    "Shop",
    "ShopOptions",
    "admissible_actions",
    "canonical_query",
    "parse_action",
]

PRODUCT_WINDOW = 10
_ACTION = re.compile(r"\s*(search|click)\s*\[(.*)\]\s*", re.IGNORECASE | re.DOTALL)


def parse_action(action: str) -> tuple[str, str] | None:
    """``("search" | "click", argument)`` for a well-formed action, else ``None``. The argument is stripped and
    must not be empty."""
    if not isinstance(action, str):
        return None
    match = _ACTION.fullmatch(action)
    if match is None:
        return None
    name, arg = match.group(1).lower(), match.group(2).strip()
    return (name, arg) if arg else None


#: Longest search query, in characters, after :func:`canonical_query`; longer queries are cut there. A query travels
#: in every page URL (``keywords=``, percent-encoded: up to 12 bytes per character), so this keeps URLs below the
#: server's 64 KiB request-line limit whatever the action text; BM25 gains nothing from more words.
MAX_QUERY_CHARS = 1_000


def canonical_query(text: str) -> str:
    """The query the shop searches for ``text``: lowercased, control characters and runs of whitespace turned into
    single spaces, characters UTF-8 cannot encode (lone surrogates) replaced by ``?``, cut to
    :data:`MAX_QUERY_CHARS` characters. Idempotent, so both transports and the server agree on it."""
    text = text.encode("utf-8", "replace").decode("utf-8").translate(_CONTROL_TO_SPACE)
    return " ".join(text.lower().split())[:MAX_QUERY_CHARS].rstrip()


_CONTROL_TO_SPACE = {c: " " for c in [*range(32), *range(127, 160)]}


@dataclass(frozen=True)
class ShopOptions:
    """How a :class:`Shop` searches and scores; the one definition of these options for the env, ``sdar-webshop
    serve`` and the server the env starts (:meth:`argv` writes the flags :meth:`add_arguments` reads).

    Attributes:
        search_backend: retrieval backend for product search (``"default"``, see :mod:`sdar_envs.retrieval`).
        upstream_option_quirk: reproduce upstream's synthetic-goal option bug
            (:class:`~sdar_envs.webshop.reward.WebShopVerifier`).
        noun_method: ``"spacy"`` or ``"lexicon"`` title nouns; ``None``: spaCy when ``en_core_web_sm`` imports.
    """

    search_backend: str = "default"
    upstream_option_quirk: bool = False
    noun_method: NounMethod | None = None

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        backend_help = "retrieval backend (default: pip-only)"
        parser.add_argument("--search-backend", default=cls.search_backend, help=backend_help)
        parser.add_argument("--upstream-option-quirk", action="store_true", help="reproduce upstream's option bug")
        parser.add_argument("--noun-method", choices=get_args(NounMethod), default=None)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ShopOptions:
        return cls(args.search_backend, args.upstream_option_quirk, args.noun_method)

    def argv(self) -> list[str]:
        """The ``sdar-webshop serve`` flags for these options (``--search-backend`` always, the others when set)."""
        args = ["--search-backend", self.search_backend]
        if self.upstream_option_quirk:
            args.append("--upstream-option-quirk")
        if self.noun_method is not None:
            args += ["--noun-method", self.noun_method]
        return args


@dataclass(frozen=True)
class ActionTarget:
    """Where a valid action leads from a page (:meth:`Shop.resolve`).

    ``kind="link"``: follow ``link``, the clicked label's target (a :class:`State` in process, a URL after
    :func:`~sdar_envs.webshop.pages.parse_html`). ``kind="search"``: submit the search form with ``query`` (already
    :func:`canonical_query`).
    """

    kind: Literal["link", "search"]
    link: State | str | None = None
    query: str = ""


class Shop:
    """Catalog + search + reward: renders :class:`State` s into :class:`Page` s for a goal, and resolves actions.

    Args:
        catalog: the products and goals.
        options: search backend and reward options (:class:`ShopOptions`; default: its defaults).
        index_dir: where the search index is cached (default ``<catalog root>/index-<backend>``; ``None`` root: in
            memory).
    """

    def __init__(self, catalog: Catalog, options: ShopOptions | None = None, *, index_dir: str | None = None) -> None:
        options = options if options is not None else ShopOptions()
        self.catalog = catalog
        self.options = options
        if index_dir is None and catalog.root is not None:
            index_dir = str(catalog.root / f"index-{options.search_backend}")
        self.search = ProductSearch(
            catalog.products, index_dir=index_dir, backend=options.search_backend, fingerprint=catalog.fingerprint
        )
        self.verifier = WebShopVerifier(
            catalog.products, upstream_option_quirk=options.upstream_option_quirk, noun_method=options.noun_method
        )

    # ---- rendering ----------------------------------------------------------------------------------------------
    def render(self, state: State, task: Task) -> Page:
        """The page ``state`` shows for ``task`` (unknown products fall back to the search page)."""
        instruction = task.instruction
        product = self.catalog.products.get(state.asin)
        if state.kind in ("item", "sub", "done") and product is None:
            state = State("search")
        if state.kind == "results":
            return self._results(state, instruction)
        if state.kind == "item":
            return self._item(state, instruction, product)
        if state.kind == "sub":
            return self._sub(state, instruction, product)
        if state.kind == "done":
            return self._done(state, task)
        return Page(
            kind="search",
            texts=["WebShop", "Instruction:", *_visible([instruction]), "Search"],
            links={"search": State("search")},
            has_search_bar=True,
            layout={"instruction": instruction},
        )

    def _results(self, state: State, instruction: str) -> Page:
        asins = self.search.search(state.keywords)
        start = (state.page - 1) * PRODUCT_WINDOW
        rows = []
        for asin in asins[start : start + PRODUCT_WINDOW]:
            product = self.catalog.products[asin]
            rows.append((asin, product["Title"], product["Price"]))
        summary = f"Page {state.page} (Total results: {len(asins)})"
        links: dict[str, Any] = {BACK_TO_SEARCH.lower(): State("search")}
        texts = ["Instruction:", *_visible([instruction]), BACK_TO_SEARCH, summary]
        if state.page > 1:
            links[PREV_PAGE.lower()] = State("results", state.keywords, state.page - 1)
            texts.append(PREV_PAGE)
        links[NEXT_PAGE.lower()] = State("results", state.keywords, state.page + 1)
        texts.append(NEXT_PAGE)
        for asin, title, price in rows:
            links.setdefault(asin.lower(), State("item", state.keywords, state.page, asin))
            texts.extend(_visible([asin, title, price]))
        return Page(
            kind="results",
            texts=texts,
            links=links,
            keywords=state.keywords,
            page_no=state.page,
            result_asins=[r[0] for r in rows],
            layout={"instruction": instruction, "summary": summary, "rows": rows},
        )

    def _item(self, state: State, instruction: str, product: Mapping[str, Any]) -> Page:
        selected = {k: v for k, v in state.options if v in product["options"].get(k, ())}
        links: dict[str, Any] = {
            BACK_TO_SEARCH.lower(): State("search"),
            PREV_PAGE.lower(): State("results", state.keywords, state.page),
        }
        texts = ["Instruction:", *_visible([instruction]), BACK_TO_SEARCH, PREV_PAGE]
        # an empty option value (upstream keeps them) renders as an unlabelled radio button: nothing to read or click
        shown = {name: [v for v in values if v] for name, values in product["options"].items()}
        for name, values in shown.items():
            texts.extend(_visible([name, *values]))
            for value in values:
                links.setdefault(value.lower(), state.with_option(name, value))
        price = f"Price: {product['Price']}"
        texts.extend(_visible([product["Title"], price, "Rating: N.A."]))
        for sub_page in SUB_PAGES:
            links.setdefault(
                sub_page.lower(), State("sub", state.keywords, state.page, state.asin, state.options, sub_page)
            )
        links.setdefault(BUY_NOW.lower(), State("done", asin=state.asin, options=state.options))
        texts.extend([*SUB_PAGES, BUY_NOW])
        return Page(
            kind="item",
            texts=texts,
            links=links,
            keywords=state.keywords,
            page_no=state.page,
            asin=state.asin,
            options=shown,
            selected=selected,
            layout={"instruction": instruction, "title": product["Title"], "price": price},
        )

    def _sub(self, state: State, instruction: str, product: Mapping[str, Any]) -> Page:
        if state.sub_page == "Description":
            content = [product["Description"]]
        elif state.sub_page == "Features":
            content = list(product["BulletPoints"])
        else:
            content = []  # upstream's review loading is disabled: Reviews are always empty
        content = _visible(content)
        links = {
            BACK_TO_SEARCH.lower(): State("search"),
            PREV_PAGE.lower(): State("item", state.keywords, state.page, state.asin, state.options),
        }
        return Page(
            kind="sub",
            texts=["Instruction:", *_visible([instruction]), BACK_TO_SEARCH, PREV_PAGE, *content],
            links=links,
            keywords=state.keywords,
            page_no=state.page,
            asin=state.asin,
            layout={"instruction": instruction, "content": content},
        )

    def _done(self, state: State, task: Task) -> Page:
        purchase = self.purchase(state, task)
        texts = ["Thank you for shopping with us!", "Purchased", *_visible([state.asin])]
        texts += ["Your score (min 0.0, max 1.0)", str(purchase["score"])]
        return Page(kind="done", texts=texts, links={}, asin=state.asin, purchase=purchase)

    def purchase(self, state: State, task: Task) -> dict[str, Any]:
        """Score buying ``state.asin`` with ``state.options`` for ``task``: a JSON-ready dict."""
        verdict = self.verifier.verify(task, Purchase(state.asin, dict(state.options)))
        details = {k: v for k, v in verdict.details.items() if k not in ("asin", "options")}
        return {
            "asin": state.asin,
            "options": dict(state.options),
            "score": float(verdict.score),
            "won": bool(verdict.success),
            "details": details,
        }

    # ---- actions ------------------------------------------------------------------------------------------------
    @staticmethod
    def resolve(page: Page, action: str) -> ActionTarget | None:
        """Where ``action`` leads from ``page`` (both transports follow it their way), or ``None`` when the action is
        invalid here."""
        parsed = parse_action(action)
        if parsed is None:
            return None
        name, arg = parsed
        if name == "search":
            if not page.has_search_bar:
                return None
            query = canonical_query(arg)
            return ActionTarget("search", query=query) if query else None
        label = arg.lower()
        if label == "search" or label not in page.links:
            return None
        return ActionTarget("link", link=page.links[label])


def _visible(texts: list[str]) -> list[str]:
    """Texts as an HTML parser sees them: stripped, empty ones dropped."""
    return [t.strip() for t in texts if t.strip()]


def admissible_actions(page: Page) -> list[str]:
    """``search[<query>]`` where there is a search bar, then ``click[<label>]`` for every clickable but "search"."""
    actions = ["search[<query>]"] if page.has_search_bar else []
    actions.extend(f"click[{label}]" for label in page.links if label != "search")
    return actions
