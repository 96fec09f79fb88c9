"""Shared fixtures: every API and model test runs against SQLite and against PostgreSQL."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from asgi_lifespan import LifespanManager
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from api.app import create_app
from api.services import SearchService
from api.settings import Settings
from models import Base, migrate, screening
from models.importer import import_lines
from models.session import AsyncSession, create_engine, session_factory
from search.client import SearchClient
from search.indexes import ensure_articles_index
from search.server import LocalMeilisearch
from search.worker import OutboxWorker
from tests import postgres

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "demo" / "sample-articles.jsonl"
BBC = ROOT / "demo" / "bbc-news.jsonl"
CONTRACT = Path(__file__).resolve().parents[1] / "api" / "site" / "contract"
SAMPLE_SLUG = "kremlin-says-leaked-german-officers-call-proves-west-involved-in-ukraine"

# The slow groups (registered in pyproject.toml), by place under tests/: a folder (ending in
# "/"), a module, or one test (with "::"). `make test-fast` runs everything else;
# docs/testing.md has each group's time.
SLOW_GROUPS = {
    "browser": ("browser/",),
    "faults": ("faults/",),
    "fuzz": ("api/test_fuzz.py",),
    "audit": ("api/test_http_audit.py",),
    "workers": ("api/test_workers.py", "test_jobs.py"),
    "slow": (
        "api/test_search.py",
        "api/test_paging.py",
        "search/test_sync.py",
        "test_cli.py::test_import_reports_bad_lines_and_loads_the_rest",
        "models/test_extraction.py::test_hard_input_neither_crashes_nor_hangs[100k words]",
    ),
}


def _within(node: str, place: str) -> bool:
    if place.endswith("/"):
        return node.startswith(place)
    return node == place or node.startswith((f"{place}::", f"{place}["))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of a slow group with its group's marker."""
    here = Path(__file__).resolve().parent
    for item in items:
        try:
            module = item.path.resolve().relative_to(here).as_posix()
        except ValueError:
            continue
        _, _, name = item.nodeid.partition("::")
        node = f"{module}::{name}" if name else module
        for marker, places in SLOW_GROUPS.items():
            if any(_within(node, place) for place in places):
                item.add_marker(marker)


def contract(name: str) -> str:
    """A contract document exactly as the frontend teams wrote it."""
    return (CONTRACT / f"{name}.graphql").read_text()


@pytest.fixture(scope="session", autouse=True)
def screening_model() -> None:
    """Every app loads the comment screening model at start-up; loaded once here, so that no
    app's start-up (given a few seconds by LifespanManager) pays for it on a busy machine."""
    screening.warm_up()


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


async def empty_tables(engine: AsyncEngine) -> None:
    """Delete every row of every table (the schema stays)."""
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


@pytest.fixture
async def db(engine: AsyncEngine) -> AsyncEngine:
    """The engine, with every table emptied before the test."""
    await empty_tables(engine)
    return engine


@pytest.fixture
def sessions(db: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(db)


@pytest.fixture
async def sample(sessions: async_sessionmaker[AsyncSession]) -> None:
    report = await import_lines(sessions, SAMPLE.read_text().splitlines())
    assert report.errors == []


@asynccontextmanager
async def serve(
    engine: AsyncEngine,
    search: SearchService | None = None,
    settings: Settings | None = None,
    *,
    base_url: str = "http://test",
    address: str = "127.0.0.1",
) -> AsyncIterator[httpx.AsyncClient]:
    """The real app, in-process, with the given database, search service and settings; the
    client's requests come from `address` and are sent to `base_url`."""
    app = create_app(settings, engine=engine, search=search)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app, client=(address, 1234))
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client


@pytest.fixture
async def client(db: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    """The app without a search engine: search answers are degraded, related is empty."""
    async with serve(db, None) as client:
        yield client


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The machine's Redis (REDIS_URL, or 127.0.0.1:6379): the shared result cache is tested
    against a real one, never a fake."""
    import redis

    url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.fail(f"Redis is needed at {url} ({exc}); start one or set REDIS_URL")
    return url


@pytest.fixture(scope="session")
async def meili(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LocalMeilisearch]:
    """One real Meilisearch for the whole run; each test gets indexes of its own."""
    server = LocalMeilisearch(tmp_path_factory.mktemp("meilisearch"))
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def search(meili: LocalMeilisearch, db: AsyncEngine) -> AsyncIterator[SearchService]:
    client = SearchClient(meili.url, meili.master_key, prefix=f"t{uuid.uuid4().hex[:12]}_")
    await ensure_articles_index(client)
    worker = OutboxWorker(db, client, idle_seconds=0.05, max_backoff_seconds=0.5)
    service = SearchService(client=client, worker=worker)
    yield service
    for index in await client.indexes():
        if index.startswith(client.prefix):
            await client.delete_index(index)
    await client.aclose()


@pytest.fixture
async def search_client(db: AsyncEngine, search: SearchService) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a real Meilisearch; tests drain the outbox with `search.worker.drain()`."""
    async with serve(db, search) as client:
        yield client


async def post(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}, **extra}, headers=headers
    )
    assert response.status_code == 200, response.text
    return response.json()


async def gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Run a document and return its data, failing on any error in the answer."""
    body = await post(client, query, variables, headers, **extra)
    assert "errors" not in body, body["errors"]
    return body["data"]


async def gql_error(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Run a document expected to fail and return its single error."""
    body = await post(client, query, variables, headers, **extra)
    assert len(body.get("errors", [])) == 1, body
    return body["errors"][0]


async def make_token(engine: AsyncEngine, role: str, name: str | None = None) -> dict[str, str]:
    """Headers carrying a fresh token of `role`, as `newsroom token create` would make it."""
    from models.enums import Role
    from models.token import create_token

    async with session_factory(engine).begin() as session:
        token = await create_token(session, name or f"{role}-{uuid.uuid4().hex[:6]}", Role(role))
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def editor(db: AsyncEngine) -> dict[str, str]:
    return await make_token(db, "editor")


@pytest.fixture
async def moderator(db: AsyncEngine) -> dict[str, str]:
    return await make_token(db, "moderator")


@pytest.fixture
async def news_section(db: AsyncEngine) -> None:
    from models import Section

    async with db.begin() as conn:
        await conn.execute(sa.insert(Section).values(slug="news", name="News"))
