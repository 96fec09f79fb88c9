"""RSS 2.0 and Atom 1.0 feeds of the newest stories: the site's, and each section's, topic's,
person's and author's; cached as pages are (api/site/caching.py); no SQL here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeAlias
from xml.etree.ElementTree import Element

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from api import urls
from api.loaders import reading
from api.services import Services
from api.site import caching
from api.site.caching import Rendered
from api.site.syndication import add, document, record_reads, rfc822, root, route, w3c
from models import syndication
from models.base import utcnow
from models.syndication import Kind, Story, Subject

FEED_SIZE = 50
RSS = "application/rss+xml"
ATOM = "application/atom+xml"
Format: TypeAlias = Literal["rss", "atom"]
_TYPES: dict[Format, str] = {"rss": RSS, "atom": ATOM}
ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # Public stories: web-based feed readers may fetch them from any origin.
    "Access-Control-Allow-Origin": "*",
}
# Where each kind's pages live; a subject's feeds sit under its page. The routes' templates
# spell the same paths (the tests fetch every feed by `feed_path`).
_PAGES: dict[Kind, Callable[[str], str]] = {
    "section": urls.section_path,
    "topic": urls.topic_path,
    "person": urls.person_path,
    "author": urls.author_path,
}
_ROUTED: dict[Kind, str] = {
    "section": "/sections/{slug}",
    "topic": "/topics/{slug}",
    "person": "/people/{slug}",
    "author": "/authors/{slug}",
}
_KINDS: dict[str, Kind] = {kind: kind for kind in _PAGES}
_ABOUT: dict[Kind, str] = {
    "section": "The newest stories in {}",
    "topic": "The newest stories about {}",
    "person": "The newest stories that mention {}",
    "author": "The newest stories by {}",
}
LATEST = "Latest stories"


def feed_path(kind: Kind | None, slug: str | None, fmt: Format) -> str:
    """`/feeds/latest.rss`, or under the subject's page: `/topics/crimea/feed.atom`."""
    if kind is None or slug is None:
        return f"/feeds/latest.{fmt}"
    return f"{_PAGES[kind](slug)}/feed.{fmt}"


def alternates(kind: str | None, slug: str | None, title: str) -> list[tuple[str, str, str]]:
    """(href, type, title) of each `<link rel="alternate">` a page announces: the site's latest
    stories always, then the page's own feeds when it is a section's, topic's, person's or
    author's (`kind` one of "section", "topic", "person", "author"; `title` its heading)."""
    found = [
        (feed_path(None, None, "rss"), RSS, f"{LATEST} (RSS)"),
        (feed_path(None, None, "atom"), ATOM, f"{LATEST} (Atom)"),
    ]
    if kind is not None and slug is not None:
        subject = _KINDS.get(kind)
        if subject is None:
            raise ValueError(f"no feeds for {kind!r} pages; kinds: {', '.join(_KINDS)}")
        found += [
            (feed_path(subject, slug, "rss"), RSS, f"{title} (RSS)"),
            (feed_path(subject, slug, "atom"), ATOM, f"{title} (Atom)"),
        ]
    return found


@dataclass(frozen=True)
class Feed:
    """One feed as both formats write it: absolute links throughout."""

    base: str
    publication: str
    title: str
    description: str
    page: str
    self_link: str
    stories: list[Story]

    @property
    def updated(self) -> datetime | None:
        """The newest change among the items: an older story edited counts too."""
        return max((story.updated_at for story in self.stories), default=None)

    def link(self, story: Story) -> str:
        return self.base + urls.article_path(story.slug)

    def category_scheme(self, kind: str) -> str:
        return f"{self.base}/{'sections' if kind == 'section' else 'topics'}"


def _feed(
    base: str, publication: str, subject: Subject | None, fmt: Format, stories: list[Story]
) -> Feed:
    kind, slug = (subject.kind, subject.slug) if subject is not None else (None, None)
    if subject is None:
        title, description, page = LATEST, f"The newest stories from {publication}", base + "/"
    else:
        title = subject.name
        description = subject.description or _ABOUT[subject.kind].format(subject.name)
        page = base + _PAGES[subject.kind](subject.slug)
    return Feed(
        base=base,
        publication=publication,
        title=f"{publication}: {title}",
        description=description,
        page=page,
        self_link=base + feed_path(kind, slug, fmt),
        stories=stories,
    )


