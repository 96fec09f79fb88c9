"""The result cache and HTTP caching: readers get cached answers, and never a stale one."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from api.cache import Entry, LocalResultCache, RedisResultCache, SharedGeneration
from api.services import SearchService
from models.session import session_factory
from tests.conftest import SAMPLE_SLUG, contract, gql, post
from tests.support import save

ARTICLE_PAGE = contract("article-page")
LATEST = contract("latest-articles")
TITLE = "query ($slug: String!) { article(slug: $slug) { title topics { name } commentCount } }"
PUBLISH = "mutation ($slug: String!) { publishArticle(slug: $slug) { __typename } }"
RENAME_TOPIC = "mutation ($slug: String!, $name: String!) { renameTopic(slug: $slug, name: $name) { __typename } }"  # noqa: E501
APPROVE = "mutation ($id: ID!) { approveComment(id: $id) { __typename } }"
POST_COMMENT = contract("post-comment")
LAST_ARTICLES = """query ($last: Int, $before: String) {
  articles(last: $last, before: $before) { totalCount pageInfo { startCursor } nodes { slug } }
}"""


async def read(client: httpx.AsyncClient, query: str, variables: dict) -> httpx.Response:
    response = await client.post("/graphql", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    assert "errors" not in response.json(), response.text
    return response


async def test_a_reader_query_is_answered_from_the_cache_the_second_time(
    client: httpx.AsyncClient, sample: None
) -> None:
    first = await read(client, TITLE, {"slug": SAMPLE_SLUG})
    # The same document spelt differently (whitespace, comments) shares the entry.
    respelt = "# the page\n" + TITLE.replace(" ", "  ")
    second = await read(client, respelt, {"slug": SAMPLE_SLUG})

    assert first.headers["x-cache"] == "MISS"
    assert second.headers["x-cache"] == "HIT"
    assert second.content == first.content
    assert second.headers["etag"] == first.headers["etag"]
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_editors_bypass_the_cache_and_mutations_are_never_cached(
    client: httpx.AsyncClient, sample: None, editor: dict
) -> None:
    # A reader sent the very same body first: its answer is cached, and the body is known.
    assert (await read(client, TITLE, {"slug": SAMPLE_SLUG})).headers["x-cache"] == "MISS"
    for _ in range(2):
        response = await client.post(
            "/graphql", json={"query": TITLE, "variables": {"slug": SAMPLE_SLUG}}, headers=editor
        )
        assert "x-cache" not in response.headers
        assert response.headers["cache-control"] == "no-store"


async def test_an_edit_is_visible_on_the_very_next_read(
    client: httpx.AsyncClient, editor: dict, news_section: None
) -> None:
    await save(client, editor, slug="story", title="Version 0")
    # A cached "not found" and a cached list, both from before the story is published.
    assert (await read(client, TITLE, {"slug": "story"})).json()["data"]["article"] is None
    before = (await read(client, LATEST, {"first": 5})).json()["data"]["articles"]
    await gql(client, PUBLISH, {"slug": "story"}, editor)

    assert (await read(client, TITLE, {"slug": "story"})).json()["data"]["article"] is not None
    after = (await read(client, LATEST, {"first": 5})).json()["data"]["articles"]
    assert after["totalCount"] == before["totalCount"] + 1
    for version in range(1, 20):
        await save(client, editor, slug="story", title=f"Version {version}")
        page = (await read(client, TITLE, {"slug": "story"})).json()["data"]["article"]
        assert page["title"] == f"Version {version}"


async def test_a_backward_page_is_cached_and_dropped_as_a_forward_one_is(
    client: httpx.AsyncClient, editor: dict, news_section: None
) -> None:
    for slug in ("older", "newer"):
        await save(client, editor, slug=slug, title=slug)
        await gql(client, PUBLISH, {"slug": slug}, editor)
    oldest = {"last": 1}
    first = await read(client, LAST_ARTICLES, oldest)
    second = await read(client, LAST_ARTICLES, oldest)
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("MISS", "HIT")
    assert second.headers["etag"] == first.headers["etag"]
    assert first.json()["data"]["articles"]["nodes"] == [{"slug": "older"}]
    before = {"last": 1, "before": first.json()["data"]["articles"]["pageInfo"]["startCursor"]}
    assert (await read(client, LAST_ARTICLES, before)).headers["x-cache"] == "MISS"

    await save(client, editor, slug="newest", title="newest")
    await gql(client, PUBLISH, {"slug": "newest"}, editor)
    after = await read(client, LAST_ARTICLES, oldest)
    assert after.headers["x-cache"] == "MISS"
    assert after.json()["data"]["articles"]["totalCount"] == 3


async def test_renaming_a_topic_and_approving_a_comment_reach_cached_pages(
    client: httpx.AsyncClient, sample: None, editor: dict, moderator: dict
) -> None:
    before = (await read(client, TITLE, {"slug": SAMPLE_SLUG})).json()["data"]["article"]
    await gql(client, RENAME_TOPIC, {"slug": "crimea", "name": "Crimean peninsula"}, editor)
    held = await gql(
        client,
        POST_COMMENT,
        {
            "input": {
                "articleSlug": SAMPLE_SLUG,
                "authorName": "Reader",
                "body": "Great, see http://a.example and http://b.example",
            }
        },
    )
    assert held["postComment"]["comment"]["status"] == "PENDING"
    middle = await read(client, TITLE, {"slug": SAMPLE_SLUG})
    assert middle.json()["data"]["article"]["commentCount"] == before["commentCount"]
    await gql(client, APPROVE, {"id": held["postComment"]["comment"]["id"]}, moderator)

    after = (await read(client, TITLE, {"slug": SAMPLE_SLUG})).json()["data"]["article"]
    assert "Crimean peninsula" in [t["name"] for t in after["topics"]]
    assert after["commentCount"] == before["commentCount"] + 1


async def test_degraded_search_answers_are_not_cached(
    client: httpx.AsyncClient, sample: None
) -> None:
    query = 'query { search(query: "Peskov") { degraded totalHits } }'
    responses = [await read(client, query, {}) for _ in range(2)]
    assert responses[0].json()["data"]["search"]["degraded"] is True
    assert [r.headers["cache-control"] for r in responses] == ["no-store", "no-store"]


async def test_search_answers_are_dropped_once_the_index_holds_the_change(
    search_client: httpx.AsyncClient, search: SearchService, editor: dict, news_section: None
) -> None:
    query = 'query { search(query: "Zanzibar") { totalHits } }'
    await save(search_client, editor, slug="zanzibar", title="Zanzibar votes")
    await gql(search_client, PUBLISH, {"slug": "zanzibar"}, editor)
    # Until the outbox is drained, the index does not have the story; that answer is cached.
    assert (await read(search_client, query, {})).json()["data"]["search"]["totalHits"] == 0
    await search.worker.drain()

    response = await read(search_client, query, {})
    assert response.headers["x-cache"] == "MISS"
    assert response.json()["data"]["search"]["totalHits"] == 1


async def test_persisted_queries_over_get_with_etags(
    client: httpx.AsyncClient, sample: None
) -> None:
    digest = hashlib.sha256(TITLE.encode()).hexdigest()
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    params = {
        "extensions": json.dumps(extensions),
        "variables": json.dumps({"slug": SAMPLE_SLUG}),
    }
    unknown = (await client.get("/graphql", params=params)).json()
    assert unknown["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"

    wrong = {"version": 1, "sha256Hash": "0" * 64}
    refused = await post(client, TITLE, {"slug": SAMPLE_SLUG}, extensions={"persistedQuery": wrong})
    assert refused["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    registered = await post(client, TITLE, {"slug": SAMPLE_SLUG}, extensions=extensions)
    assert "errors" not in registered

    by_hash = await client.get("/graphql", params=params)
    assert by_hash.status_code == 200
    assert by_hash.json() == registered
    assert by_hash.headers["cache-control"].startswith("public")
    etag = by_hash.headers["etag"]
    unchanged = await client.get("/graphql", params=params, headers={"If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""


# The stores themselves, against a real Redis ---------------------------------------------------


@pytest.fixture(params=["local", "redis"])
async def store(
    request: pytest.FixtureRequest, redis_url: str
) -> AsyncIterator[LocalResultCache | RedisResultCache]:
    """Each store in turn: the in-process one and the one in a real Redis."""
    made = (
        LocalResultCache()
        if request.param == "local"
        else RedisResultCache(redis_url, prefix=f"test-{uuid.uuid4().hex[:8]}:")
    )
    yield made
    await made.close()


async def test_an_answer_computed_during_an_invalidation_is_not_stored(
    store: LocalResultCache | RedisResultCache,
) -> None:
    entry = Entry.of(b'{"data":{"title":"old"}}')
    _, epoch = await store.get("page")
    await store.invalidate({"article:1"})  # a write committed while the page was computed
    assert await store.put("page", entry, {"article:1"}, epoch) is False
    assert (await store.get("page"))[0] is None

    _, epoch = await store.get("page")
    assert await store.put("page", entry, {"article:1", "list"}, epoch) is True
    assert (await store.get("page"))[0] == entry
    await store.invalidate({"article:2"})
    assert (await store.get("page"))[0] == entry
    await store.invalidate({"list"})
    assert (await store.get("page"))[0] is None


async def test_versions_made_within_one_second_get_different_last_modified_seconds(
    store: LocalResultCache | RedisResultCache,
) -> None:
    """If-Modified-Since trusts these: a feed changed twice in a second must not match."""
    assert await store.stamp("feed", "v1", 1_000) == 1_000
    assert await store.stamp("feed", "v1", 1_003) == 1_000  # the same content keeps it
    assert await store.stamp("feed", "v2", 1_000) == 1_001  # another content, same second
    assert await store.stamp("feed", "v3", 1_000) == 1_002
    assert await store.stamp("feed", "v4", 5_000) == 5_000  # later: the clock again
    assert await store.stamp("other", "v1", 1_000) == 1_000  # each key on its own


async def test_workers_sharing_only_invalidations_send_no_last_modified(tmp_path: Path) -> None:
    """Two workers could stamp two versions alike: only the ETag validates their answers."""
    store = LocalResultCache(shared=SharedGeneration(tmp_path / "generation"))
    try:
        assert await store.stamp("feed", "v1", 1_000) is None
    finally:
        await store.close()


async def test_workers_without_redis_drop_what_another_worker_wrote(tmp_path: Path) -> None:
    """WORKERS=2 on the embedded defaults: each worker's cache, one shared generation file."""
    path = tmp_path / "result-cache.generation"
    first, second = (LocalResultCache(shared=SharedGeneration(path)) for _ in range(2))
    page = Entry.of(b'{"data":{"title":"old"}}')
    try:
        for store in (first, second):
            _, epoch = await store.get("page")
            assert await store.put("page", page, {"article:1"}, epoch) is True

        await first.invalidate({"article:1"})  # a write through the first worker
        assert (await second.get("page"))[0] is None
        assert (await first.get("page"))[0] is None

        # An answer the second worker computed while the first one's write committed.
        _, epoch = await second.get("page")
        await first.invalidate({"article:2"})
        assert await second.put("page", page, {"article:1"}, epoch) is False

        # A worker's own invalidations stay precise: its unrelated pages are kept.
        _, epoch = await first.get("other")
        await first.put("other", page, {"article:3"}, epoch)
        await first.invalidate({"article:4"})
        assert (await first.get("other"))[0] == page
    finally:
        await first.close()
        await second.close()


