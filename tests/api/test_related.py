"""`Article.related` through GraphQL: the lists the job stored, read from SQL, with the search
engine up or down, through the result cache, never showing what is not published."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from itertools import islice
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from api.app import create_app
from api.services import SearchService
from models.importer import import_lines
from models.related_job import RelatedWorker
from models.session import AsyncSession
from search.client import SearchClient
from search.indexes import ensure_articles_index
from search.server import LocalMeilisearch
from search.worker import OutboxWorker
from tests.conftest import BBC, SAMPLE, SAMPLE_SLUG, contract, gql, gql_error, make_token
from tests.support import count_statements

RELATED_WIDGET = contract("related-widget")
ARTICLE_PAGE = contract("article-page")
SITE_SEARCH = contract("site-search")
UNPUBLISH = """
mutation ($slug: String!) { unpublishArticle(slug: $slug) { __typename } }
"""
LATEST_WITH_RELATED = """
query ($first: Int!) { articles(first: $first) { nodes { slug related(limit: 3) { slug } } } }
"""
SAMPLE_LINES = SAMPLE.read_text().splitlines()
NEIGHBOUR = "ukraine-jails-couple-for-helping-russia-strike-hospital"


@asynccontextmanager
async def serve(
    engine: AsyncEngine, worker: RelatedWorker, search: SearchService | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """The real app, its result cache on, with a related worker the test drains itself."""
    app = create_app(engine=engine, search=search, related=worker)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@pytest.fixture
async def worker(db: AsyncEngine) -> AsyncIterator[RelatedWorker]:
    worker = RelatedWorker(db)
    yield worker
    worker.close()


@pytest.fixture
async def app(db: AsyncEngine, worker: RelatedWorker) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(db, worker) as client:
        yield client


@pytest.fixture
async def stories(sessions: async_sessionmaker[AsyncSession]) -> None:
    """The sample and 60 BBC stories."""
    report = await import_lines(
        sessions, [*SAMPLE_LINES, *islice(BBC.read_text().splitlines(), 60)]
    )
    assert report.errors == []


async def related(client: httpx.AsyncClient, slug: str = SAMPLE_SLUG, limit: int = 5) -> list[str]:
    data = await gql(client, RELATED_WIDGET, {"slug": slug, "limit": limit})
    return [story["slug"] for story in data["article"]["related"]]


async def test_the_list_appears_once_the_job_ran_and_never_holds_the_story(
    app: httpx.AsyncClient, worker: RelatedWorker, stories: None
) -> None:
    assert await related(app) == [], "nothing is computed on the read path"

    await worker.drain()

    page = (await gql(app, ARTICLE_PAGE, {"slug": SAMPLE_SLUG}))["article"]
    assert page["related"][0]["slug"] == NEIGHBOUR
    assert SAMPLE_SLUG not in {story["slug"] for story in page["related"]}
    assert len(page["related"]) == 4
    assert len(await related(app, limit=20)) == 20


async def test_a_cached_page_shows_the_list_the_job_stored_after_it_was_cached(
    app: httpx.AsyncClient, worker: RelatedWorker, stories: None
) -> None:
    params = {"query": RELATED_WIDGET, "variables": json.dumps({"slug": SAMPLE_SLUG})}
    first = await app.get("/graphql", params=params)
    assert (await app.get("/graphql", params=params)).headers["x-cache"] == "HIT"
    assert first.json()["data"]["article"]["related"] == []

    await worker.drain()

    again = await app.get("/graphql", params=params)
    assert again.headers["x-cache"] == "MISS"
    assert again.json()["data"]["article"]["related"][0]["slug"] == NEIGHBOUR


async def test_an_unpublished_story_leaves_every_page_at_once(
    app: httpx.AsyncClient, worker: RelatedWorker, db: AsyncEngine, stories: None
) -> None:
    await worker.drain()
    assert NEIGHBOUR in await related(app)  # cached now
    editor = await make_token(db, "editor")

    unpublished = await gql(app, UNPUBLISH, {"slug": NEIGHBOUR}, editor)

    assert unpublished["unpublishArticle"]["__typename"] == "ArticleSaved"
    shown = await related(app)
    assert NEIGHBOUR not in shown and len(shown) == 5, "the next one moves up, no job ran"


async def test_related_answers_while_meilisearch_is_down(
    db: AsyncEngine, worker: RelatedWorker, stories: None, tmp_path: Path
) -> None:
    meili = LocalMeilisearch(tmp_path / "meili")
    await meili.start()
    client = SearchClient(meili.url, meili.master_key)
    try:
        await ensure_articles_index(client)
        outbox = OutboxWorker(db, client)
        await outbox.drain()
        await worker.drain()
        search = SearchService(client=client, worker=outbox)
        async with serve(db, worker, search) as app:
            assert (await gql(app, SITE_SEARCH, {"q": "ukraine"}))["search"]["degraded"] is False
            await meili.stop()

            # Another query: the first answer is in the result cache.
            assert (await gql(app, SITE_SEARCH, {"q": "kremlin"}))["search"]["degraded"] is True
            assert (await related(app))[0] == NEIGHBOUR
    finally:
        await client.aclose()
        await meili.stop()


async def test_near_duplicates_are_left_out(
    app: httpx.AsyncClient, worker: RelatedWorker, sessions: async_sessionmaker[AsyncSession]
) -> None:
    sample = json.loads(SAMPLE_LINES[0])
    twin = {**sample, "slug": "twin", "comments": [], "title": sample["title"] + " (update)"}
    await import_lines(sessions, [*SAMPLE_LINES, json.dumps(twin)])

    await worker.drain()

    assert await related(app) == [NEIGHBOUR]
    assert await related(app, "twin") == [NEIGHBOUR]


async def test_a_limit_out_of_range_is_bad_input(app: httpx.AsyncClient, stories: None) -> None:
    error = await gql_error(app, RELATED_WIDGET, {"slug": SAMPLE_SLUG, "limit": 21})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "limit" in error["message"]
    assert await related(app, limit=0) == []


async def test_every_story_of_a_page_gets_its_list_in_one_statement(
    app: httpx.AsyncClient, worker: RelatedWorker, db: AsyncEngine, stories: None
) -> None:
    await worker.drain()
    with count_statements(db) as small:
        one = await gql(app, LATEST_WITH_RELATED, {"first": 1})
    with count_statements(db) as large:
        fifty = await gql(app, LATEST_WITH_RELATED, {"first": 50})

    assert all(len(story["related"]) == 3 for story in fifty["articles"]["nodes"])
    assert len(one["articles"]["nodes"]) == 1
    assert len(large) == len(small), "\n\n".join(large)
