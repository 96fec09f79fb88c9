"""The reader site's pages, rendered on the server from the site's GraphQL documents: the whole
story is in the HTML, for readers without JavaScript, crawlers and link previews; the scripts
then enhance it (suggestions, facets without reloading, comments and corrections).

Templates are Jinja2's with autoescaping on: every value from the database or from readers
reaches the page as text. The one exception is a search highlight, which the API sends as
escaped text with <mark> around matches; `highlighted` rebuilds it from its text, so only
<mark> can survive.
"""

from __future__ import annotations

import html
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import Response

from api import urls
from api.services import Services
from api.site import caching, data, feeds, metadata
from api.site.caching import Rendered
from models import article as article_model

TEMPLATES = Path(__file__).resolve().parent / "templates"
SITE_NAME = "Newsroom"
# No inline script or style anywhere: data rides in JSON <script> blocks (the site's queries,
# JSON-LD), which browsers never execute and CSP does not govern.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
HTML = "text/html; charset=utf-8"
# Every page has the search box, and the box asks for suggestions.
EVERY_PAGE = ("search-suggest",)
COMMENTS_PAGE_SIZE = 20  # as comments.js asks for
LIST_PAGE_SIZE = 20


@dataclass(frozen=True)
class Script:
    # The page's entry module first, then the modules it imports (preloaded, no waterfall).
    modules: tuple[str, ...]
    queries: tuple[str, ...] = ()


HOME = Script(("site.js",))
ARTICLE = Script(
    ("article.js", "comments.js", "site.js"),
    ("comments-thread", "post-comment", "suggest-correction"),
)
SEARCH = Script(("search.js", "site.js"), ("site-search",))


def _long_date(iso: str | None) -> str:
    if not iso:
        return ""
    moment = datetime.fromisoformat(iso)
    return f"{moment.day} {moment:%B %Y}"


def highlighted(escaped: str) -> Markup:
    """A highlight from the API as HTML in which only <mark> elements survive."""
    parts: list[str] = []
    marked = False
    for part in re.split(r"(<mark>|</mark>)", escaped):
        if part == "<mark>":
            marked = True
        elif part == "</mark>":
            marked = False
        elif part:
            text = escape(html.unescape(part))
            parts.append(f"<mark>{text}</mark>" if marked else str(text))
    return Markup("".join(parts))


def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        article_path=urls.article_path,
        topic_path=urls.topic_path,
        person_path=urls.person_path,
        author_path=urls.author_path,
        section_path=urls.section_path,
        long_date=_long_date,
        highlighted=highlighted,
    )
    return environment


TEMPLATE_ENVIRONMENT = _environment()


def _feeds(feed_of: tuple[str, str, str] | None) -> list[dict[str, str]]:
    """Every page announces the latest stories' feeds; a section's, topic's, person's or
    author's page also its own (`feed_of`: kind, slug, heading)."""
    kind, slug, title = feed_of or (None, None, "")
    return [
        {"href": href, "type": kind_of, "title": name}
        for href, kind_of, name in feeds.alternates(kind, slug, title)
    ]


class Page:
    """What one request renders: the template's values common to every page, then its own."""

    def __init__(self, request: Request) -> None:
        self.request = request
        services: Services = request.app.state.services
        self.settings = services.settings
        self.base = urls.base_url(request, self.settings)

    def render(
        self, template: str, script: Script, *, status: int = 200, **values: Any
    ) -> Rendered:
        entry, *preloads = script.modules
        queries = {name: data.document(name) for name in EVERY_PAGE + script.queries}
        context = {
            "site_name": SITE_NAME,
            "entry": entry,
            "preloads": preloads,
            "queries": metadata.script_json(queries),
            "language": "en",
            "description": None,
            "noindex": False,
            "canonical": None,
            "feeds": _feeds(values.pop("feed_of", None)),
            "open_graph": [],
            "twitter": [],
            "structured_data": [],
            "search_text": None,
            "latest_feed": feeds.feed_path(None, None, "rss"),
            **values,
        }
        body = TEMPLATE_ENVIRONMENT.get_template(template).render(context)
        return Rendered(body.encode(), status)

    def missing(self, what: str, *, gone: bool = False) -> Rendered:
        """A real page for what does not exist (404), or no longer does (410)."""
        if gone:
            heading = "This story is no longer available"
            message = "It was published here and has since been withdrawn."
        else:
            heading = f"{what} not found"
            message = "There is nothing at this address: it may have been mistyped."
        return self.render(
            "gone.html",
            HOME,
            status=410 if gone else 404,
            title=heading,
            heading=heading,
            message=message,
            noindex=True,
        )

    async def run(self, name: str, **variables: Any) -> dict[str, Any]:
        return await data.run(self.request, name, variables, self.base)


