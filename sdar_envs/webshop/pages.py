"""The shop's pages: a structured :class:`Page`, its HTML, and the parser that turns that HTML back into a Page.

A page is addressed by a :class:`State` (which page, query, result page, product, chosen options, sub-page). The engine
renders a State into a :class:`Page`; the server writes the Page as HTML (:func:`render_html`, links are URLs that
encode the target State, see :func:`state_url` / :func:`parse_state_url`); the HTTP client reads it back with
:func:`parse_html`. Both transports therefore see the same Page: same visible strings, same clickables.

Text observation (upstream ``text`` mode): the visible strings of the page, stripped, empty ones dropped, joined with
``" [SEP] "``. Pages, as the agent sees them:

- search: ``WebShop [SEP] Instruction: [SEP] <goal> [SEP] Search``
- results: ``Instruction: [SEP] <goal> [SEP] Back to Search [SEP] Page p (Total results: n) [SEP] [< Prev [SEP]]
  Next > [SEP] <asin> [SEP] <title> [SEP] <price> ...`` ("< Prev" from page 2 on; "Next >" on every page)
- item: ``Instruction: [SEP] <goal> [SEP] Back to Search [SEP] < Prev [SEP] <option name> [SEP] <value> ... [SEP]
  <title> [SEP] Price: <price> [SEP] Rating: N.A. [SEP] Description [SEP] Features [SEP] Reviews [SEP] Buy Now``
- sub-page: ``Instruction: [SEP] <goal> [SEP] Back to Search [SEP] < Prev [SEP] <description | bullet points>``
  (Reviews are empty, as upstream, whose review loading is disabled)
- done: ``Thank you for shopping with us! [SEP] Purchased [SEP] <asin> [SEP] Your score (min 0.0, max 1.0) [SEP] <r>``

Clickables are the lowercased visible labels of buttons, product links (asins) and option values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from html import escape
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from bs4 import BeautifulSoup
from bs4.element import Comment, NavigableString, Tag

__all__ = [
    "BACK_TO_SEARCH",
    "BUY_NOW",
    "NEXT_PAGE",
    "PREV_PAGE",
    "SEP",
    "SUB_PAGES",
    "Page",
    "State",
    "parse_html",
    "parse_state_url",
    "render_html",
    "state_url",
]

SEP = " [SEP] "
BACK_TO_SEARCH = "Back to Search"
NEXT_PAGE = "Next >"
PREV_PAGE = "< Prev"
BUY_NOW = "Buy Now"
SUB_PAGES: tuple[str, ...] = ("Description", "Features", "Reviews")
PAGE_KINDS: tuple[str, ...] = ("search", "results", "item", "sub", "done")


@dataclass(frozen=True)
class State:
    """Where a session is: ``kind`` is one of :data:`PAGE_KINDS`; ``options`` are ``(name, value)`` pairs sorted by
    name; ``page`` is the 1-based result page; ``sub_page`` one of :data:`SUB_PAGES`."""

    kind: str = "search"
    keywords: str = ""
    page: int = 1
    asin: str = ""
    options: tuple[tuple[str, str], ...] = ()
    sub_page: str = ""

    def with_option(self, name: str, value: str) -> State:
        options = dict(self.options)
        options[name] = value
        return replace(self, options=tuple(sorted(options.items())))


@dataclass
class Page:
    """One rendered page. ``links`` maps a clickable label (lowercased) to its target: a :class:`State` in process,
    a URL after :func:`parse_html`. ``purchase`` (done page only) is ``{"asin", "options", "score", "details"}``.
    ``goal`` is the goal index the server played the page for (``<body data-goal>``; ``None`` in process)."""

    kind: str
    texts: list[str]
    links: dict[str, Any]
    has_search_bar: bool = False
    keywords: str = ""
    page_no: int = 1
    asin: str = ""
    result_asins: list[str] = field(default_factory=list)
    options: dict[str, list[str]] = field(default_factory=dict)
    selected: dict[str, str] = field(default_factory=dict)
    purchase: dict[str, Any] | None = None
    goal: int | None = None
    # what render_html needs beyond the above (not recovered by parse_html)
    layout: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def observation(self) -> str:
        """The text observation: visible strings joined by ``" [SEP] "``."""
        return SEP.join(self.texts)

    def clickables(self) -> list[str]:
        """Clickable labels in page order (``"search"`` included on the search page, as upstream lists it)."""
        return list(self.links)


# ---- URLs ---------------------------------------------------------------------------------------------------------
def state_url(session_id: str, state: State) -> str:
    """The server path (with query string) that shows ``state`` in session ``session_id``."""
    sid = quote(session_id, safe="")
    options = json.dumps(dict(state.options), ensure_ascii=False, sort_keys=True)
    if state.kind == "search":
        return f"/{sid}"
    if state.kind == "results":
        return f"/search_results/{sid}?" + urlencode({"keywords": state.keywords, "page": state.page})
    if state.kind == "item":
        query = {"asin": state.asin, "keywords": state.keywords, "page": state.page, "options": options}
        return f"/item_page/{sid}?" + urlencode(query)
    if state.kind == "sub":
        query = {
            "asin": state.asin,
            "keywords": state.keywords,
            "page": state.page,
            "sub_page": state.sub_page,
            "options": options,
        }
        return f"/item_sub_page/{sid}?" + urlencode(query)
    if state.kind == "done":
        return f"/done/{sid}?" + urlencode({"asin": state.asin, "options": options})
    raise ValueError(f"unknown page kind {state.kind!r}")


_ROUTES = {"search_results": "results", "item_page": "item", "item_sub_page": "sub", "done": "done"}


def parse_state_url(url: str) -> tuple[str, State, dict[str, list[str]]]:
    """``(session_id, state, query)`` for a server path; ``ValueError`` for paths that are not shop pages."""
    from urllib.parse import unquote

    parts = urlsplit(url)
    segments = [unquote(s) for s in parts.path.split("/") if s]
    query = parse_qs(parts.query, keep_blank_values=True)

    def arg(name: str, default: str = "") -> str:
        return query.get(name, [default])[0]

    if len(segments) == 1:
        return segments[0], State("search"), query
    if len(segments) != 2 or segments[0] not in _ROUTES:
        raise ValueError(f"not a shop page: {parts.path!r}")
    kind = _ROUTES[segments[0]]
    try:
        page = max(1, int(arg("page", "1")))
    except ValueError:
        page = 1
    try:
        raw_options = json.loads(arg("options", "{}") or "{}")
        options = tuple(sorted((str(k), str(v)) for k, v in raw_options.items()))
    except (ValueError, AttributeError, RecursionError):  # malformed or absurdly nested: no options chosen
        options = ()
    state = State(
        kind=kind,
        keywords=arg("keywords"),
        page=page,
        asin=arg("asin"),
        options=options,
        sub_page=arg("sub_page") if arg("sub_page") in SUB_PAGES else ("Description" if kind == "sub" else ""),
    )
    return segments[1], state, query


# ---- HTML ---------------------------------------------------------------------------------------------------------
_STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:60em}.btn{display:inline-block;padding:.3em .8em;margin:.2em;"
    "border:1px solid #888;border-radius:4px;text-decoration:none;color:#000;background:#eee}"
    ".option.selected{background:#3a7;color:#fff}.result{border-bottom:1px solid #ddd;padding:.5em 0}"
    "#instruction-text{background:#f5f5dc;padding:.5em}"
)


def _e(text: str) -> str:
    return escape(text, quote=False)


def _a(label: str, href: str, cls: str) -> str:
    return f'<a class="{cls}" href="{escape(href)}">{_e(label)}</a>'


def render_html(page: Page, session_id: str, goal: int | None = None) -> str:
    """The page as a standalone HTML document (links point at :func:`state_url` paths of ``session_id``; ``goal``,
    the session's goal index, goes into ``<body data-goal>``)."""

    def link(label: str, cls: str = "btn") -> str:
        return _a(label, state_url(session_id, page.links[label.lower()]), cls)

    lay = page.layout
    data = {"kind": page.kind, "keywords": page.keywords, "page": str(page.page_no), "asin": page.asin}
    if goal is not None:
        data["goal"] = str(goal)
    attrs = " ".join(f'data-{k}="{escape(v)}"' for k, v in data.items())
    body: list[str] = []
    if page.kind != "done":
        body.append(f'<div id="instruction-text"><h4>Instruction:<br>{_e(lay["instruction"])}</h4></div>')
    if page.kind == "search":
        body.insert(0, "<h1>WebShop</h1>")
        action = escape(f"/search_results/{quote(session_id, safe='')}")
        body.append(
            f'<form id="search-form" method="get" action="{action}"><input type="hidden" name="page" value="1">'
            '<input id="search_input" type="text" name="keywords" placeholder="Search...">'
            '<button class="btn btn-search" type="submit">Search</button></form>'
        )
    elif page.kind == "results":
        nav = [link(BACK_TO_SEARCH), f"<p>{_e(lay['summary'])}</p>"]
        if PREV_PAGE.lower() in page.links:
            nav.append(link(PREV_PAGE))
        nav.append(link(NEXT_PAGE))
        body.append('<div class="nav">' + "".join(nav) + "</div>")
        for asin, title, price in lay["rows"]:
            body.append(
                '<div class="result">'
                + f'<h4>{link(asin, "product-link")}</h4><h4 class="product-title">{_e(title)}</h4>'
                + f'<h5 class="product-price">{_e(price)}</h5></div>'
            )
    elif page.kind == "item":
        body.append('<div class="nav">' + link(BACK_TO_SEARCH) + link(PREV_PAGE) + "</div>")
        for name, values in page.options.items():
            chips = "".join(link(v, "option selected" if page.selected.get(name) == v else "option") for v in values)
            body.append(f'<div class="option-group" data-name="{escape(name)}"><h4>{_e(name)}</h4>{chips}</div>')
        body.append(f"<h2>{_e(lay['title'])}</h2><h4>{_e(lay['price'])}</h4><h4>Rating: N.A.</h4>")
        body.append('<div class="sub-pages">' + "".join(link(s) for s in SUB_PAGES) + "</div>")
        body.append('<div class="purchase">' + link(BUY_NOW, "btn btn-buy") + "</div>")
    elif page.kind == "sub":
        body.append('<div class="nav">' + link(BACK_TO_SEARCH) + link(PREV_PAGE) + "</div>")
        body.append('<div class="sub-page">' + "".join(f"<p>{_e(t)}</p>" for t in lay["content"]) + "</div>")
    elif page.kind == "done":
        purchase = page.purchase or {}
        body.append(
            "<h1>Thank you for shopping with us!</h1>"
            + f'<h3>Purchased</h3><pre id="asin">{_e(str(purchase.get("asin", "")))}</pre>'
            + f'<h3>Your score (min 0.0, max 1.0)</h3><pre id="reward">{_e(str(purchase.get("score", 0.0)))}</pre>'
        )
        blob = json.dumps(purchase, ensure_ascii=True, sort_keys=True).replace("</", "<\\/")
        body.append(f'<script type="application/json" id="purchase">{blob}</script>')
    return (
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>WebShop</title><style>{_STYLE}</style></head>'
        f"<body {attrs}>{''.join(body)}</body></html>"
    )


_INVISIBLE = frozenset({"style", "script", "head", "title", "meta", "[document]"})
_CLICKABLE = frozenset({"btn", "product-link", "option"})


def parse_html(html: str) -> Page:
    """Read a page written by :func:`render_html` back into a :class:`Page` (links become URLs).

    One pass over the body: visible strings (stripped, empty ones dropped, nothing from script/style), clickables
    (``a.btn``, ``a.product-link``, ``a.option``; the search form's button), option groups and their selection,
    and the purchase JSON of the done page.
    """
    soup = BeautifulSoup(html, "html.parser")
    body = soup.body
    if not isinstance(body, Tag):
        raise ValueError("not a WebShop page: it has no <body>")
    texts: list[str] = []
    links: dict[str, Any] = {}
    options: dict[str, list[str]] = {}
    selected: dict[str, str] = {}
    result_asins: list[str] = []
    purchase = None
    has_search_bar = False
    form_action = ""
    for node in body.descendants:
        if isinstance(node, NavigableString):
            if isinstance(node, Comment) or node.parent is None or node.parent.name in _INVISIBLE:
                continue
            text = node.strip()
            if text:
                texts.append(text)
            continue
        if not isinstance(node, Tag):
            continue
        name = node.name
        if name == "a":
            classes = node.get("class") or []
            if _CLICKABLE.intersection(classes):
                label = node.get_text().strip()
                if label and label.lower() not in links:
                    links[label.lower()] = node.get("href", "")
                if "product-link" in classes:
                    result_asins.append(label)
                if "option" in classes and isinstance(node.parent, Tag):
                    group = str(node.parent.get("data-name", ""))
                    options.setdefault(group, []).append(label)
                    if "selected" in classes:
                        selected[group] = label
        elif name == "div" and "option-group" in (node.get("class") or []):
            options.setdefault(str(node.get("data-name", "")), [])
        elif name == "form":
            form_action = str(node.get("action", ""))
        elif name == "input" and node.get("id") == "search_input":
            has_search_bar = True
        elif name == "button":  # the search form's submit button: clickable (upstream lists it), refused on click
            label = node.get_text().strip().lower()
            if label:
                links = {label: form_action, **links}
        elif name == "script" and node.get("id") == "purchase":
            purchase = json.loads(node.string or "{}")
    try:
        page_no = int(str(body.get("data-page", "1")))
    except ValueError:
        page_no = 1
    goal_attr = str(body.get("data-goal", ""))
    goal = int(goal_attr) if goal_attr.isdigit() else None
    return Page(
        kind=str(body.get("data-kind", "")),
        texts=texts,
        links=links,
        has_search_bar=has_search_bar,
        keywords=str(body.get("data-keywords", "")),
        page_no=page_no,
        asin=str(body.get("data-asin", "")),
        result_asins=result_asins,
        options=options,
        selected=selected,
        purchase=purchase,
        goal=goal,
    )


def page_signature(page: Page) -> dict[str, Any]:
    """What the agent and the oracle can observe of a page (used to compare transports)."""
    return {
        "kind": page.kind,
        "observation": page.observation,
        "clickables": page.clickables(),
        "has_search_bar": page.has_search_bar,
        "keywords": page.keywords,
        "page_no": page.page_no,
        "asin": page.asin,
        "result_asins": list(page.result_asins),
        "options": {k: list(v) for k, v in page.options.items()},
        "selected": dict(page.selected),
        "purchase": page.purchase,
    }
