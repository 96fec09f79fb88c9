"""SIGTERM while requests and an outbox batch are in flight: every request finishes, the process
exits 0, and no outbox row is left claimed but unfinished."""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from api.services import SearchService
from models import Article, OutboxEntry, migrate
from models.base import utcnow
from models.importer import import_lines
from models.session import create_engine, session_factory
from search.client import SearchClient
from search.indexes import ensure_articles_index
from search.server import LocalMeilisearch
from search.worker import OutboxWorker
from tests.conftest import SAMPLE, SAMPLE_SLUG, contract
from tests.support import Api, PrivatePostgres, api_env, article_input, newsroom

ARTICLE_PAGE = contract("article-page")
SAVE = contract("editor-save-article")
BOUND = 30.0


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not so after {BOUND:g} s")
        await asyncio.sleep(0.1)


@asynccontextmanager
async def articles_locked(url: str) -> AsyncIterator[asyncpg.Connection]:
    """Hold an exclusive lock on the articles table: whoever reads a story waits until the
    block ends, as behind a long migration. Yields a second connection for looking around."""
    locker, observer = await asyncpg.connect(url), await asyncpg.connect(url)
    try:
        transaction = locker.transaction()
        await transaction.start()
        await locker.execute("LOCK TABLE articles IN ACCESS EXCLUSIVE MODE")
        try:
            yield observer
        finally:
            await transaction.rollback()
    finally:
        await locker.close()
        await observer.close()


async def waiting_on_the_lock(observer: asyncpg.Connection) -> int:
    return await observer.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock'"
    )


async def article_id(engine: AsyncEngine, slug: str) -> int:
    async with engine.connect() as conn:
        query = sa.select(Article.id).where(Article.slug == slug)
        return (await conn.execute(query)).scalar_one()


async def announce(engine: AsyncEngine, story: int) -> int:
    """An outbox row for a story, as a change committed by another process would leave."""
    async with engine.begin() as conn:
        now = utcnow()
        query = sa.insert(OutboxEntry).values(article_id=story, created_at=now, available_at=now)
        return (await conn.execute(query.returning(OutboxEntry.id))).scalar_one()


async def outbox_rows(engine: AsyncEngine) -> list[sa.Row]:
    async with engine.connect() as conn:
        entry = OutboxEntry
        query = sa.select(entry.id, entry.article_id, entry.processed_at, entry.claimed_until)
        return list(await conn.execute(query.order_by(entry.id)))


def claimed(row: sa.Row) -> bool:
    """Taken by a worker and not finished: what a clean stop must never leave behind."""
    return (
        row.processed_at is None and row.claimed_until is not None and row.claimed_until > utcnow()
    )