async def serve(request: Request, produce: Any) -> Response:
    return await caching.serve(request, produce, media_type=HTML, headers=PAGE_HEADERS)


def _after(request: Request) -> str | None:
    return request.query_params.get("after") or None


async def home(request: Request) -> Response:
    async def produce() -> Rendered:
        page = Page(request)
        found = await page.run("latest-articles", first=LIST_PAGE_SIZE, after=_after(request))
        return page.render(
            "home.html",
            HOME,
            title="Latest stories",
            description=f"The latest stories from {SITE_NAME}.",
            canonical=page.base + "/",
            articles=found["articles"],
            structured_data=[metadata.website(page.base, SITE_NAME)],
        )

    return await serve(request, produce)


async def article(request: Request) -> Response:
    slug = request.path_params["slug"]

    async def produce() -> Rendered:
        page = Page(request)
        story = (await page.run("article-page", slug=slug))["article"]
        if story is None:
            async with request.app.state.engine.connect() as conn:
                gone = await article_model.was_published(conn, slug)
            return page.missing("Story", gone=gone)
        thread = (await page.run("comments-thread", slug=slug, first=COMMENTS_PAGE_SIZE))["article"]
        described = metadata.article(page.base, SITE_NAME, story)
        return page.render(
            "article.html",
            ARTICLE,
            title=story["title"],
            article=story,
            thread=thread,
            updated=(story["updatedAt"] or "")[:10] > (story["publishedAt"] or "")[:10],
            **described,
        )

    return await serve(request, produce)


@dataclass(frozen=True)
class Profile:
    """A page about one named thing (a topic, a person, an author): the document that reads it,
    the field it answers in (also the template's name), and how the page describes it."""

    document: str
    field: str
    what: str
    path: Callable[[str], str]
    describe: Callable[[dict[str, Any]], str]
    structured: Callable[[str, dict[str, Any]], Markup] | None = None
    paged: bool = True


def profile(spec: Profile) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        slug = request.path_params["slug"]

        async def produce() -> Rendered:
            page = Page(request)
            variables: dict[str, Any] = {"slug": slug}
            if spec.paged:
                variables.update(first=LIST_PAGE_SIZE, after=_after(request))
            found = (await page.run(spec.document, **variables))[spec.field]
            if found is None:
                return page.missing(spec.what)
            return page.render(
                f"{spec.field}.html",
                HOME,
                title=found["name"],
                description=spec.describe(found),
                canonical=page.base + spec.path(slug),
                structured_data=[spec.structured(page.base, found)] if spec.structured else [],
                feed_of=(spec.field, slug, found["name"]),
                **{spec.field: found},
            )

        return await serve(request, produce)

    return endpoint


topic = profile(
    Profile(
        "topic-page",
        "topic",
        "Topic",
        urls.topic_path,
        lambda found: f"Stories on {found['name']} from {SITE_NAME}.",
    )
)
person = profile(
    Profile(
        "person-page",
        "person",
        "Person",
        urls.person_path,
        lambda found: found["description"] or f"Stories that mention {found['name']}.",
        metadata.person,
        paged=False,
    )
)
author = profile(
    Profile(
        "author-page",
        "author",
        "Author",
        urls.author_path,
        lambda found: f"Stories by {found['name']} for {SITE_NAME}.",
        metadata.author,
    )
)


async def section(request: Request) -> Response:
    slug = request.path_params["slug"]

    async def produce() -> Rendered:
        page = Page(request)
        found = await page.run(
            "section-page", slug=slug, first=LIST_PAGE_SIZE, after=_after(request)
        )
        named = next((s for s in found["sections"] if s["slug"] == slug), None)
        if named is None:
            return page.missing("Section")
        return page.render(
            "section.html",
            HOME,
            title=named["name"],
            description=f"The latest {named['name']} stories from {SITE_NAME}.",
            canonical=page.base + urls.section_path(slug),
            section=named,
            articles=found["articles"],
            feed_of=("section", slug, named["name"]),
        )

    return await serve(request, produce)
