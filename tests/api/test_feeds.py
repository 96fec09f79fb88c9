"""RSS and Atom feeds, read as a feed reader reads them (feedparser) and as XML: readers' stories
only, newest first, changes seen on the very next request, hostile text kept as text."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime
from xml.etree import ElementTree as ET

import feedparser
import httpx
import pytest
from asgi_lifespan import LifespanManager
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.settings import Settings
from api.site import caching, feeds
from api.site.feeds import alternates, feed_path
from api.site.syndication import clean
from tests.conftest import gql, serve
from tests.support import PUBLISH, save, saved_story

BASE = "https://news.example.com"
UNPUBLISH = "mutation ($slug: String!) { unpublishArticle(slug: $slug) { __typename } }"
DELETE = "mutation ($slug: String!) { deleteArticle(slug: $slug) { __typename } }"
CREATE_PERSON = "mutation ($name: String!) { createPerson(name: $name) { __typename } }"
PIN = """mutation ($article: String!, $person: String!) {
  pinPerson(articleSlug: $article, personSlug: $person) { __typename }
}"""
REMOVE = """mutation ($article: String!, $person: String!) {
  removePerson(articleSlug: $article, personSlug: $person) { __typename }
}"""
FORMATS = ["rss", "atom"]
# Markup, both quotes, an ampersand and C0 controls that XML 1.0 cannot hold in any form.
HOSTILE = "Break <script>alert(\"x\")</script> & 'quotes' ]]> \x01\x08\x0b\x1b\x1f end"


@pytest.fixture
async def site(db: AsyncEngine, news_section: None) -> AsyncIterator[httpx.AsyncClient]:
    """The app with PUBLIC_BASE_URL set, as in production: feeds are cached."""
    settings = Settings(public_base_url=BASE + "/", publication_name="The Example")
    async with serve(db, settings=settings) as client:
        yield client


async def read(client: httpx.AsyncClient, path: str, **headers: str) -> httpx.Response:
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, (path, response.status_code, response.text)
    return response


def parsed(response: httpx.Response) -> feedparser.FeedParserDict:
    feed = feedparser.parse(response.content)
    assert feed.bozo == 0, feed.get("bozo_exception")
    return feed


def slugs(response: httpx.Response) -> list[str]:
    return [entry.link.removeprefix(f"{BASE}/articles/") for entry in parsed(response).entries]


@pytest.mark.parametrize("fmt", FORMATS)
async def test_the_latest_feed_lists_published_stories_newest_first_with_their_details(
    site: httpx.AsyncClient, editor: dict, fmt: str
) -> None:
    await saved_story(
        site, editor, "older", authors=["Ada Editor", "Bo Writer"], topics=["Elections"]
    )
    await saved_story(site, editor, "newer", title="The newer one", dek="Its standfirst", topics=[])
    await saved_story(site, editor, "draft", publish=False)
    await saved_story(site, editor, "taken-down")
    await gql(site, UNPUBLISH, {"slug": "taken-down"}, editor)
    await saved_story(site, editor, "deleted")
    await gql(site, DELETE, {"slug": "deleted"}, editor)

    response = await read(site, f"/feeds/latest.{fmt}")
    assert response.headers["content-type"] == f"application/{fmt}+xml; charset=utf-8"
    feed = parsed(response)

    assert feed.version == ("rss20" if fmt == "rss" else "atom10")
    assert feed.feed.title == "The Example: Latest stories"
    assert {"rel": "self", "href": f"{BASE}/feeds/latest.{fmt}"}.items() <= next(
        link for link in feed.feed.links if link.rel == "self"
    ).items()
    assert [entry.link for entry in feed.entries] == [
        f"{BASE}/articles/newer",
        f"{BASE}/articles/older",
    ]
    newer, older = feed.entries
    assert newer.title == "The newer one"
    assert newer.id == f"{BASE}/articles/newer"
    assert newer.summary == "Its standfirst"
    assert [tag.label or tag.term for tag in newer.tags] == ["News"]
    assert [tag.label or tag.term for tag in older.tags] == ["News", "Elections"]
    if fmt == "atom":
        assert [author.name for author in older.authors] == ["Ada Editor", "Bo Writer"]
    else:
        assert older.author == "Ada Editor, Bo Writer"
    assert newer.published_parsed >= older.published_parsed
    assert newer.updated_parsed is not None
    # The feed changed when its newest item did.
    assert feed.feed.updated_parsed == max(entry.updated_parsed for entry in feed.entries)


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_hostile_headline_stays_text_in_well_formed_xml(
    site: httpx.AsyncClient, editor: dict, fmt: str
) -> None:
    await saved_story(site, editor, "hostile", title=HOSTILE, dek=HOSTILE, authors=[HOSTILE[:60]])
    response = await read(site, f"/feeds/latest.{fmt}")
    assert parsed(response).entries[0].link == f"{BASE}/articles/hostile"

    expected = "Break <script>alert(\"x\")</script> & 'quotes' ]]>  end"
    document = ET.fromstring(response.content)
    texts = {element.text for element in document.iter()}
    assert expected in texts
    assert b"<script>" not in response.content
    assert not any(byte < 0x20 and byte not in b"\t\n\r" for byte in response.content)


async def test_publishing_and_unpublishing_reach_the_feeds_on_the_next_request(
    site: httpx.AsyncClient, editor: dict
) -> None:
    await saved_story(site, editor, "first", topics=["Elections"])
    await saved_story(site, editor, "second", publish=False, topics=["Elections"])
    paths = ["/feeds/latest.rss", "/topics/elections/feed.atom", "/sections/news/feed.rss"]
    for path in paths:
        assert (await read(site, path)).headers["x-cache"] == "MISS"
        cached = await read(site, path)
        assert cached.headers["x-cache"] == "HIT"
        assert slugs(cached) == ["first"]

    await gql(site, PUBLISH, {"slug": "second"}, editor)
    for path in paths:
        assert slugs(await read(site, path)) == ["second", "first"]
        assert (await read(site, path)).headers["x-cache"] == "HIT"

    await gql(site, UNPUBLISH, {"slug": "second"}, editor)
    for path in paths:
        assert slugs(await read(site, path)) == ["first"]

    await save(site, editor, slug="first", title="First, corrected", topics=["Elections"])
    for path in paths:
        assert parsed(await read(site, path)).entries[0].title == "First, corrected"


async def test_each_subject_has_feeds_of_its_own_stories(
    site: httpx.AsyncClient, editor: dict, db: AsyncEngine
) -> None:
    await saved_story(site, editor, "vote", authors=["Ada Editor"], topics=["Elections"])
    await saved_story(site, editor, "match", authors=["Bo Writer"], topics=["Football"])
    await gql(site, CREATE_PERSON, {"name": "Olaf Scholz"}, editor)
    await gql(site, PIN, {"article": "vote", "person": "olaf-scholz"}, editor)

    expected = {
        ("section", "news", "News"): ["match", "vote"],
        ("topic", "elections", "Elections"): ["vote"],
        ("topic", "football", "Football"): ["match"],
        ("person", "olaf-scholz", "Olaf Scholz"): ["vote"],
        ("author", "ada-editor", "Ada Editor"): ["vote"],
        ("author", "bo-writer", "Bo Writer"): ["match"],
    }
    for (kind, slug, name), found in expected.items():
        announced = alternates(kind, slug, name)
        assert [href for href, _, _ in announced[:2]] == ["/feeds/latest.rss", "/feeds/latest.atom"]
        for href, media_type, title in announced[2:]:
            assert title in {f"{name} (RSS)", f"{name} (Atom)"}
            response = await read(site, href)
            assert response.headers["content-type"].startswith(media_type)
            feed = parsed(response)
            assert feed.feed.title == f"The Example: {name}"
            assert slugs(response) == found, href

    # Taken off the story by an editor: as the person's GraphQL `articles`, not in the feed.
    await gql(site, REMOVE, {"article": "vote", "person": "olaf-scholz"}, editor)
    assert slugs(await read(site, "/people/olaf-scholz/feed.rss")) == []


async def test_a_feed_holds_the_newest_feed_size_stories(
    site: httpx.AsyncClient, editor: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feeds, "FEED_SIZE", 2)
    for slug in ("one", "two", "three"):
        await saved_story(site, editor, slug)
    assert slugs(await read(site, "/feeds/latest.atom")) == ["three", "two"]


@pytest.mark.parametrize("kind", ["section", "topic", "person", "author"])
@pytest.mark.parametrize("fmt", FORMATS)
async def test_an_unknown_slug_has_no_feed(site: httpx.AsyncClient, kind: str, fmt: str) -> None:
    path = feed_path(kind, "nobody-here", fmt)
    for _ in range(2):
        response = await site.get(path)
        assert response.status_code == 404
        assert "x-cache" not in response.headers


async def test_a_feed_is_revalidated_by_its_etag_or_by_its_last_modified_date(
    site: httpx.AsyncClient, editor: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = 1_800_000_000.0
    monkeypatch.setattr(caching, "_clock", lambda: now)
    await saved_story(site, editor, "dated")
    first = await read(site, "/feeds/latest.rss")
    again = await read(site, "/feeds/latest.rss")
    assert (first.headers["x-cache"], again.headers["x-cache"]) == ("MISS", "HIT")
    assert again.headers["etag"] == first.headers["etag"]
    dated = first.headers["last-modified"]
    assert parsedate_to_datetime(dated).timestamp() == now
    assert again.headers["last-modified"] == dated
    earlier = format_datetime(parsedate_to_datetime(dated) - timedelta(seconds=1), usegmt=True)

    for conditions in ({"If-None-Match": first.headers["etag"]}, {"If-Modified-Since": dated}):
        unchanged = await site.get("/feeds/latest.rss", headers=conditions)
        assert unchanged.status_code == 304, conditions
        assert unchanged.content == b""
        assert unchanged.headers["etag"] == first.headers["etag"]
        assert unchanged.headers["last-modified"] == dated
    older = await site.get("/feeds/latest.rss", headers={"If-Modified-Since": earlier})
    assert older.status_code == 200
    # If-None-Match decides when both are sent (RFC 9110): this ETag is not the feed's.
    both = {"If-None-Match": '"other"', "If-Modified-Since": dated}
    assert (await site.get("/feeds/latest.rss", headers=both)).status_code == 200

    # A draft saved drops every list; the feed made again is the same, and so are its validators.
    await saved_story(site, editor, "a-draft", publish=False)
    remade = await read(site, "/feeds/latest.rss")
    assert remade.headers["x-cache"] == "MISS"
    assert (remade.headers["etag"], remade.headers["last-modified"]) == (
        first.headers["etag"],
        dated,
    )

    # Unpublished within the same second as the version the reader holds: the new version gets
    # the next second, so neither validator keeps the story in the reader's feed; its date is
    # sent once the clock reaches it.
    await gql(site, UNPUBLISH, {"slug": "dated"}, editor)
    for conditions in ({"If-None-Match": first.headers["etag"]}, {"If-Modified-Since": dated}):
        changed = await site.get("/feeds/latest.rss", headers=conditions)
        assert changed.status_code == 200, conditions
        assert slugs(changed) == []
        assert "last-modified" not in changed.headers
    now += 1
    later = await read(site, "/feeds/latest.rss")
    assert parsedate_to_datetime(later.headers["last-modified"]).timestamp() == now
    since = {"If-Modified-Since": later.headers["last-modified"]}
    assert (await site.get("/feeds/latest.rss", headers=since)).status_code == 304


def test_an_entry_stored_by_an_earlier_release_is_served_without_its_old_date() -> None:
    """Entries in Redis outlive a deploy: the envelope that held an HTTP date still opens."""
    body = b"<rss/>"
    assert caching._unseal(b"\0last-modified Sat, 01 Jan 2026 00:00:00 GMT\n" + body) == (
        body,
        None,
    )
    assert caching._unseal(caching._seal(body, 1_800_000_000)) == (body, 1_800_000_000)


async def test_a_feed_cached_in_redis_keeps_its_date_and_is_dropped_by_a_publish(
    db: AsyncEngine, news_section: None, editor: dict, redis_url: str
) -> None:
    namespace = f"test-feeds-{uuid.uuid4().hex[:8]}:"
    settings = Settings(public_base_url=BASE, redis_url=redis_url, result_cache_namespace=namespace)
    app = create_app(settings=settings, engine=db)
    try:
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as shared:
                await saved_story(shared, editor, "kept")
                first = await read(shared, "/feeds/latest.atom")
                hit = await read(shared, "/feeds/latest.atom")
                assert (first.headers["x-cache"], hit.headers["x-cache"]) == ("MISS", "HIT")
                assert hit.content == first.content
                assert hit.headers["last-modified"] == first.headers["last-modified"]
                assert hit.headers["etag"] == first.headers["etag"]
                await saved_story(shared, editor, "next")
                since = {"If-Modified-Since": first.headers["last-modified"]}
                changed = await shared.get("/feeds/latest.atom", headers=since)
                assert changed.status_code == 200
                assert slugs(changed) == ["next", "kept"]
                # A later date, or (changed within the same second) none until the clock is there.
                assert changed.headers.get("last-modified") != first.headers["last-modified"]
    finally:
        async with Redis.from_url(redis_url) as redis:
            keys = [key async for key in redis.scan_iter(f"{namespace}*")]
            if keys:
                await redis.delete(*keys)


async def test_without_public_base_url_links_follow_the_request_and_are_kept_per_host(
    client: httpx.AsyncClient, editor: dict, news_section: None
) -> None:
    await saved_story(client, editor, "local")
    forged = await client.get("/feeds/latest.rss", headers={"Host": "evil.example"})
    assert parsed(forged).entries[0].link == "http://evil.example/articles/local"
    # Stored under its own Host: no other reader is ever served the forged links.
    outcomes = []
    for _ in range(2):
        response = await read(client, "/feeds/latest.rss")
        outcomes.append(response.headers["x-cache"])
        assert parsed(response).entries[0].link == "http://test/articles/local"
    assert outcomes == ["MISS", "HIT"]
    unchanged = await client.get(
        "/feeds/latest.rss", headers={"If-None-Match": response.headers["etag"]}
    )
    assert unchanged.status_code == 304


def test_pages_announce_the_latest_feeds_and_their_own() -> None:
    assert alternates(None, None, "Home") == [
        ("/feeds/latest.rss", "application/rss+xml", "Latest stories (RSS)"),
        ("/feeds/latest.atom", "application/atom+xml", "Latest stories (Atom)"),
    ]
    assert alternates("person", "olaf-scholz", "Olaf Scholz")[2:] == [
        ("/people/olaf-scholz/feed.rss", "application/rss+xml", "Olaf Scholz (RSS)"),
        ("/people/olaf-scholz/feed.atom", "application/atom+xml", "Olaf Scholz (Atom)"),
    ]
    assert alternates("section", "a b", "A b")[2][0] == "/sections/a%20b/feed.rss"
    with pytest.raises(ValueError, match="no feeds for 'article' pages"):
        alternates("article", "some-story", "A story")


def test_clean_keeps_what_xml_can_hold_and_drops_the_rest() -> None:
    kept = "tab\tline\nreturn\r émoji 🎉 \ud7ff\ue000\ufffd"
    assert clean(kept) == kept
    assert clean("a\x00b\x01c\x1fd\x7fe\ud800f\udfffg\ufffeh\uffffi") == "abcd\x7fefghi"
