"""The reader site's pages as crawlers, link previews and readers without JavaScript get them:
the whole story in the HTML, statuses a crawler can trust, the metadata search engines read,
and the same cache and invalidation as GraphQL answers."""

from __future__ import annotations

import re

import extruct
import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.services import SearchService
from api.settings import Settings
from models.people_queue import PeopleWorker
from tests.conftest import SAMPLE_SLUG, gql, serve
from tests.support import (
    SAMPLE_PEOPLE,
    XSS_BODY,
    XSS_IMG,
    XSS_SCRIPT,
    XSS_SLUG,
    XSS_TITLE,
    save,
)

ARTICLE = f"/articles/{SAMPLE_SLUG}"
TITLE = "Kremlin Says Leaked German Officers' Call Proves West Is Involved in Ukraine"
PUBLISH = "mutation ($slug: String!) { publishArticle(slug: $slug) { __typename } }"
UNPUBLISH = "mutation ($slug: String!) { unpublishArticle(slug: $slug) { __typename } }"
DELETE = "mutation ($slug: String!) { deleteArticle(slug: $slug) { __typename } }"


@pytest.fixture
async def people(db: AsyncEngine, sample: None) -> None:
    """The sample with its people extracted, as the worker does after an import."""
    await PeopleWorker(db, batch_size=2).run_once()


def text_of(html: str) -> str:
    """The page's visible text, roughly: tags dropped, entities as text."""
    import html as entities

    return entities.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def structured(response: httpx.Response) -> tuple[list[dict], dict[str, list[str]]]:
    """The page's JSON-LD items, and its Open Graph properties (each with all its values)."""
    found = extruct.extract(
        response.text, base_url=str(response.url), syntaxes=["json-ld", "opengraph"]
    )
    graph: dict[str, list[str]] = {}
    for block in found["opengraph"]:
        for name, value in block["properties"]:
            graph.setdefault(name, []).append(value)
    return found["json-ld"], graph


async def test_the_whole_story_is_in_the_html(client: httpx.AsyncClient, people: None) -> None:
    response = await client.get(ARTICLE)
    assert response.status_code == 200
    page = response.text
    shown = text_of(page)
    assert f"<title>{TITLE.replace(chr(39), '&#39;')} — Newsroom</title>" in page
    assert re.search(r'<h1 id="story-title">[^<]+</h1>', page)
    assert "Bundeswehr officers discussing possible Taurus missile strikes" in shown
    assert '<a rel="author" href="/authors/afp">AFP</a>' in page
    assert "<h2>Plans to strike</h2>" in page and "<h2>Information war</h2>" in page
    for topic in ("war-in-ukraine", "germany", "crimea", "kremlin"):
        assert f'href="/topics/{topic}"' in page
    for name, role in SAMPLE_PEOPLE.items():
        assert re.search(rf'>{name}</a> <span class="role">{role}</span>', page), name
    # The comments: all five, each spoiler folded away until a reader opens it, no script needed.
    assert "Comments (5)" in shown
    assert page.count('<details class="spoiler"><summary>Show spoiler</summary>') == 5
    assert "data-rendered" in page and "Loading…" not in page


async def test_search_engines_and_link_previews_read_the_story(
    client: httpx.AsyncClient, people: None
) -> None:
    response = await client.get(ARTICLE)
    canonical = f"http://test{ARTICLE}"
    assert f'<link rel="canonical" href="{canonical}">' in response.text
    assert re.search(
        r'<meta name="description" content="A 38-minute recording[^"]+">', response.text
    )
    json_ld, graph = structured(response)
    news = next(d for d in json_ld if d["@type"] == "NewsArticle")
    assert news["headline"] == TITLE
    assert news["url"] == canonical
    assert news["datePublished"].startswith("2024-03-04T12:00:00")
    assert news["dateModified"]
    assert news["author"] == [{"@type": "Person", "name": "AFP", "url": "http://test/authors/afp"}]
    assert news["publisher"]["name"] == "Newsroom"
    assert news["articleSection"] == "News"
    assert set(news["keywords"]) == {"War in Ukraine", "Germany", "Crimea", "Kremlin"}
    assert {m["name"]: m["jobTitle"] for m in news["mentions"]} == SAMPLE_PEOPLE
    crumbs = next(d for d in json_ld if d["@type"] == "BreadcrumbList")
    assert [i["name"] for i in crumbs["itemListElement"]] == ["Home", "News", TITLE]
    assert graph["og:type"] == ["article"]
    assert graph["og:url"] == [canonical]
    assert graph["og:title"] == [TITLE]
    assert graph["article:section"] == ["News"]
    assert graph["article:published_time"][0].startswith("2024-03-04")
    assert set(graph["article:tag"]) == set(news["keywords"])
    assert '<meta name="twitter:card" content="summary">' in response.text

    person = await client.get("/people/olaf-scholz")
    assert person.status_code == 200
    described = next(d for d in structured(person)[0] if d["@type"] == "Person")
    assert described["name"] == "Olaf Scholz"
    assert described["url"] == "http://test/people/olaf-scholz"


