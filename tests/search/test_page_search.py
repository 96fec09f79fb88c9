"""A page of site search asked for as two searches at once (search/articles.PageSearch): one
page, whichever of the two fails, on a real Meilisearch."""

from __future__ import annotations

import asyncio
import gc
import uuid
from collections.abc import AsyncIterator

import pytest

from search import articles
from search.client import SearchClient
from search.errors import SearchRejected
from search.indexes import ensure_articles_index
from search.server import LocalMeilisearch


def page_search(client: SearchClient) -> articles.PageSearch:
    where, sort = articles.Where(), articles.Sort.RELEVANCE
    return articles.PageSearch(client, "missile", page=1, hits_per_page=2, where=where, sort=sort)


@pytest.fixture
async def bare(meili: LocalMeilisearch) -> AsyncIterator[SearchClient]:
    """An articles index with documents but none of its settings: nothing can be counted."""
    client = SearchClient(meili.url, meili.master_key, prefix=f"t{uuid.uuid4().hex[:12]}_")
    await client.create_index(client.articles)
    stories = [{"id": n, "title": f"Missile story {n}", "dek": "", "body": ""} for n in (1, 2, 3)]
    await client.put_documents(client.articles, stories)
    yield client
    await client.delete_index(client.articles)
    await client.aclose()


async def test_a_failed_count_fails_the_page_and_leaves_no_search_behind(
    bare: SearchClient, caplog: pytest.LogCaptureFixture
) -> None:
    """The hits are found (the ranking needs no settings) but the facets cannot be counted: the
    page fails as one search would (the API then answers from SQL, marked degraded), and the
    failed search is not left as an exception nobody read."""
    async with page_search(bare) as pending:
        assert [hit.article_id for hit in await pending.hits()] != []
        with pytest.raises(SearchRejected):
            await pending.page()
    with pytest.raises(SearchRejected):
        async with page_search(bare) as again:
            await again.page()
    gc.collect()
    await asyncio.sleep(0)
    assert "exception was never retrieved" not in caplog.text


async def test_leaving_early_cancels_the_search_still_running(bare: SearchClient) -> None:
    async with page_search(bare):
        pass  # the caller gave up (its own statement failed, say) before either answered
    assert asyncio.all_tasks() == {asyncio.current_task()}


@pytest.fixture
async def indexed(meili: LocalMeilisearch) -> AsyncIterator[SearchClient]:
    client = SearchClient(meili.url, meili.master_key, prefix=f"t{uuid.uuid4().hex[:12]}_")
    await ensure_articles_index(client)
    stories = [
        {
            "id": n,
            "title": f"Missile story {n}",
            "dek": "Taurus missile strikes" if n % 2 else "",
            "body": "",
            "topic_slugs": ["war-in-ukraine", *(["germany"] if n % 3 == 0 else [])],
            "person_slugs": ["dmitry-peskov"] if n < 4 else [],
            "section": "news" if n % 2 else "world",
            "year": 2020 + n % 3,
            "published_at": 1_700_000_000 + n,
        }
        for n in range(1, 8)
    ]
    await client.put_documents(client.articles, stories)
    yield client
    await client.delete_index(client.articles)
    await client.aclose()


async def test_one_search_or_two_at_once_give_the_same_page(indexed: SearchClient) -> None:
    """The first page search of the process goes apart; one started while it is in flight goes
    as one request. A reader cannot tell which: same hits, highlights, totals and counts."""
    async with page_search(indexed) as apart, page_search(indexed) as together:
        pages = [await apart.page(), await together.page()]
        assert (len(apart._tasks), len(together._tasks)) == (2, 1)
    for page in pages:
        page.processing_time_ms = 0
    assert pages[0] == pages[1]
    assert pages[0].total_hits == 7 and len(pages[0].hits) == 2
    assert pages[0].facets["people"] == [("dmitry-peskov", 3)]
    assert pages[0].facets["sections"] == [("news", 4), ("world", 3)]
