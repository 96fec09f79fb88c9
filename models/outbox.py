"""The search outbox: rows written in the same transaction as the change they announce.

A row says "the search document of this article may have changed". Whoever drains it reads the
article's current state, so rows can be merged and replayed without harm, and a row is marked
processed only after the search engine confirmed the write. Processed rows are kept for a day so
that a reindex can replay what changed while it ran.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.article import ArticleTopic
from models.base import Base, utcnow
from models.person import Mention


class OutboxEntry(Base):
    __tablename__ = "search_outbox"
    __table_args__ = (
        sa.Index("ix_search_outbox_processed_at_available_at", "processed_at", "available_at"),
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


KEEP_PROCESSED = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class OutboxBatch:
    entry_ids: list[int]
    article_ids: list[int]


def enqueue_articles(session: AsyncSession, article_ids: Iterable[int]) -> None:
    """Announce, inside the caller's transaction, that these articles' documents changed."""
    now = utcnow()
    session.add_all(
        OutboxEntry(article_id=article_id, created_at=now, available_at=now)
        for article_id in dict.fromkeys(article_ids)
    )


async def enqueue_articles_of_topic(session: AsyncSession, topic_id: int) -> None:
    """A renamed topic changes every document that carries its name."""
    ids = await session.scalars(
        sa.select(ArticleTopic.article_id).where(ArticleTopic.topic_id == topic_id)
    )
    enqueue_articles(session, ids)


async def enqueue_articles_of_person(session: AsyncSession, person_id: int) -> None:
    ids = await session.scalars(sa.select(Mention.article_id).where(Mention.person_id == person_id))
    enqueue_articles(session, ids)


# How long a claimed batch stays with the worker that took it; if that worker dies, another
# takes the rows once the lease runs out.
CLAIM_LEASE = timedelta(minutes=5)


async def next_batch(conn: AsyncConnection, limit: int) -> OutboxBatch:
    """Claim the oldest rows that are due, and the distinct articles they name.

    Several API processes may each run a worker: claiming pushes the rows' `available_at` past a
    lease in the same transaction, and on PostgreSQL `FOR UPDATE SKIP LOCKED` lets concurrent
    workers take different rows instead of waiting for, or repeating, each other's.
    The caller's transaction must commit the claim before the rows are processed.
    """
    now = utcnow()
    due = (
        sa.select(OutboxEntry.id, OutboxEntry.article_id)
        .where(OutboxEntry.processed_at.is_(None), OutboxEntry.available_at <= now)
        .order_by(OutboxEntry.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    rows = list(await conn.execute(due))
    if rows:
        await conn.execute(
            sa.update(OutboxEntry)
            .where(OutboxEntry.id.in_([row.id for row in rows]))
            .values(available_at=now + CLAIM_LEASE)
        )
    return OutboxBatch(
        entry_ids=[row.id for row in rows],
        article_ids=list(dict.fromkeys(row.article_id for row in rows)),
    )


async def mark_done(conn: AsyncConnection, entry_ids: Sequence[int]) -> None:
    now = utcnow()
    await conn.execute(
        sa.update(OutboxEntry).where(OutboxEntry.id.in_(entry_ids)).values(processed_at=now)
    )
    await conn.execute(
        sa.delete(OutboxEntry).where(OutboxEntry.processed_at < now - KEEP_PROCESSED)
    )


async def release(conn: AsyncConnection, entry_ids: Sequence[int]) -> None:
    """Give claimed rows back before their lease ends, for any worker to take at once."""
    await conn.execute(
        sa.update(OutboxEntry)
        .where(OutboxEntry.id.in_(entry_ids), OutboxEntry.processed_at.is_(None))
        .values(available_at=utcnow())
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


async def article_ids_enqueued_since(conn: AsyncConnection, since: datetime) -> list[int]:
    result = await conn.execute(
        sa.select(OutboxEntry.article_id).where(OutboxEntry.created_at >= since).distinct()
    )
    return list(result.scalars())