async def test_the_in_process_cache_keeps_within_its_byte_budget() -> None:
    """Big answers push out the least recently used, so memory stays bounded by bytes too."""
    store = LocalResultCache(max_entries=100, max_bytes=1_000)
    pages = {f"page-{n}": Entry.of(b"x" * 400) for n in range(3)}
    for key, entry in pages.items():
        _, epoch = await store.get(key)
        await store.put(key, entry, {key}, epoch)
    assert (await store.get("page-0"))[0] is None
    assert (await store.get("page-1"))[0] == pages["page-1"]
    assert (await store.get("page-2"))[0] == pages["page-2"]
    await store.invalidate({"page-1"})  # dropped entries give their bytes back
    _, epoch = await store.get("page-3")
    await store.put("page-3", Entry.of(b"y" * 400), set(), epoch)
    assert (await store.get("page-2"))[0] == pages["page-2"]


async def test_writes_made_outside_the_api_reach_the_cache_through_the_outbox(
    search_client: httpx.AsyncClient, search: SearchService, db: AsyncEngine, sample: None
) -> None:
    """`newsroom import` runs in another process: its outbox rows drop what they changed."""
    from models import Article
    from models.outbox import enqueue_articles

    await search.worker.drain()
    assert (await read(search_client, TITLE, {"slug": SAMPLE_SLUG})).headers["x-cache"] == "MISS"
    async with session_factory(db).begin() as session:
        stored = await session.scalar(sa.select(Article).where(Article.slug == SAMPLE_SLUG))
        stored.title = "Changed by an import"
        enqueue_articles(session, [stored.id])
    await search.worker.drain()

    page = (await read(search_client, TITLE, {"slug": SAMPLE_SLUG})).json()["data"]["article"]
    assert page["title"] == "Changed by an import"
