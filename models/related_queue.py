"""The related-stories job's queue: changes noted with the writes that make them, moved onto
each story's state (models/related.py) as lists due, claimed by one process at a time, given
back, or put off after a failure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from models import polling
from models.article import Article, is_published
from models.base import utcnow
from models.related import BULK, RelatedChange, RelatedState

# Long enough for a batch on two busy cores (about a second); a dead process's stories wait
# this long.
CLAIM_LEASE = timedelta(minutes=5)
MAX_RETRY = timedelta(hours=1)
# Writes to related_state other than claims take turns on PostgreSQL on this advisory lock, so
# two of them marking the same stories in different orders never deadlock. SQLite has one
# writer anyway.
_WRITE_LOCK = 7_203_517_101


# Noting changes --------------------------------------------------------------------------------


def note_changes(session: AsyncSession, article_ids: Iterable[int], priority: int) -> None:
    """Inside the caller's transaction: these stories changed in a way related lists read."""
    now = utcnow()
    session.add_all(
        RelatedChange(article_id=article_id, priority=min(priority, BULK), created_at=now)
        for article_id in dict.fromkeys(article_ids)
    )


async def take_turn(conn: AsyncConnection) -> None:
    """Wait for this transaction's turn at writing related_state (see `_WRITE_LOCK`)."""
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_WRITE_LOCK)))
    else:
        # A write first: SQLite then holds its write lock until the commit.
        await conn.execute(
            sa.update(RelatedState).where(RelatedState.article_id == -1).values(attempts=0)
        )


async def mark_due(
    conn: AsyncConnection, due: Mapping[int, int], *, noticed: datetime | None = None
) -> None:
    """Make these stories' lists due now, each with the given priority (or a more urgent one it
    has already); `noticed` records that the stories themselves changed."""
    if not due:
        return
    now = utcnow()
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    earlier = sa.func.least if conn.dialect.name == "postgresql" else sa.func.min
    for start in range(0, len(due), 500):
        # In id order, so that any two statements lock rows in the same order.
        chunk = sorted(due.items())[start : start + 500]
        stmt = insert(RelatedState).values(
            [
                {"article_id": i, "due_at": now, "priority": p, "version": 1, "noticed_at": noticed}
                for i, p in chunk
            ]
        )
        values: dict[str, Any] = {
            "due_at": earlier(RelatedState.due_at, stmt.excluded.due_at),
            "priority": sa.case(
                (
                    RelatedState.due_at <= now,
                    earlier(RelatedState.priority, stmt.excluded.priority),
                ),
                else_=stmt.excluded.priority,
            ),
            "version": RelatedState.version + 1,
        }
        if noticed is not None:
            values["noticed_at"] = stmt.excluded.noticed_at
        await conn.execute(stmt.on_conflict_do_update(index_elements=["article_id"], set_=values))


async def take_changes(engine: AsyncEngine, limit: int = 5_000) -> int:
    """Move noted changes onto the stories' state: due now, changed now. Answers how many."""
    async with engine.begin() as conn:
        # An idle worker looks every second: only a read, which takes no lock.
        if not await conn.scalar(sa.select(sa.select(RelatedChange.id).exists())):
            return 0
        await take_turn(conn)
        rows = list(
            await conn.execute(
                sa.select(RelatedChange.id, RelatedChange.article_id, RelatedChange.priority)
                .order_by(RelatedChange.id)
                .limit(limit)
            )
        )
        due: dict[int, int] = {}
        for row in rows:
            due[row.article_id] = min(due.get(row.article_id, BULK), row.priority)
        # Only stories that still exist: a change row has no foreign key.
        existing = set(
            (await conn.execute(sa.select(Article.id).where(Article.id.in_(list(due))))).scalars()
        )
        await mark_due(conn, {i: p for i, p in due.items() if i in existing}, noticed=utcnow())
        ids = [row.id for row in rows]
        for start in range(0, len(ids), 500):
            await conn.execute(
                sa.delete(RelatedChange).where(RelatedChange.id.in_(ids[start : start + 500]))
            )
        return len(rows)


