"""Where each thing a reader can open lives on the site: one place for the pages, the GraphQL
`Article.url`, feeds, sitemaps and structured data to build their links from."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import HTTPConnection

from api.settings import Settings


def base_url(request: HTTPConnection, settings: Settings) -> str:
    """The site's public address without a trailing slash: PUBLIC_BASE_URL, else the request's."""
    configured = settings.public_base_url.strip().rstrip("/")
    if configured:
        return configured
    return str(request.base_url).rstrip("/")


def _path(kind: str, slug: str) -> str:
    return f"/{kind}/{quote(slug, safe='')}"


def article_path(slug: str) -> str:
    return _path("articles", slug)


def topic_path(slug: str) -> str:
    return _path("topics", slug)


def person_path(slug: str) -> str:
    return _path("people", slug)


def author_path(slug: str) -> str:
    return _path("authors", slug)


def section_path(slug: str) -> str:
    return _path("sections", slug)
