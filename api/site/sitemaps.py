"""robots.txt, the sitemap index, a sitemap of every page a crawler may visit and the Google News
sitemap; rendered from models.syndication and cached as pages are; no SQL here.

Every sitemap holds at most URLS_PER_SITEMAP pages, the sitemaps.org limit, and its statement
reads no more than that: a sitemap is one block of ids (`articles-3.xml` holds stories 100,001 to
150,000), so a crawler that fetched the others before need not fetch them again.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute

from api import cache, urls
from api.loaders import reading
from api.services import Services
from api.site import caching
from api.site.caching import Rendered
from api.site.syndication import add, document, record_reads, root, route, w3c
from models import syndication
from models.base import utcnow
from models.syndication import Listed

URLS_PER_SITEMAP = 50_000
# Google News takes the stories of the last two days, at most 1,000 a sitemap.
NEWS_WINDOW = timedelta(days=2)
NEWS_LIMIT = 1_000
SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
XML = "application/xml; charset=utf-8"
HEADERS = {"X-Content-Type-Options": "nosniff"}
# Each sitemap's name, what it lists, and where those pages live.
SITEMAPS: dict[str, tuple[Listed, Callable[[str], str]]] = {
    "articles": ("article", urls.article_path),
    "sections": ("section", urls.section_path),
    "topics": ("topic", urls.topic_path),
    "people": ("person", urls.person_path),
    "authors": ("author", urls.author_path),
}
# Crawlers may read everything but the API and search results (endless, and each one a query);
# the search page itself, without a query, is a page like any other.
ROBOTS = """User-agent: *
Disallow: /graphql
Disallow: /search?

Sitemap: {base}/sitemap.xml
"""


def sitemap_path(name: str, number: int) -> str:
    return f"/sitemaps/{name}-{number}.xml"


async def robots(request: Request) -> Response:
    services: Services = request.app.state.services
    base = urls.base_url(request, services.settings)
    return PlainTextResponse(
        ROBOTS.format(base=base),
        headers={**HEADERS, "Cache-Control": f"public, max-age={services.settings.http_max_age}"},
    )


async def _serve(request: Request, produce: Callable[[str], Awaitable[bytes]]) -> Response:
    services: Services = request.app.state.services
    base = urls.base_url(request, services.settings)

    async def rendered() -> Rendered:
        record_reads(services.settings)
        return Rendered(await produce(base))

    return await caching.serve(request, rendered, media_type=XML, headers=HEADERS)


async def index(request: Request) -> Response:
    engine: AsyncEngine = request.app.state.engine

    async def produce(base: str) -> bytes:
        top = root("sitemapindex", xmlns=SITEMAP_NS)
        async with reading(engine).connect() as conn:
            for name, (listed, _) in SITEMAPS.items():
                for block in await syndication.blocks(conn, listed, URLS_PER_SITEMAP):
                    entry = add(top, "sitemap")
                    add(entry, "loc", base + sitemap_path(name, block.number))
                    if block.lastmod is not None:
                        add(entry, "lastmod", w3c(block.lastmod))
        # Always listed, so that the index does not change with the clock; it may be empty.
        add(add(top, "sitemap"), "loc", base + "/sitemaps/news.xml")
        return document(top)

    return await _serve(request, produce)


def _sitemap(name: str) -> Callable[[Request], Awaitable[Response]]:
    listed, path = SITEMAPS[name]

    async def endpoint(request: Request) -> Response:
        engine: AsyncEngine = request.app.state.engine
        number: int = request.path_params["number"]

        async def produce(base: str) -> bytes:
            async with reading(engine).connect() as conn:
                found = await syndication.locations(conn, listed, number, URLS_PER_SITEMAP)
            if not found:
                # Not in the index; a urlset must hold at least one url.
                raise HTTPException(status_code=404)
            top = root("urlset", xmlns=SITEMAP_NS)
            for location in found:
                url = add(top, "url")
                add(url, "loc", base + path(location.slug))
                if location.lastmod is not None:
                    add(url, "lastmod", w3c(location.lastmod))
            return document(top)

        return await _serve(request, produce)

    return endpoint


_CHINESE = {"zh-cn": "zh-cn", "zh-hans": "zh-cn", "zh-sg": "zh-cn", "zh-tw": "zh-tw"}
_CHINESE |= {"zh-hant": "zh-tw", "zh-hk": "zh-tw", "zh-mo": "zh-tw"}


def news_language(language: str) -> str:
    """A story's language as Google News names it: an ISO 639 code of two or three letters, or
    zh-cn / zh-tw for Chinese; "und" (undetermined) for anything else."""
    tag = language.strip().lower().replace("_", "-")
    for prefix, code in _CHINESE.items():
        if tag == prefix or tag.startswith(prefix + "-"):
            return code
    primary = tag.split("-")[0]
    return primary if re.fullmatch("[a-z]{2,3}", primary) else "und"


async def news(request: Request) -> Response:
    engine: AsyncEngine = request.app.state.engine
    services: Services = request.app.state.services

    async def produce(base: str) -> bytes:
        # Which stories are in depends on the clock, which no write invalidates: never stored,
        # still answered with an ETag. One statement of at most NEWS_LIMIT rows.
        cache.read(cache.VOLATILE)
        async with reading(engine).connect() as conn:
            found = await syndication.published_since(conn, utcnow() - NEWS_WINDOW, NEWS_LIMIT)
        # An empty urlset is what crawlers expect of a quiet two days, though the schema wants
        # one url at least.
        top = root("urlset", xmlns=SITEMAP_NS, **{"xmlns:news": NEWS_NS})
        for story in found:
            url = add(top, "url")
            add(url, "loc", base + urls.article_path(story.slug))
            about = add(url, "news:news")
            publication = add(about, "news:publication")
            add(publication, "news:name", services.settings.publication_name)
            add(publication, "news:language", news_language(story.language))
            add(about, "news:publication_date", w3c(story.published_at))
            add(about, "news:title", story.title)
        return document(top)

    return await _serve(request, produce)


routes: list[BaseRoute] = [
    route("/robots.txt", robots),
    route("/sitemap.xml", index),
    route("/sitemaps/news.xml", news),
    *(route(f"/sitemaps/{name}-{{number:int}}.xml", _sitemap(name)) for name in SITEMAPS),
]