async def test_links_use_the_public_base_url_when_it_is_set(db: AsyncEngine, sample: None) -> None:
    settings = Settings(public_base_url="https://news.example.com/")
    async with serve(db, settings=settings, base_url="http://internal") as client:
        page = (await client.get(ARTICLE)).text
    assert f'<link rel="canonical" href="https://news.example.com{ARTICLE}">' in page
    assert "http://internal" not in page


@pytest.mark.parametrize(
    "path",
    [
        "/articles/no-such-story",
        "/people/nobody",
        "/topics/nothing",
        "/sections/none",
        "/authors/nobody",
    ],
)
async def test_what_does_not_exist_is_a_real_404_page(
    client: httpx.AsyncClient, sample: None, path: str
) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert '<meta name="robots" content="noindex">' in response.text
    assert "not found" in response.text
    assert '<form role="search" action="/search"' in response.text


async def test_a_withdrawn_story_is_gone_and_a_republished_one_is_back(
    client: httpx.AsyncClient, sample: None, editor: dict[str, str]
) -> None:
    assert (await client.get(ARTICLE)).status_code == 200  # cached now
    await gql(client, UNPUBLISH, {"slug": SAMPLE_SLUG}, editor)
    gone = await client.get(ARTICLE)
    assert gone.status_code == 410
    assert "no longer available" in gone.text
    await gql(client, PUBLISH, {"slug": SAMPLE_SLUG}, editor)
    assert (await client.get(ARTICLE)).status_code == 200
    await gql(client, DELETE, {"slug": SAMPLE_SLUG}, editor)
    assert (await client.get(ARTICLE)).status_code == 410
    # A draft was never published: unknown to readers, not gone.
    await save(client, editor, slug="a-draft", title="Not yet")
    assert (await client.get("/articles/a-draft")).status_code == 404


async def test_pages_are_cached_and_dropped_as_graphql_answers_are(
    client: httpx.AsyncClient, sample: None, editor: dict[str, str]
) -> None:
    first = await client.get("/")
    again = await client.get("/")
    assert (first.headers["x-cache"], again.headers["x-cache"]) == ("MISS", "HIT")
    assert again.content == first.content
    unchanged = await client.get("/", headers={"If-None-Match": again.headers["etag"]})
    assert unchanged.status_code == 304

    await save(client, editor, slug="breaking", title="Breaking: a new story")
    assert "Breaking: a new story" not in (await client.get("/")).text  # a draft
    await gql(client, PUBLISH, {"slug": "breaking"}, editor)
    published = await client.get("/")
    assert published.headers["x-cache"] == "MISS"
    assert "Breaking: a new story" in published.text
    assert (await client.get("/sections/news")).status_code == 200
    assert "Breaking: a new story" in (await client.get("/sections/news")).text
    await gql(client, UNPUBLISH, {"slug": "breaking"}, editor)
    assert "Breaking: a new story" not in (await client.get("/")).text
    assert "Breaking: a new story" not in (await client.get("/sections/news")).text


