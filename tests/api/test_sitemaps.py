"""robots.txt, the sitemap index, every sitemap and the Google News sitemap: valid against the
official schemas (tests/schemas/), readers' pages only, in blocks of bounded size."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import timedelta
from functools import cache
from pathlib import Path
from xml.etree import ElementTree as ET

import httpx
import pytest
import sqlalchemy as sa
import xmlschema
from sqlalchemy.ext.asyncio import AsyncEngine

from api.settings import Settings
from api.site import sitemaps
from api.site.sitemaps import news_language
from models import Article
from models.base import utcnow
from tests.conftest import gql, serve
from tests.support import saved_story

BASE = "https://news.example.com"
SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
NS = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9", "n": sitemaps.NEWS_NS}
UNPUBLISH = "mutation ($slug: String!) { unpublishArticle(slug: $slug) { __typename } }"
CREATE_PERSON = "mutation ($name: String!) { createPerson(name: $name) { __typename } }"
PIN = """mutation ($article: String!, $person: String!) {
  pinPerson(articleSlug: $article, personSlug: $person) { __typename }
}"""


@cache
def schema(*names: str) -> xmlschema.XMLSchema:
    # Absolute paths: a second source is otherwise looked for beside the first.
    return xmlschema.XMLSchema([str(SCHEMAS / name) for name in names])


@pytest.fixture
async def site(db: AsyncEngine, news_section: None) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(public_base_url=BASE, publication_name="The Example")
    async with serve(db, settings=settings) as client:
        yield client


async def fetch(client: httpx.AsyncClient, url: str, *names: str) -> ET.Element:
    """The document at `url` (absolute, under BASE), valid against the named schemas."""
    assert url.startswith(BASE + "/"), url
    response = await client.get(url.removeprefix(BASE))
    assert response.status_code == 200, (url, response.text)
    assert response.headers["content-type"] == "application/xml; charset=utf-8"
    schema(*names).validate(io.BytesIO(response.content))
    return ET.fromstring(response.content)


async def every_sitemap(client: httpx.AsyncClient) -> dict[str, ET.Element]:
    """Each sitemap the index names, by its path, all validated."""
    index = await fetch(client, f"{BASE}/sitemap.xml", "siteindex.xsd")
    found = {}
    for loc in index.iterfind("s:sitemap/s:loc", NS):
        assert loc.text is not None
        news = loc.text.endswith("/news.xml")
        names = ("sitemap.xsd", "sitemap-news.xsd") if news else ("sitemap.xsd",)
        found[loc.text.removeprefix(BASE)] = await fetch(client, loc.text, *names)
    return found


def locs(urlset: ET.Element) -> list[str]:
    return [loc.text or "" for loc in urlset.iterfind("s:url/s:loc", NS)]


async def test_robots_txt_lets_crawlers_in_but_not_into_the_api_or_search(
    site: httpx.AsyncClient,
) -> None:
    response = await site.get("/robots.txt")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    lines = response.text.splitlines()
    assert lines[0] == "User-agent: *"
    assert {"Disallow: /graphql", "Disallow: /search?"} <= set(lines)
    assert "Disallow: /" not in lines
    # Results (a query after `?`) are kept out; the search form itself is a page like any other
    # (Python's robotparser drops the `?`, crawlers and Lighthouse's parser keep it).
    assert "Disallow: /search" not in lines
    assert f"Sitemap: {BASE}/sitemap.xml" in lines


async def test_every_sitemap_is_valid_and_lists_only_what_readers_may_see(
    site: httpx.AsyncClient, editor: dict
) -> None:
    await saved_story(site, editor, "vote", authors=["Ada Editor"], topics=["Elections"])
    await saved_story(site, editor, "match", authors=["Bo Writer"], topics=["Football"])
    await gql(site, CREATE_PERSON, {"name": "Olaf Scholz"}, editor)
    await gql(site, PIN, {"article": "vote", "person": "olaf-scholz"}, editor)
    # Nobody's stories: a draft, one taken down, and a person on none.
    await saved_story(
        site, editor, "draft", publish=False, authors=["Cy Hidden"], topics=["Secret"]
    )
    await saved_story(site, editor, "gone", authors=["Di Gone"], topics=["Withdrawn"])
    await gql(site, UNPUBLISH, {"slug": "gone"}, editor)
    await gql(site, CREATE_PERSON, {"name": "Nobody Atall"}, editor)

    found = await every_sitemap(site)

    assert set(found) == {
        "/sitemaps/articles-1.xml",
        "/sitemaps/sections-1.xml",
        "/sitemaps/topics-1.xml",
        "/sitemaps/people-1.xml",
        "/sitemaps/authors-1.xml",
        "/sitemaps/news.xml",
    }
    assert sorted(locs(found["/sitemaps/articles-1.xml"])) == [
        f"{BASE}/articles/match",
        f"{BASE}/articles/vote",
    ]
    assert locs(found["/sitemaps/sections-1.xml"]) == [f"{BASE}/sections/news"]
    assert sorted(locs(found["/sitemaps/topics-1.xml"])) == [
        f"{BASE}/topics/elections",
        f"{BASE}/topics/football",
    ]
    assert locs(found["/sitemaps/people-1.xml"]) == [f"{BASE}/people/olaf-scholz"]
    assert sorted(locs(found["/sitemaps/authors-1.xml"])) == [
        f"{BASE}/authors/ada-editor",
        f"{BASE}/authors/bo-writer",
    ]
    assert sorted(locs(found["/sitemaps/news.xml"])) == [
        f"{BASE}/articles/match",
        f"{BASE}/articles/vote",
    ]
    for urlset in found.values():
        for url in urlset.iterfind("s:url", NS):
            if url.find("n:news", NS) is None:
                assert url.findtext("s:lastmod", namespaces=NS)


async def test_the_index_dates_each_sitemap_and_drops_what_is_unpublished(
    site: httpx.AsyncClient, editor: dict, db: AsyncEngine
) -> None:
    await saved_story(site, editor, "only")
    index = await fetch(site, f"{BASE}/sitemap.xml", "siteindex.xsd")
    lastmods = {
        entry.findtext("s:loc", namespaces=NS): entry.findtext("s:lastmod", namespaces=NS)
        for entry in index.iterfind("s:sitemap", NS)
    }
    async with db.connect() as conn:
        updated = (
            await conn.execute(sa.select(Article.updated_at).where(Article.slug == "only"))
        ).scalar_one()
    assert lastmods[f"{BASE}/sitemaps/articles-1.xml"] == updated.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert lastmods[f"{BASE}/sitemaps/news.xml"] is None
    assert (await site.get("/sitemap.xml")).headers["x-cache"] == "HIT"

    await gql(site, UNPUBLISH, {"slug": "only"}, editor)
    after = await fetch(site, f"{BASE}/sitemap.xml", "siteindex.xsd")
    assert [loc.text for loc in after.iterfind("s:sitemap/s:loc", NS)] == [
        f"{BASE}/sitemaps/news.xml"
    ]
    assert (await site.get("/sitemaps/articles-1.xml")).status_code == 404


async def test_story_sitemaps_are_pages_of_at_most_their_size(
    site: httpx.AsyncClient, editor: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sitemaps, "URLS_PER_SITEMAP", 2)
    published = [f"story-{n}" for n in range(7)]
    for slug in published:
        await saved_story(site, editor, slug, topics=[f"Topic {slug}"])
    await saved_story(site, editor, "draft", publish=False)

    found = await every_sitemap(site)

    articles = {path: locs(urlset) for path, urlset in found.items() if "/articles-" in path}
    assert len(articles) >= 4
    assert all(1 <= len(listed) <= 2 for listed in articles.values())
    everything = [loc for listed in articles.values() for loc in listed]
    assert sorted(everything) == sorted(f"{BASE}/articles/{slug}" for slug in published)
    topics = [loc for path, urlset in found.items() if "/topics-" in path for loc in locs(urlset)]
    assert len(topics) == len(set(topics)) == len(published)
    numbers = sorted(int(path.split("-")[1].split(".")[0]) for path in articles)
    for missing in (0, numbers[-1] + 1, 10**12):
        assert (await site.get(f"/sitemaps/articles-{missing}.xml")).status_code == 404


async def test_the_news_sitemap_holds_the_last_two_days_only(
    site: httpx.AsyncClient, editor: dict, db: AsyncEngine
) -> None:
    await saved_story(site, editor, "fresh", title="Fresh <news> & more", language="en-GB")
    await saved_story(site, editor, "recent", title="Still news", language="zh-Hant")
    await saved_story(site, editor, "stale", title="Old news")
    async with db.begin() as conn:
        now = utcnow()
        for slug, age in (
            ("recent", timedelta(days=1, hours=23)),
            ("stale", timedelta(days=2, hours=1)),
        ):
            await conn.execute(
                sa.update(Article).where(Article.slug == slug).values(published_at=now - age)
            )

    urlset = await fetch(site, f"{BASE}/sitemaps/news.xml", "sitemap.xsd", "sitemap-news.xsd")

    entries = {
        url.findtext("s:loc", namespaces=NS): url.find("n:news", NS)
        for url in urlset.iterfind("s:url", NS)
    }
    assert list(entries) == [f"{BASE}/articles/fresh", f"{BASE}/articles/recent"]
    fresh = entries[f"{BASE}/articles/fresh"]
    assert fresh is not None
    assert fresh.findtext("n:publication/n:name", namespaces=NS) == "The Example"
    assert fresh.findtext("n:publication/n:language", namespaces=NS) == "en"
    assert fresh.findtext("n:title", namespaces=NS) == "Fresh <news> & more"
    assert fresh.findtext("n:publication_date", namespaces=NS)
    recent = entries[f"{BASE}/articles/recent"]
    assert recent is not None
    assert recent.findtext("n:publication/n:language", namespaces=NS) == "zh-tw"
    # The window moves with the clock, which no write announces: never stored.
    assert (await site.get("/sitemaps/news.xml")).headers["x-cache"] == "MISS"


async def test_without_public_base_url_the_request_address_is_used(
    client: httpx.AsyncClient, editor: dict, news_section: None
) -> None:
    await saved_story(client, editor, "local")
    robots = await client.get("/robots.txt")
    assert "Sitemap: http://test/sitemap.xml" in robots.text.splitlines()
    index = ET.fromstring((await client.get("/sitemap.xml")).content)
    assert index.findtext("s:sitemap/s:loc", namespaces=NS) == "http://test/sitemaps/articles-1.xml"
    articles = ET.fromstring((await client.get("/sitemaps/articles-1.xml")).content)
    assert locs(articles) == ["http://test/articles/local"]


async def test_an_empty_site_has_a_valid_index(site: httpx.AsyncClient) -> None:
    index = await fetch(site, f"{BASE}/sitemap.xml", "siteindex.xsd")
    assert [loc.text for loc in index.iterfind("s:sitemap/s:loc", NS)] == [
        f"{BASE}/sitemaps/news.xml"
    ]
    for name in sitemaps.SITEMAPS:
        assert (await site.get(f"/sitemaps/{name}-1.xml")).status_code == 404


@pytest.mark.parametrize(
    ("language", "code"),
    [
        ("en", "en"),
        ("en-GB", "en"),
        ("pt_BR", "pt"),
        ("FIL", "fil"),
        ("zh-CN", "zh-cn"),
        ("zh-Hans-CN", "zh-cn"),
        ("zh-TW", "zh-tw"),
        ("zh-Hant", "zh-tw"),
        ("zh", "zh"),
        ("", "und"),
        ("x-klingon", "und"),
        ("english", "und"),
    ],
)
def test_story_languages_become_google_news_codes(language: str, code: str) -> None:
    assert news_language(language) == code
