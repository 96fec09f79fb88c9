"""The search outbox when several API processes each run a worker."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from models import outbox
from models.base import utcnow
from models.session import session_factory


async def claim(engine: AsyncEngine, limit: int) -> outbox.OutboxBatch:
    async with engine.begin() as conn:
        batch = await outbox.next_batch(conn, limit)
        await asyncio.sleep(0.05)  # hold the claim open while the other worker tries
        return batch


async def test_concurrent_workers_never_claim_the_same_rows(db: AsyncEngine) -> None:
    if db.dialect.name != "postgresql":
        pytest.skip("several workers need PostgreSQL; SQLite runs one process")
    async with session_factory(db).begin() as session:
        outbox.enqueue_articles(session, range(1, 21))

    first, second = await asyncio.gather(claim(db, 15), claim(db, 15))

    assert set(first.entry_ids).isdisjoint(second.entry_ids)
    assert len(first.entry_ids) + len(second.entry_ids) == 20
    # Claimed rows wait out their lease: a third worker finds nothing to do.
    assert (await claim(db, 15)).entry_ids == []


async def test_a_claim_that_is_never_confirmed_comes_back_after_its_lease(
    db: AsyncEngine,
) -> None:
    """A worker that died mid-batch: its rows are not lost, only delayed by the lease."""
    async with session_factory(db).begin() as session:
        outbox.enqueue_articles(session, [1, 2])
    claimed = await claim(db, 10)
    assert len(claimed.entry_ids) == 2
    assert (await claim(db, 10)).entry_ids == []
    async with db.begin() as conn:  # the lease runs out
        await conn.execute(
            sa.update(outbox.OutboxEntry).values(claimed_until=utcnow() - timedelta(seconds=1))
        )
    assert (await claim(db, 10)).entry_ids == claimed.entry_ids


async def test_an_editors_publish_is_claimed_before_a_backlog_of_bulk_work(
    db: AsyncEngine,
) -> None:
    async with session_factory(db).begin() as session:
        outbox.enqueue_articles(session, range(1, 301), outbox.Priority.BULK)
    async with session_factory(db).begin() as session:
        outbox.enqueue_articles(session, [500])
        outbox.enqueue_articles(session, [501], outbox.Priority.FAN_OUT)

    async with db.begin() as conn:
        urgent = await outbox.next_batch(conn, 500, bulk_limit=100)
        bulk = await outbox.next_batch(conn, 500, bulk_limit=100)

    # The editor's rows go alone, not padded with bulk rows that would make them wait.
    assert urgent.article_ids == [500, 501]
    assert bulk.article_ids == list(range(1, 101))


async def test_a_story_another_worker_holds_is_left_until_that_worker_is_done(
    db: AsyncEngine,
) -> None:
    """Two workers writing two versions of one story could land them in the wrong order."""
    async with session_factory(db).begin() as session:
        outbox.enqueue_articles(session, [7, 8], outbox.Priority.BULK)
    async with db.begin() as conn:
        first = await outbox.next_batch(conn, 1)
    async with session_factory(db).begin() as session:
        outbox.enqueue_articles(session, [7])  # the editor publishes story 7 meanwhile

    async with db.begin() as conn:
        second = await outbox.next_batch(conn, 10)
    assert first.article_ids == [7]
    assert second.article_ids == [8]

    async with db.begin() as conn:
        await outbox.mark_done(conn, first.entry_ids)
        third = await outbox.next_batch(conn, 10)
    assert third.article_ids == [7]