def rss(feed: Feed) -> bytes:
    top = root("rss", version="2.0", **{"xmlns:atom": ATOM_NS, "xmlns:dc": DC_NS})
    channel = add(top, "channel")
    add(channel, "title", feed.title)
    add(channel, "link", feed.page)
    add(channel, "description", feed.description)
    add(channel, "atom:link", href=feed.self_link, rel="self", type=RSS)
    if feed.updated is not None:
        add(channel, "lastBuildDate", rfc822(feed.updated))
    for story in feed.stories:
        item = add(channel, "item")
        add(item, "title", story.title)
        add(item, "link", feed.link(story))
        # A story's slug never changes, so its address is a guid that stays.
        add(item, "guid", feed.link(story), isPermaLink="true")
        if story.dek:
            add(item, "description", story.dek)
        add(item, "pubDate", rfc822(story.published_at))
        # RSS has no date of change; Atom's element is the one feed readers know.
        add(item, "atom:updated", w3c(story.updated_at))
        if story.authors:
            # RSS's own <author> must be an e-mail address; Dublin Core's takes a name.
            add(item, "dc:creator", ", ".join(story.authors))
        for category in story.categories:
            add(item, "category", category.name, domain=feed.category_scheme(category.kind))
    return document(top)


def atom(feed: Feed) -> bytes:
    top = root("feed", xmlns=ATOM_NS)
    add(top, "id", feed.self_link)
    add(top, "title", feed.title)
    add(top, "subtitle", feed.description)
    add(top, "link", rel="self", type=ATOM, href=feed.self_link)
    add(top, "link", rel="alternate", type="text/html", href=feed.page)
    # Required even of an empty feed, which then has nothing older to name.
    add(top, "updated", w3c(feed.updated or utcnow()))
    # Atom wants an author on every entry; the publication stands in for stories without one.
    _person(top, "author", feed.publication)
    for story in feed.stories:
        entry = add(top, "entry")
        add(entry, "id", feed.link(story))
        add(entry, "title", story.title)
        add(entry, "link", rel="alternate", type="text/html", href=feed.link(story))
        add(entry, "published", w3c(story.published_at))
        add(entry, "updated", w3c(story.updated_at))
        if story.dek:
            add(entry, "summary", story.dek)
        for name in story.authors:
            _person(entry, "author", name)
        for category in story.categories:
            add(
                entry,
                "category",
                term=category.slug,
                label=category.name,
                scheme=feed.category_scheme(category.kind),
            )
    return document(top)


def _person(parent: Element, tag: str, name: str) -> None:
    add(add(parent, tag), "name", name)


_RENDER: dict[Format, Callable[[Feed], bytes]] = {"rss": rss, "atom": atom}


def _endpoint(kind: Kind | None, fmt: Format) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        services: Services = request.app.state.services
        engine: AsyncEngine = request.app.state.engine
        slug: str | None = request.path_params.get("slug")
        base = urls.base_url(request, services.settings)

        async def produce() -> Rendered:
            record_reads(services.settings)
            subject = None
            async with reading(engine).connect() as conn:
                if kind is not None and slug is not None:
                    subject = await syndication.subject_by_slug(conn, kind, slug)
                    if subject is None:
                        raise HTTPException(status_code=404)
                stories = await syndication.newest_stories(conn, subject, FEED_SIZE)
            feed = _feed(base, services.settings.publication_name, subject, fmt, stories)
            return Rendered(_RENDER[fmt](feed))

        media_type = f"{_TYPES[fmt]}; charset=utf-8"
        return await caching.serve(request, produce, media_type=media_type, headers=HEADERS)

    return endpoint


routes: list[BaseRoute] = [
    *(route(feed_path(None, None, fmt), _endpoint(None, fmt)) for fmt in _TYPES),
    *(
        route(f"{page}/feed.{fmt}", _endpoint(kind, fmt))
        for kind, page in _ROUTED.items()
        for fmt in _TYPES
    ),
]