async def test_sigterm_finishes_requests_in_flight_and_leaves_no_outbox_row_half_done(
    private_postgres: PrivatePostgres, meili: LocalMeilisearch, tmp_path: Path
) -> None:
    url = private_postgres.database_url("postgres")
    # Room for the blocked requests below: the point is SIGTERM, not the time limit.
    env = {**api_env(url, meili, tmp_path), "REQUEST_TIME_LIMIT": "30", "LOG_LEVEL": "info"}
    newsroom(env, "db", "upgrade")
    newsroom(env, "import", str(SAMPLE))
    token = newsroom(env, "token", "create", "--role", "editor", "--name", "desk").split()[-1]
    editor = {"Authorization": f"Bearer {token}"}
    engine = create_engine(url)
    api = Api(env, tmp_path / "api.log")
    try:
        async with httpx.AsyncClient(base_url=api.url, timeout=60) as client:
            page = {"query": ARTICLE_PAGE, "variables": {"slug": SAMPLE_SLUG}}
            answers: list[dict] = []

            async def settled() -> bool:
                # The related-stories job has stored the sample's list: the page stays as it is.
                answers.append((await client.post("/graphql", json=page)).json())
                return bool(answers[-1]["data"]["article"]["related"])

            async def drained() -> bool:
                return all(row.processed_at for row in await outbox_rows(engine))

            await eventually(drained, "the import's outbox rows applied")
            await eventually(settled, "the sample's related stories computed")
            expected = answers[-1]
            assert expected["data"]["article"]["slug"] == SAMPLE_SLUG, expected

            save = {"input": article_input(slug="filed-at-closing", title="Filed at closing")}
            write = {"query": SAVE, "operationName": "SaveArticle", "variables": save}
            sample_id = await article_id(engine, SAMPLE_SLUG)
            async with articles_locked(url) as observer:
                row_id = await announce(engine, sample_id)
                reads = [asyncio.create_task(client.post("/graphql", json=page)) for _ in range(2)]
                saving = asyncio.create_task(client.post("/graphql", json=write, headers=editor))

                async def in_flight() -> bool:
                    # Two readers, the editor and the outbox worker, which claimed the row.
                    rows = {row.id: row for row in await outbox_rows(engine)}
                    return await waiting_on_the_lock(observer) >= 4 and claimed(rows[row_id])

                await eventually(in_flight, "requests and the outbox batch waiting")
                api.process.send_signal(signal.SIGTERM)
                stopping = time.monotonic()

                async def refusing() -> bool:
                    try:
                        async with httpx.AsyncClient(base_url=api.url, timeout=5) as probe:
                            await probe.get("/healthz")
                    except httpx.ConnectError:
                        return True
                    except (httpx.ReadError, httpx.RemoteProtocolError):
                        pass  # accepted just before the listener closed, then let go
                    return False

                # The server stopped taking new connections, and still has its requests.
                await eventually(refusing, "new connections refused")
                assert not any(task.done() for task in [*reads, saving])
            answers = await asyncio.gather(*reads, saving)
        exit_code = await asyncio.to_thread(api.process.wait, BOUND)
        stopped = time.monotonic() - stopping
        rows = await outbox_rows(engine)
        async with engine.connect() as conn:
            filed = (
                await conn.execute(sa.select(Article.id).where(Article.slug == "filed-at-closing"))
            ).scalar_one_or_none()
    finally:
        api.stop()
        await engine.dispose()

    print(f"SIGTERM to exit: {stopped:.1f} s, with 3 requests and an outbox batch in flight")
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.json() for a in answers[:2]] == [expected, expected]
    assert answers[2].json()["data"]["saveArticle"]["__typename"] == "ArticleSaved"
    assert exit_code == 0, api.log.read_text()[-3000:]
    # The batch in flight was finished, not abandoned; the editor's write is stored with its
    # announcement in the outbox, applied or waiting for the next worker, never held by a lease.
    assert not [row for row in rows if claimed(row)], rows
    assert next(row for row in rows if row.id == row_id).processed_at is not None
    assert filed is not None and any(row.article_id == filed for row in rows)


async def test_a_worker_stopped_mid_batch_gives_its_rows_back_at_once(
    private_postgres: PrivatePostgres, meili: LocalMeilisearch
) -> None:
    url = private_postgres.database_url("postgres")
    engine = create_engine(url)
    client = SearchClient(meili.url, meili.master_key, prefix=f"g{uuid.uuid4().hex[:8]}_")
    try:
        await migrate.upgrade(engine)
        report = await import_lines(session_factory(engine), SAMPLE.read_text().splitlines())
        assert report.errors == []
        await ensure_articles_index(client)
        worker = OutboxWorker(engine, client, idle_seconds=0.05)
        await worker.drain()
        service = SearchService(client=client, worker=worker)
        sample_id = await article_id(engine, SAMPLE_SLUG)
        async with articles_locked(url) as observer:
            row_id = await announce(engine, sample_id)
            service.start_worker()

            async def stuck() -> bool:
                rows = {row.id: row for row in await outbox_rows(engine)}
                return await waiting_on_the_lock(observer) >= 1 and claimed(rows[row_id])

            await eventually(stuck, "the worker holding a batch")
            # A stop that cannot wait for the batch (the database hangs) cancels it.
            await service.stop_worker(grace=0.2)
            row = next(row for row in await outbox_rows(engine) if row.id == row_id)
        assert row.processed_at is None and not claimed(row)
        # Given back, the row is due now, not after the lease: the next worker applies it.
        assert await worker.drain() == 1
    finally:
        for index in await client.indexes():
            if index.startswith(client.prefix):
                await client.delete_index(index)
        await client.aclose()
        await engine.dispose()