async def test_search_works_as_a_plain_form_and_its_results_are_not_indexed(
    search_client: httpx.AsyncClient, search: SearchService, sample: None
) -> None:
    client = search_client
    await search.worker.drain()
    empty = await client.get("/search")
    assert empty.status_code == 200
    assert '<meta name="robots" content="noindex">' not in empty.text
    response = await client.get("/search", params={"q": "Taurus"})
    assert response.status_code == 200
    page = response.text
    assert '<meta name="robots" content="noindex">' in page
    assert '<input type="search" name="q" id="q" value="Taurus"' in page
    assert f'href="/articles/{SAMPLE_SLUG}"' in page
    # Facets are links that narrow the search, named as written (not "War In Ukraine").
    assert re.search(
        r'<a href="/search\?q=Taurus&amp;topic=war-in-ukraine">War in Ukraine</a>', page
    )
    narrowed = await client.get("/search", params={"q": "Taurus", "topic": "war-in-ukraine"})
    assert 'aria-current="true" class="selected">War in Ukraine</a>' in narrowed.text


async def test_script_payloads_stay_text(
    client: httpx.AsyncClient, editor: dict[str, str], news_section: None
) -> None:
    body = [{"type": "PARAGRAPH", "text": text} for text in XSS_BODY]
    await save(client, editor, slug=XSS_SLUG, title=XSS_TITLE, dek=XSS_SCRIPT, body=body)
    await gql(client, PUBLISH, {"slug": XSS_SLUG}, editor)
    for path in (f"/articles/{XSS_SLUG}", "/", "/sections/news"):
        page = (await client.get(path)).text
        assert XSS_IMG not in page and XSS_SCRIPT not in page, path
        assert "&lt;img src=x onerror=" in page, path
    searched = (await client.get("/search", params={"q": "onerror"})).text
    assert XSS_IMG not in searched and "<img" not in searched


async def test_bylines_link_to_author_pages_that_list_only_published_stories(
    client: httpx.AsyncClient, sample: None, editor: dict[str, str]
) -> None:
    page = await client.get("/authors/afp")
    assert page.status_code == 200
    assert "<h1>AFP</h1>" in page.text
    assert f'href="/articles/{SAMPLE_SLUG}"' in page.text
    described = next(d for d in structured(page)[0] if d["@type"] == "Person")
    assert described == {
        "@context": "https://schema.org",
        "@type": "Person",
        "name": "AFP",
        "url": "http://test/authors/afp",
    }
    # An author of drafts only is no one readers know of yet.
    await save(client, editor, slug="draft-only", authors=["Quiet Writer"])
    assert (await client.get("/authors/quiet-writer")).status_code == 404
    await gql(client, PUBLISH, {"slug": "draft-only"}, editor)
    assert (await client.get("/authors/quiet-writer")).status_code == 200


async def test_article_url_is_where_the_page_is(db: AsyncEngine, sample: None) -> None:
    query = "query ($slug: String!) { article(slug: $slug) { url } }"
    for settings, base in (
        (Settings(), "http://test"),
        (Settings(public_base_url="https://n.example"), "https://n.example"),
    ):
        async with serve(db, settings=settings) as client:
            url = (await gql(client, query, {"slug": SAMPLE_SLUG}))["article"]["url"]
            assert url == base + ARTICLE
            assert (await client.get(url.removeprefix(base))).status_code == 200
    # Without PUBLIC_BASE_URL each host gets its own links, cached or not.
    async with LifespanManager(create_app(Settings(), engine=db)) as manager:
        for host in ("http://one.example", "http://two.example", "http://one.example"):
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url=host) as client:
                for _ in range(2):
                    url = (await gql(client, query, {"slug": SAMPLE_SLUG}))["article"]["url"]
                    assert url == host + ARTICLE


async def test_every_page_announces_the_latest_feed_and_its_own(
    client: httpx.AsyncClient, sample: None
) -> None:
    latest = '<link rel="alternate" type="application/rss+xml"'
    for path in ("/", ARTICLE, "/search?q=x"):
        page = (await client.get(path)).text
        assert latest in page and 'href="/feeds/latest.rss"' in page, path
    topic = (await client.get("/topics/crimea")).text
    assert 'href="/topics/crimea/feed.rss"' in topic and 'href="/topics/crimea/feed.atom"' in topic
    section = (await client.get("/sections/news")).text
    assert 'href="/sections/news/feed.atom"' in section


async def test_a_forged_host_never_reaches_another_reader_s_page(
    client: httpx.AsyncClient, sample: None
) -> None:
    await client.get("/topics/crimea", headers={"Host": "evil.example"})
    page = await client.get("/topics/crimea")
    assert "evil.example" not in page.text
    assert '<link rel="canonical" href="http://test/topics/crimea">' in page.text
