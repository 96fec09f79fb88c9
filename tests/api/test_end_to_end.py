"""One story's life over real HTTP: written by an editor, published, found, taken down."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.services import SearchService
from search.server import free_port
from tests.conftest import contract, make_token

SAVE = contract("editor-save-article")
ARTICLE_PAGE = contract("article-page")
SITE_SEARCH = contract("site-search")
SEARCH_SUGGEST = contract("search-suggest")
LATEST = contract("latest-articles")
UNPUBLISH = "mutation ($slug: String!) { unpublishArticle(slug: $slug) { __typename } }"
STORY = {
    "slug": "quokka-census",
    "title": "Quokka census finds record numbers on Rottnest",
    "section": "news",
    "topics": ["Wildlife"],
    "body": [{"type": "PARAGRAPH", "text": "Rangers counted more quokkas than ever before."}],
}


@pytest.fixture
async def server(db: AsyncEngine, search: SearchService, news_section: None) -> AsyncIterator[str]:
    """The app under uvicorn on a loopback port, with its outbox worker running."""
    search.start_worker()
    port = free_port()
    config = uvicorn.Config(create_app(engine=db, search=search), port=port, log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await serving
    await search.stop_worker()


async def call(http: httpx.AsyncClient, query: str, variables: dict, **extra: object) -> dict:
    response = await http.post("/graphql", json={"query": query, "variables": variables, **extra})
    body = response.json()
    assert response.status_code == 200 and "errors" not in body, body
    return body["data"]


async def found(http: httpx.AsyncClient) -> bool:
    result = await call(http, SITE_SEARCH, {"q": "quokka census"})
    return "quokka-census" in [hit["article"]["slug"] for hit in result["search"]["hits"]]


async def test_an_editor_publishes_a_story_readers_find_it_and_it_goes_away(
    server: str, db: AsyncEngine
) -> None:
    editor = await make_token(db, "editor")
    async with (
        httpx.AsyncClient(base_url=server, headers=editor) as desk,
        httpx.AsyncClient(base_url=server) as reader,
    ):
        saved = await call(desk, SAVE, {"input": STORY}, operationName="SaveArticle")
        assert saved["saveArticle"]["article"]["status"] == "DRAFT"
        assert (await call(desk, ARTICLE_PAGE, {"slug": "quokka-census"}))["article"]["title"]
        assert (await call(reader, ARTICLE_PAGE, {"slug": "quokka-census"}))["article"] is None

        await call(desk, SAVE, {"slug": "quokka-census"}, operationName="PublishArticle")
        published = time.monotonic()
        while not await found(reader):
            assert time.monotonic() - published < 2.0, "not in search 2 s after publishing"
            await asyncio.sleep(0.05)

        await call(desk, UNPUBLISH, {"slug": "quokka-census"})
        unpublished = time.monotonic()
        while await found(reader):
            assert time.monotonic() - unpublished < 2.0, "still in search 2 s after unpublishing"
            await asyncio.sleep(0.05)
        assert (await call(reader, ARTICLE_PAGE, {"slug": "quokka-census"}))["article"] is None
        latest = await call(reader, LATEST, {"first": 50})
        assert "quokka-census" not in {n["slug"] for n in latest["articles"]["nodes"]}
        suggestions = await call(reader, SEARCH_SUGGEST, {"prefix": "quokk"})
        assert suggestions["suggest"]["articles"] == []
        assert suggestions["suggest"]["topics"] == []
        topic = await call(reader, contract("topic-page"), {"slug": "wildlife"})
        assert topic["topic"]["articles"]["totalCount"] == 0
