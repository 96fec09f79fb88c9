"""Routes of the reader site: its pages (api/site/pages.py, rendered on the server), /static,
and /widget.js, the related-stories widget other sites embed."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, request_response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from api.operations import query_hash
from api.site import data, feeds, pages, search_page, sitemaps

HERE = Path(__file__).resolve().parent
CONTRACT = HERE / "contract"
STATIC = HERE / "static"

WIDGET_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Cache-Control": "public, max-age=300",
    "X-Content-Type-Options": "nosniff",
}
WIDGET_QUERY = "related-widget"


def contract_query(name: str) -> str:
    """A contract document exactly as the frontend teams wrote it."""
    return (CONTRACT / f"{name}.graphql").read_text(encoding="utf-8")


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
    query = data.document(WIDGET_QUERY)
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


PAGES = {
    "/": pages.home,
    "/articles/{slug}": pages.article,
    "/search": search_page.search,
    "/people/{slug}": pages.person,
    "/topics/{slug}": pages.topic,
    "/sections/{slug}": pages.section,
    "/authors/{slug}": pages.author,
}

routes: list[BaseRoute] = [
    *(
        Route(path, GZipMiddleware(request_response(page)), methods=["GET"])
        for path, page in PAGES.items()
    ),
    Route("/widget.js", GZipMiddleware(request_response(widget)), methods=["GET"]),
    Mount("/static", app=GZipMiddleware(_Static(directory=STATIC)), name="static"),
    *feeds.routes,
    *sitemaps.routes,
]
