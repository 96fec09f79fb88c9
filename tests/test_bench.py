"""The benchmark's one-statement limit answers the article page as our API does."""

from __future__ import annotations

import json
from itertools import islice

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bench import one_statement
from bench.suite import without_related
from models.importer import import_lines
from models.session import AsyncSession
from tests.conftest import BBC, SAMPLE, SAMPLE_SLUG, contract, gql

PAGE = without_related(contract("article-page"))


@pytest.fixture
async def postgres(db: AsyncEngine) -> AsyncEngine:
    if db.dialect.name != "postgresql":
        pytest.skip("the one-statement limit is PostgreSQL's")
    return db


async def test_one_statement_page_is_our_page_without_related(
    postgres: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bbc = list(islice(BBC.read_text().splitlines(), 5))
    assert (await import_lines(sessions, [*SAMPLE.read_text().splitlines(), *bbc])).errors == []
    url = postgres.url.render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", url)
    slugs = [SAMPLE_SLUG, *(json.loads(line)["slug"] for line in bbc), "no-such-story"]

    async with LifespanManager(one_statement.app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://limit") as limit:
            for slug in slugs:
                body = {"query": PAGE, "variables": {"slug": slug}}
                answer = (await limit.post("/article", json=body)).json()

                assert answer == {"data": await gql(client, PAGE, {"slug": slug})}, slug