async def mark_unlisted(engine: AsyncEngine) -> int:
    """Published stories the job has never seen (older than the job, or written without a
    change row, as the benchmark corpus is): due now. Answers how many."""
    missing = sa.select(Article.id).where(
        is_published(),
        ~sa.select(RelatedState.article_id)
        .where(RelatedState.article_id == Article.id)
        .correlate(Article)
        .exists(),
    )
    async with engine.begin() as conn:
        ids = list((await conn.execute(missing.limit(1))).scalars())
        if not ids:
            return 0
        await take_turn(conn)
        ids = list((await conn.execute(missing)).scalars())
        await mark_due(conn, dict.fromkeys(ids, BULK), noticed=utcnow())
        return len(ids)


async def request_full_pass(engine: AsyncEngine) -> int:
    """`related refresh --all`: every list due now (those due already stay as they are)."""
    await mark_unlisted(engine)
    async with engine.begin() as conn:
        await take_turn(conn)
        result = await conn.execute(
            sa.update(RelatedState)
            .where(RelatedState.due_at > utcnow())
            .values(due_at=utcnow(), version=RelatedState.version + 1)
        )
        return result.rowcount


async def count_due(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        stmt = sa.select(sa.func.count()).where(RelatedState.due_at <= utcnow())
        return (await conn.execute(stmt)).scalar_one()


# Claims ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Claim:
    article_id: int
    version: int
    priority: int
    input_hash: str | None
    noticed_at: datetime | None
    due_at: datetime
    lease: datetime

    def held(self) -> sa.ColumnElement[bool]:
        """Still this process's: a claim taken over after its lease ended has another lease."""
        return sa.and_(
            RelatedState.article_id == self.article_id, RelatedState.claimed_until == self.lease
        )


def _unclaimed(now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(RelatedState.claimed_until.is_(None), RelatedState.claimed_until <= now)


async def claim_batch(engine: AsyncEngine, limit: int) -> list[Claim]:
    """Claim up to `limit` due stories, most urgent first, which no other process takes until
    the lease ends. Committed before this returns.

    As people extraction claims (models/people_queue.py), through `polling.claim`.
    """
    now = utcnow()
    lease = now + CLAIM_LEASE
    rows = await polling.claim(
        engine,
        RelatedState.article_id,
        sa.and_(RelatedState.due_at <= now, _unclaimed(now)),
        [RelatedState.priority, RelatedState.due_at, RelatedState.article_id],
        limit,
        sa.update(RelatedState)
        .values(claimed_until=lease)
        .returning(
            RelatedState.article_id,
            RelatedState.version,
            RelatedState.priority,
            RelatedState.input_hash,
            RelatedState.noticed_at,
            RelatedState.due_at,
        ),
    )
    return [Claim(*row, lease=lease) for row in rows]


async def release(engine: AsyncEngine, claims: Sequence[Claim]) -> None:
    """Give claimed stories back before their lease ends, for any process to take at once."""
    clear = sa.update(RelatedState).values(claimed_until=None)
    await polling.release(engine, (clear.where(claim.held()) for claim in claims))


async def failed(engine: AsyncEngine, claims: Sequence[Claim], error: str) -> None:
    """Record the error and retry after a back-off growing with the attempts (at most an hour)."""
    async with engine.begin() as conn:
        await take_turn(conn)
        for claim in claims:
            attempts = (
                await conn.scalar(
                    sa.select(RelatedState.attempts).where(
                        RelatedState.article_id == claim.article_id
                    )
                )
                or 0
            )
            wait = min(timedelta(seconds=30 * 2 ** min(attempts, 7)), MAX_RETRY)
            await conn.execute(
                sa.update(RelatedState)
                .where(claim.held())
                .values(
                    error=error[:2000],
                    attempts=attempts + 1,
                    claimed_until=None,
                    due_at=sa.case(
                        (RelatedState.version == claim.version, utcnow() + wait),
                        else_=RelatedState.due_at,
                    ),
                )
            )
