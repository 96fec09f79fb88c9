"""Rebuilding the article index from SQL without a moment without results, and checking it."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from models import outbox
from models.base import utcnow
from models.document import count_published, published_ids_in_batches, published_sources
from models.session import session_factory
from search.client import SearchClient
from search.documents import to_document
from search.indexes import ensure_articles_index

BATCH_SIZE = 1000
QUEUED_TASKS = 2
# Meilisearch indexes batches enqueued together as one: at 100,000 stories the first task ends
# only when most of them are done, minutes later on two cores. A rebuild is a batch job.
REBUILD_TASK_TIMEOUT_MS = 3_600_000


# PostgreSQL names advisory locks by number, per database: any constant of our own.
_REINDEX_LOCK = 7_203_517_101


@asynccontextmanager
async def running_alone(engine: AsyncEngine) -> AsyncIterator[bool]:
    """Whether no other process rebuilds this database's index now; if so, none can start
    until the block ends.

    Two rebuilds at once would fill, swap and delete each other's indexes. The lock belongs to
    the process, not to a lease: one that dies, even killed, frees it at once. PostgreSQL holds a
    session advisory lock on a connection kept for the block (idle, outside any transaction);
    SQLite, a file lock beside the database file.
    """
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            try_lock = sa.select(sa.func.pg_try_advisory_lock(_REINDEX_LOCK))
            alone = (await conn.execute(try_lock)).scalar_one()
            await conn.commit()
            try:
                yield alone
            finally:
                if alone:
                    await conn.execute(sa.select(sa.func.pg_advisory_unlock(_REINDEX_LOCK)))
                    await conn.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:":  # no other process can open this one
        yield True
        return
    lock = os.open(f"{database}.reindex.lock", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            alone = True
        except BlockingIOError:
            alone = False
        yield alone
    finally:
        os.close(lock)  # which unlocks it


async def count_documents_to_index(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return await count_published(conn)


async def reindex(
    engine: AsyncEngine,
    client: SearchClient,
    on_progress: Callable[[int], Any] | None = None,
    batch_size: int = BATCH_SIZE,
) -> int:
    """Build a fresh index beside the live one, then swap them in one atomic step.

    Readers keep searching the old index until the swap. Changes committed while the new index
    was being filled are replayed through the outbox afterwards, so none is lost to the swap.
    """
    started = utcnow()
    fresh = f"{client.articles}_rebuild_{int(time.time())}"
    await ensure_articles_index(client)
    await ensure_articles_index(client, fresh)
    total = 0
    tasks: list[int] = []
    async with engine.connect() as conn:
        async for ids in published_ids_in_batches(conn, batch_size):
            sources = await published_sources(conn, ids)
            documents = [to_document(source) for source in sources.values()]
            # Enqueue before waiting, so that Meilisearch indexes while we read SQL; but never
            # more than QUEUED_TASKS batches at once. Meilisearch runs its tasks one after
            # another, so an editor's publish to the live index waits for all that is ahead.
            task = await client.put_documents(fresh, documents, wait=False)
            if task is not None:
                tasks.append(task)
            while len(tasks) > QUEUED_TASKS:
                await client.wait(tasks.pop(0), timeout_ms=REBUILD_TASK_TIMEOUT_MS)
            total += len(documents)
            if on_progress:
                on_progress(len(documents))
    for task in tasks:
        await client.wait(task, timeout_ms=REBUILD_TASK_TIMEOUT_MS)
    await client.swap(client.articles, fresh)
    await client.delete_index(fresh)
    async with engine.connect() as conn:
        changed = await outbox.articles_enqueued_since(conn, started)
    if changed:
        # Replayed as urgent as they first were: an editor's publish during the rebuild is
        # still an editor's publish.
        async with session_factory(engine).begin() as session:
            for priority in set(changed.values()):
                ids = [pk for pk, given in changed.items() if given == priority]
                outbox.enqueue_articles(session, ids, priority)
    return total


@dataclass(slots=True)
class IndexCheck:
    missing: list[int]  # published in SQL, absent from the index
    extra: list[int]  # in the index, not published in SQL

    @property
    def in_step(self) -> bool:
        return not self.missing and not self.extra


async def check(engine: AsyncEngine, client: SearchClient) -> IndexCheck:
    """Compare the index's documents with SQL's published articles."""
    published: set[int] = set()
    async with engine.connect() as conn:
        async for ids in published_ids_in_batches(conn, 10_000):
            published.update(ids)
    indexed = await client.document_ids(client.articles)
    return IndexCheck(missing=sorted(published - indexed), extra=sorted(indexed - published))
