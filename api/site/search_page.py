"""The search page, rendered on the server: a plain GET form whose facets are links, so that it
works without JavaScript (search.js then makes the facets checkboxes that filter in place). The
URL holds every choice, as search.js reads and writes it:
/search?q=&page=&sort=&topic=&person=&section=&year=.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from api.site.caching import Rendered
from api.site.pages import SEARCH, Page, serve

# Facet name in the API, URL parameter, heading; as search.js reads and writes them.
FACETS = (
    ("topics", "topic", "Topics"),
    ("people", "person", "People"),
    ("sections", "section", "Sections"),
    ("years", "year", "Years"),
)
SORTS = ("relevance", "newest", "oldest")
DESCRIPTION = "Search every story: headlines, standfirsts, text, people and topics."


async def search(request: Request) -> Response:
    async def produce() -> Rendered:
        page = Page(request)
        params = request.query_params
        q = params.get("q", "").strip()
        values: dict[str, Any] = {
            "q": q,
            "search_text": q,
            # The search page itself is a page like any other; its results are not, as search
            # engines ask of a site's own result pages.
            "noindex": bool(q),
            "title": "Search",
            "description": DESCRIPTION,
        }
        if q:
            chosen = {param: params.getlist(param) for _, param, _ in FACETS}
            sort = params.get("sort", "relevance").lower()
            sort = sort if sort in SORTS else "relevance"
            number = int(params["page"]) if params.get("page", "").isdigit() else 1
            found = (
                await page.run(
                    "site-search",
                    q=q,
                    page=max(1, number),
                    sort=sort.upper(),
                    filter=_search_filter(chosen),
                )
            )["search"]
            values.update(
                search=found,
                sort=sort,
                sorts=SORTS,
                # The sort form keeps the facets chosen, as hidden fields.
                kept=[(param, value) for _, param, _ in FACETS for value in chosen[param]],
                facets=_facets(q, sort, chosen, found["facets"]),
                pages=_pages(q, sort, chosen, found["page"], found["totalPages"]),
                title=f"Search: {q}",
            )
        return page.render("search.html", SEARCH, **values)

    return await serve(request, produce)


def _search_filter(chosen: dict[str, list[str]]) -> dict[str, Any]:
    given: dict[str, Any] = {}
    if chosen["topic"]:
        given["topics"] = chosen["topic"]
    if chosen["person"]:
        given["people"] = chosen["person"]
    if chosen["section"]:
        given["section"] = chosen["section"][0]
    years = [int(y) for y in chosen["year"] if y.isdigit() and len(y) == 4]
    if years:
        # Several years select the span from the first to the last, as search.js does.
        given["publishedAfter"] = f"{min(years)}-01-01T00:00:00Z"
        given["publishedBefore"] = f"{max(years) + 1}-01-01T00:00:00Z"
    return given


def _search_url(q: str, sort: str, chosen: dict[str, list[str]], page: int = 1) -> str:
    pairs = [("q", q)]
    pairs += [(param, value) for _, param, _ in FACETS for value in chosen[param]]
    if sort != "relevance":
        pairs.append(("sort", sort))
    if page > 1:
        pairs.append(("page", str(page)))
    return "/search?" + urlencode(pairs)


def _facets(
    q: str, sort: str, chosen: dict[str, list[str]], facets: dict[str, Any]
) -> list[dict[str, Any]]:
    shown = []
    for name, param, legend in FACETS:
        values = []
        for value in facets[name][:8]:
            selected = value["value"] in chosen[param]
            toggled = {**chosen}
            if selected:
                toggled[param] = [v for v in chosen[param] if v != value["value"]]
            elif param == "section":
                toggled[param] = [value["value"]]
            else:
                toggled[param] = [*chosen[param], value["value"]]
            values.append(
                {
                    "label": value["label"],
                    "count": value["count"],
                    "selected": selected,
                    "href": _search_url(q, sort, toggled),
                }
            )
        shown.append({"legend": legend, "options": values})
    return shown


def _pages(
    q: str, sort: str, chosen: dict[str, list[str]], current: int, total: int
) -> list[dict[str, Any]]:
    if total <= 1:
        return []
    numbers = range(max(1, current - 4), min(total, current + 4) + 1)
    return [
        {"number": n, "current": n == current, "href": _search_url(q, sort, chosen, n)}
        for n in numbers
    ]
