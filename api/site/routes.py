"""Routes of the reader site: one small HTML shell per page, /static, and /widget.js.

A shell holds the header, the search box, an empty <main> and the contract queries its scripts
send to /graphql; the scripts render the page. No page reads the database here, so a shell costs
the same for every slug and a CDN may keep it.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route, request_response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Scope

from api.operations import query_hash

HERE = Path(__file__).resolve().parent
CONTRACT = HERE / "contract"
STATIC = HERE / "static"

# No inline script or style anywhere: the shells carry data only in a JSON <script> block,
# which browsers never execute and CSP does not govern.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # Shells hold no content of their own; a minute keeps a deploy's new scripts close behind.
    "Cache-Control": "public, max-age=60",
}
WIDGET_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Cache-Control": "public, max-age=300",
    "X-Content-Type-Options": "nosniff",
}
# Every page has the search box, and the box asks for suggestions.
EVERY_PAGE = ("search-suggest",)
WIDGET_QUERY = "related-widget"


@dataclass(frozen=True)
class Page:
    title: str
    # The page's entry module first, then the modules it imports (preloaded, no waterfall).
    modules: tuple[str, ...]
    queries: tuple[str, ...]
    widget: bool = False


PAGES = {
    "/": Page("Latest stories", ("home.js", "site.js"), ("latest-articles",)),
    "/articles/{slug}": Page(
        "Story",
        ("article.js", "comments.js", "site.js"),
        ("article-page", "comments-thread", "post-comment", "suggest-correction"),
        widget=True,
    ),
    "/search": Page("Search", ("search.js", "site.js"), ("site-search",)),
    "/people/{slug}": Page("Person", ("person.js", "site.js"), ("person-page",)),
    "/topics/{slug}": Page("Topic", ("topic.js", "site.js"), ("topic-page",)),
}


def contract_query(name: str) -> str:
    """A contract document exactly as written; the pages send it unchanged."""
    return (CONTRACT / f"{name}.graphql").read_text(encoding="utf-8")


def embedded_queries(names: tuple[str, ...]) -> str:
    """The queries as JSON that is safe inside <script>: no `<`, `>` or `&` can close it."""
    text = json.dumps({name: contract_query(name) for name in names}, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render(page: Page) -> str:
    entry, *imported = page.modules
    preloads = "".join(f'<link rel="modulepreload" href="/static/{name}">\n' for name in imported)
    widget = '<script src="/widget.js" defer></script>\n' if page.widget else ""
    queries = embedded_queries(EVERY_PAGE + page.queries)
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(page.title)} — Newsroom</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/site.css">
{preloads}<script type="module" src="/static/{entry}"></script>
{widget}<script type="application/json" id="queries">{queries}</script>
</head>
<body>
<a class="skip-link" href="#main">Skip to content</a>
<header class="site-header">
<a class="brand" href="/">Newsroom</a>
<form role="search" action="/search" class="search-box">
<label for="q">Search stories</label>
<div class="search-field">
<input type="search" name="q" id="q" autocomplete="off" aria-controls="suggestions"
 aria-autocomplete="list" spellcheck="false">
<ul id="suggestions" role="listbox" aria-label="Suggestions" hidden></ul>
</div>
<button type="submit">Search</button>
</form>
</header>
<main id="main" tabindex="-1" aria-busy="true"><p class="loading">Loading…</p></main>
<footer class="site-footer">
<p>Newsroom reader site, served by the content API.
Developers: <a href="/graphql">GraphQL API</a>.</p>
</footer>
</body>
</html>
"""


def _page(page: Page) -> ASGIApp:
    body = render(page)

    async def endpoint(_: Request) -> Response:
        return HTMLResponse(body, headers=PAGE_HEADERS)

    return GZipMiddleware(request_response(endpoint))


class _Static(StaticFiles):
    """The site's scripts and styles, revalidated on every use (their names carry no version,
    as there is no build step to stamp one)."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path == "widget.js":
            # The raw template; /widget.js serves it filled in.
            raise HTTPException(status_code=404)
        response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


@lru_cache(maxsize=1)
def _widget_template() -> str:
    query = contract_query(WIDGET_QUERY)
    template = (STATIC / "widget.js").read_text(encoding="utf-8")
    return _fill(template, query=query, hash=query_hash(query))


def _fill(template: str, **values: str) -> str:
    for key, value in values.items():
        template = template.replace(f'"{{{{{key}}}}}"', json.dumps(value))
    return template


def widget_script(origin: str) -> str:
    """widget.js with this server's origin, the widget's query and its persisted-query hash
    filled in (host pages on plain http have no crypto.subtle to compute the hash)."""
    return _fill(_widget_template(), origin=origin)


async def widget(request: Request) -> Response:
    origin = str(request.base_url).rstrip("/")
    return Response(
        widget_script(origin), media_type="text/javascript; charset=utf-8", headers=WIDGET_HEADERS
    )


routes: list[BaseRoute] = [
    *(Route(path, _page(page), methods=["GET"]) for path, page in PAGES.items()),
    Route("/widget.js", GZipMiddleware(request_response(widget)), methods=["GET"]),
    Mount("/static", app=GZipMiddleware(_Static(directory=STATIC)), name="static"),
]
