"""Shared fixtures: every API and model test runs against SQLite and against PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from asgi_lifespan import LifespanManager
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from api.app import create_app
from models import Base, migrate
from models.importer import import_lines
from models.session import AsyncSession, create_engine, session_factory
from tests import postgres

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "demo" / "sample-articles.jsonl"
BBC = ROOT / "demo" / "bbc-news.jsonl"
CONTRACT = Path(__file__).resolve().parent / "contract"
SAMPLE_SLUG = "kremlin-says-leaked-german-officers-call-proves-west-involved-in-ukraine"


def contract(name: str) -> str:
    """A contract document exactly as the frontend teams wrote it."""
    return (CONTRACT / f"{name}.graphql").read_text()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with postgres.server_url() as server, postgres.scratch_database(server) as url:
        yield url


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'newsroom.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    yield engine
    await engine.dispose()


@pytest.fixture
async def db(engine: AsyncEngine) -> AsyncEngine:
    """The engine, with every table emptied before the test."""
    tables = list(reversed(Base.metadata.sorted_tables))
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(table.name for table in tables)
            await conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            # Comments reference comments; checking keys at commit lets any order succeed.
            await conn.execute(sa.text("PRAGMA defer_foreign_keys=ON"))
            for table in tables:
                await conn.execute(table.delete())
    return engine


@pytest.fixture
def sessions(db: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(db)


@pytest.fixture
async def sample(sessions: async_sessionmaker[AsyncSession]) -> None:
    report = await import_lines(sessions, SAMPLE.read_text().splitlines())
    assert report.errors == []


@pytest.fixture
async def client(db: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(engine=db)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def post(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}, **extra}
    )
    assert response.status_code == 200, response.text
    return response.json()


async def gql(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    """Run a document and return its data, failing on any error in the answer."""
    body = await post(client, query, variables, **extra)
    assert "errors" not in body, body["errors"]
    return body["data"]


async def gql_error(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Run a document expected to fail and return its single error."""
    body = await post(client, query, variables)
    assert len(body.get("errors", [])) == 1, body
    return body["errors"][0]
