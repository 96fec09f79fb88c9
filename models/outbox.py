"""The search outbox: rows written in the same transaction as the change they announce.

A row says "the search document of this article may have changed". Whoever drains it reads the
article's current state, so rows can be merged and replayed without harm, and a row is marked
processed only after the search engine confirmed the write. Processed rows are kept for a day so
that a reindex can replay what changed while it ran.

Rows carry a priority: an editor's publish must not wait behind a wire import of 10,000 stories
or a re-extraction of the whole archive, so editorial rows are claimed first, in small batches of
their own, and bulk rows in batches small enough that Meilisearch is never long busy with them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.article import ArticleTopic
from models.base import Base, utcnow
from models.person import Mention
from models.related_queue import note_changes


class Priority(IntEnum):
    """Lower goes first."""

    # A story saved, published, unpublished, deleted or restored; an editor's pin of a person.
    EDITORIAL = 0
    # An editor's rename or merge, which reaches every story that carries the name.
    FAN_OUT = 1
    # Imports, people extraction, the replay after a reindex.
    BULK = 2


class OutboxEntry(Base):
    __tablename__ = "search_outbox"
    __table_args__ = (
        sa.Index("ix_search_outbox_processed_at_available_at", "processed_at", "available_at"),
        sa.Index("ix_search_outbox_processed_at_priority_id", "processed_at", "priority", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # No foreign key: the row must outlive a deleted article, whose document it removes.
    article_id: Mapped[int] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Retried rows wait out their back-off before a worker picks them up again.
    available_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    processed_at: Mapped[datetime | None]
    priority: Mapped[int] = mapped_column(sa.SmallInteger, default=Priority.EDITORIAL)
    # Set while a worker holds the row: until then, no other worker takes any row of the same
    # story, so two workers never race to write two versions of one document.
    claimed_until: Mapped[datetime | None]


KEEP_PROCESSED = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class OutboxBatch:
    entry_ids: list[int]
    article_ids: list[int]
    bulk: bool = False


def enqueue_articles(
    session: AsyncSession, article_ids: Iterable[int], priority: Priority = Priority.EDITORIAL
) -> None:
    """Announce, inside the caller's transaction, that these articles' documents changed."""
    now = utcnow()
    ids = list(dict.fromkeys(article_ids))
    session.add_all(
        OutboxEntry(article_id=article_id, created_at=now, available_at=now, priority=priority)
        for article_id in ids
    )
    # What a search document holds is what related lists read: they hear of it here too.
    note_changes(session, ids, priority)


async def enqueue_articles_of_topic(session: AsyncSession, topic_id: int) -> None:
    """A renamed topic changes every document that carries its name."""
    ids = await session.scalars(
        sa.select(ArticleTopic.article_id).where(ArticleTopic.topic_id == topic_id)
    )
    enqueue_articles(session, ids, Priority.FAN_OUT)


async def enqueue_articles_of_person(session: AsyncSession, person_id: int) -> None:
    ids = await session.scalars(sa.select(Mention.article_id).where(Mention.person_id == person_id))
    enqueue_articles(session, ids, Priority.FAN_OUT)


# How long a claimed batch stays with the worker that took it; if that worker dies, another
# takes the rows once the lease runs out.
CLAIM_LEASE = timedelta(minutes=5)
# Any number taken by no other advisory lock of the project: PostgreSQL claims take turns on it.
_CLAIM_LOCK = 0x6E6577_0001


async def next_batch(
    conn: AsyncConnection,
    limit: int,
    bulk_limit: int | None = None,
    *,
    urgent: bool | None = None,
) -> OutboxBatch:
    """Claim the most urgent rows that are due, and the distinct articles they name.

    Editorial rows come first and alone (never padded with bulk rows, which would make the
    editor's write wait for theirs); bulk rows come `bulk_limit` at a time. A story whose rows
    another worker holds is left alone until that worker is done with it: two workers writing
    two versions of one document could otherwise land in Meilisearch in the wrong order.

    Several API processes may each run a worker: claims take turns (an advisory lock on
    PostgreSQL, SQLite's single writer), so each sees the others' claims, and `FOR UPDATE SKIP
    LOCKED` keeps them from waiting on rows a reader of the outbox holds.
    `urgent` True takes only editorial and fan-out rows, False only bulk ones, None either.
    The caller's transaction must commit the claim before the rows are processed.
    """
    now = utcnow()
    held = sa.select(OutboxEntry.article_id).where(
        OutboxEntry.processed_at.is_(None), OutboxEntry.claimed_until > now
    )
    due = (
        sa.select(OutboxEntry.id, OutboxEntry.article_id, OutboxEntry.priority)
        .where(
            OutboxEntry.processed_at.is_(None),
            OutboxEntry.available_at <= now,
            OutboxEntry.article_id.not_in(held),
            *_lane(urgent),
        )
        .order_by(OutboxEntry.priority, OutboxEntry.id)
        .limit(limit)
    )
    # Each lane of every worker looks twice a second: an idle look only reads, and takes
    # neither SQLite's write lock nor the claimers' turn on PostgreSQL.
    if not await conn.scalar(sa.select(due.exists())):
        return OutboxBatch(entry_ids=[], article_ids=[])
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_CLAIM_LOCK)))
    else:
        # A write first: SQLite then holds its write lock for the whole claim, so that no other
        # process reads the outbox between this one's read and its update.
        await conn.execute(sa.update(OutboxEntry).where(OutboxEntry.id == -1).values(attempts=0))
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    rows = list(await conn.execute(due))
    if rows and rows[0].priority < Priority.BULK:
        rows = [row for row in rows if row.priority < Priority.BULK]
    elif bulk_limit is not None:
        rows = rows[:bulk_limit]
    if rows:
        await conn.execute(
            sa.update(OutboxEntry)
            .where(OutboxEntry.id.in_([row.id for row in rows]))
            .values(claimed_until=now + CLAIM_LEASE)
        )
    return OutboxBatch(
        entry_ids=[row.id for row in rows],
        article_ids=list(dict.fromkeys(row.article_id for row in rows)),
        bulk=bool(rows) and rows[0].priority == Priority.BULK,
    )


def _lane(urgent: bool | None) -> list[sa.ColumnElement[bool]]:
    if urgent is None:
        return []
    if urgent:
        return [OutboxEntry.priority < Priority.BULK]
    return [OutboxEntry.priority == Priority.BULK]


async def mark_done(conn: AsyncConnection, entry_ids: Sequence[int]) -> None:
    now = utcnow()
    await conn.execute(
        sa.update(OutboxEntry)
        .where(OutboxEntry.id.in_(entry_ids))
        .values(processed_at=now, claimed_until=None)
    )
    await conn.execute(
        sa.delete(OutboxEntry).where(OutboxEntry.processed_at < now - KEEP_PROCESSED)
    )


async def release(conn: AsyncConnection, entry_ids: Sequence[int]) -> None:
    """Give claimed rows back before their lease ends, for any worker to take at once."""
    await conn.execute(
        sa.update(OutboxEntry)
        .where(OutboxEntry.id.in_(entry_ids), OutboxEntry.processed_at.is_(None))
        .values(claimed_until=None)
    )


async def mark_failed(
    conn: AsyncConnection, entry_ids: Sequence[int], error: str, retry_in: timedelta
) -> None:
    await conn.execute(
        sa.update(OutboxEntry)
        .where(OutboxEntry.id.in_(entry_ids))
        .values(
            attempts=OutboxEntry.attempts + 1,
            last_error=error[:2000],
            available_at=utcnow() + retry_in,
            claimed_until=None,
        )
    )


async def backlog(conn: AsyncConnection) -> dict[str, Any]:
    """How many rows wait, and since when: what an operator watches."""
    row = (
        await conn.execute(
            sa.select(sa.func.count(), sa.func.min(OutboxEntry.created_at)).where(
                OutboxEntry.processed_at.is_(None)
            )
        )
    ).one()
    return {"pending": row[0], "oldest": row[1]}


async def articles_enqueued_since(conn: AsyncConnection, since: datetime) -> dict[int, Priority]:
    """The stories announced since `since`, each with the most urgent priority it was given."""
    result = await conn.execute(
        sa.select(OutboxEntry.article_id, sa.func.min(OutboxEntry.priority))
        .where(OutboxEntry.created_at >= since)
        .group_by(OutboxEntry.article_id)
    )
    return {article_id: Priority(priority) for article_id, priority in result}
