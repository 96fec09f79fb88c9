"""Several API processes on one PostgreSQL and one Redis: a write through one is never read stale
through the other, cached or not."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from search.server import LocalMeilisearch, _free_port
from tests.api.test_editing import article_input
from tests.conftest import contract, make_token
from tests.servers import start_api, wait_ready

SAVE = contract("editor-save-article")
TITLE = "query ($slug: String!) { article(slug: $slug) { title } }"
ROUNDS = 1000


@pytest.fixture
def workers(
    db: AsyncEngine, database_url: str, redis_url: str, meili: LocalMeilisearch, tmp_path: Path
) -> Iterator[list[str]]:
    if db.dialect.name != "postgresql":
        pytest.skip("several workers share PostgreSQL; SQLite is the one-process default")
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "MEILI_URL": meili.url,
        "MEILI_MASTER_KEY": meili.master_key,
        "MEILI_INDEX_PREFIX": f"w{uuid.uuid4().hex[:8]}_",
        "DATA_DIR": str(tmp_path),
        "PEOPLE_WORKER": "false",
        # The outbox worker drops a story's cached answers again once the index has it, which
        # would make the hit count below depend on timing; staleness is what this test is about.
        "SEARCH_WORKER": "false",
        "LOG_LEVEL": "warning",
    }
    processes, urls = [], []
    try:
        for n in range(2):
            port = _free_port()
            log = tmp_path / f"worker-{n}.log"
            processes.append((start_api(env, port, log), log))
            urls.append(f"http://127.0.0.1:{port}")
        for url, (process, log) in zip(urls, processes, strict=True):
            wait_ready(url, process, log)
        yield urls
    finally:
        for process, _ in processes:
            process.terminate()
        for process, _ in processes:
            process.wait(timeout=30)


async def test_no_stale_answer_across_two_workers_sharing_redis(
    workers: list[str], db: AsyncEngine, news_section: None
) -> None:
    editor = await make_token(db, "editor")
    first, second = (httpx.AsyncClient(base_url=url, timeout=10) for url in workers)
    async with first, second:

        async def save(client: httpx.AsyncClient, title: str) -> None:
            body = {"query": SAVE, "operationName": "SaveArticle"}
            body["variables"] = {"input": article_input(slug="live", title=title)}
            response = await client.post("/graphql", json=body, headers=editor)
            assert response.json()["data"]["saveArticle"]["__typename"] == "ArticleSaved"

        async def title(client: httpx.AsyncClient) -> tuple[str, str]:
            body = {"query": TITLE, "variables": {"slug": "live"}}
            response = await client.post("/graphql", json=body)
            return response.json()["data"]["article"]["title"], response.headers["x-cache"]

        await save(first, "v0")
        publish = {"query": SAVE, "operationName": "PublishArticle", "variables": {"slug": "live"}}
        await first.post("/graphql", json=publish, headers=editor)

        hits = 0
        for n in range(1, ROUNDS + 1):
            writer, reader = (first, second) if n % 2 else (second, first)
            assert await title(reader) == (f"v{n - 1}", "MISS" if n == 1 else "HIT")
            await save(writer, f"v{n}")
            # The writer's own invalidation reached Redis before its answer: the other worker,
            # then the writer, read the new title (the second read from the shared cache).
            assert (await title(reader))[0] == f"v{n}"
            seen, cached = await title(writer)
            assert seen == f"v{n}"
            hits += cached == "HIT"
        assert hits == ROUNDS
