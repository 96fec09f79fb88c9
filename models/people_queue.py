"""People extraction in the background: the queue of stories whose text changed since their
last extraction, claims on them, and the worker that extracts their people and stores them
(models/mentions.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from models import changes, polling
from models.article import Article
from models.base import utcnow
from models.changes import Change
from models.extraction import Extraction, PeopleExtractor
from models.mentions import apply_extraction
from models.session import rowcount, session_factory

logger = logging.getLogger("newsroom.people")
MAX_RETRY = timedelta(hours=1)

# Any constant of our own: PostgreSQL's advisory locks are named by numbers, per database.
_FULL_PASS = 7_203_517_002


def _pending() -> sa.ColumnElement[bool]:
    """Text changed since the story's last extraction, and no back-off to wait out."""
    return sa.and_(
        Article.content_hash.is_not(None),
        sa.or_(Article.people_hash.is_(None), Article.people_hash != Article.content_hash),
        sa.or_(Article.people_retry_at.is_(None), Article.people_retry_at <= utcnow()),
    )


def _unclaimed(now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(Article.people_claimed_until.is_(None), Article.people_claimed_until <= now)


async def count_pending(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        stmt = sa.select(sa.func.count()).select_from(Article).where(_pending())
        return (await conn.execute(stmt)).scalar_one()


async def request_full_pass(engine: AsyncEngine) -> bool:
    """`people extract --all`: read every story again, or join the full pass under way.

    A pass starts only when no story is pending (stories waiting out a back-off aside; a new
    pass retries them at once), so requests made while one runs, or at the same moment, share
    it instead of each reading every story again. Answers whether this request started one.
    """
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Requests decide one at a time; the UPDATE's snapshot is taken after the lock, so
            # it sees the pass an earlier request started. On SQLite the one UPDATE statement
            # holds the write lock from its check to its write.
            await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_FULL_PASS)))
        under_way = sa.select(Article.id).where(_pending()).correlate(None).exists()
        started = await conn.execute(
            sa.update(Article).where(~under_way).values(people_hash=None, people_retry_at=None)
        )
        return started.rowcount > 0


# How long a claimed batch stays with the process that took it. spaCy reads a batch well within
# a minute even on two busy cores (32 stories took about 45 s beside three other extractors), so
# a slow process keeps its stories and one that died hands them over within five minutes.
CLAIM_LEASE = timedelta(minutes=5)


@dataclass
class _Job:
    id: int
    # Never None: `_pending()` claims only stories with a hash. Typed as the column is.
    content_hash: str | None
    title: str
    dek: str | None
    body: list[dict[str, str]]
    attempts: int
    lease: datetime

    def claimed(self) -> sa.ColumnElement[bool]:
        """Still this process's: a claim taken over after its lease ended has another lease."""
        return sa.and_(Article.id == self.id, Article.people_claimed_until == self.lease)


async def claim_batch(engine: AsyncEngine, limit: int) -> list[_Job]:
    """Claim up to `limit` pending stories, which no other process takes until the lease ends.

    The claim is committed before this returns; `polling.claim` says how processes claiming at
    once take different stories.
    """
    now = utcnow()
    lease = now + CLAIM_LEASE
    rows = await polling.claim(
        engine,
        Article.id,
        sa.and_(_pending(), _unclaimed(now)),
        [Article.id],
        limit,
        sa.update(Article)
        .values(people_claimed_until=lease)
        .returning(
            Article.id,
            Article.content_hash,
            Article.title,
            Article.dek,
            Article.body,
            Article.people_attempts,
        ),
    )
    return [_Job(*row, lease=lease) for row in rows]


async def release(engine: AsyncEngine, jobs: Sequence[_Job]) -> None:
    """Give claimed stories back before their lease ends, for any process to take at once."""
    clear = sa.update(Article).values(people_claimed_until=None)
    await polling.release(engine, (clear.where(job.claimed()) for job in jobs))


class PeopleWorker:
    """Extracts people from stories whose text changed since their last extraction.

    Any number of processes may run one on the same database: each claims its batch first (see
    `claim_batch`). The spaCy work runs in a thread so the event loop keeps serving requests. A
    story whose extraction fails keeps its text and its previous people; the error is recorded
    on it and the story is retried with back-off.
    """

    def __init__(self, engine: AsyncEngine, batch_size: int = 16, idle_seconds: float = 1.0):
        self.engine = engine
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds
        self.extractor = PeopleExtractor()
        self._wake = asyncio.Event()
        # Called after each commit with what it changed (caches of reads listen here).
        self.on_change: Callable[[set[Change]], Awaitable[None]] | None = None
        # Stories this worker stored an extraction for, and stories it recorded a failure on.
        self.extracted = 0
        self.failed = 0
        self._executor = polling.background_thread("people")

    def notify(self) -> None:
        self._wake.set()

    async def run_once(self) -> int:
        """Claim and extract one batch; answers how many stories it handled."""
        jobs = await claim_batch(self.engine, self.batch_size)
        unstored = list(jobs)
        try:
            try:
                # One spaCy pass for the whole batch is several times faster than one per story.
                results: list[Extraction | None] = list(
                    await polling.in_thread(
                        self._executor,
                        self.extractor.extract_many,
                        [(j.title, j.dek, j.body) for j in jobs],
                    )
                )
            except Exception:  # find the story at fault by doing them one at a time
                results = [None] * len(jobs)
            for job, found in zip(jobs, results, strict=True):
                await self._store(job, found)
                unstored.remove(job)
        finally:
            # Stopped or interrupted mid-batch: what was not stored goes back at once (or, with
            # the database gone, when the lease ends).
            if unstored:
                with contextlib.suppress(sa.exc.SQLAlchemyError):
                    await release(self.engine, unstored)
        return len(jobs)

    async def _store(self, job: _Job, found: Extraction | None) -> None:
        try:
            if found is None:
                found = await polling.in_thread(
                    self._executor, self.extractor.extract, job.title, job.dek, job.body
                )
            async with session_factory(self.engine).begin() as session:
                # The first statement, and a write: on SQLite the store holds the write lock
                # from here, on PostgreSQL the story's row. A claim lost to a lapsed lease
                # stores nothing.
                released = await session.execute(
                    sa.update(Article).where(job.claimed()).values(people_claimed_until=None)
                )
                if rowcount(released) != 1:
                    logger.warning("article %s: claim lapsed and taken over; not stored", job.id)
                    return
                await apply_extraction(session, job.id, found)
                await session.execute(
                    sa.update(Article)
                    .where(Article.id == job.id, Article.content_hash == job.content_hash)
                    .values(people_hash=job.content_hash, people_error=None, people_attempts=0)
                )
            self.extracted += 1
            if self.on_change is not None:
                await self.on_change(changes.take(session))
        except Exception as exc:  # any failure of one story must not stop the others
            logger.exception("people extraction failed for article %s", job.id)
            await self._failed(job, exc)

    async def _failed(self, job: _Job, exc: Exception) -> None:
        wait = min(timedelta(seconds=30 * 2 ** min(job.attempts, 7)), MAX_RETRY)
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(Article)
                .where(job.claimed())
                .values(
                    people_error=f"{type(exc).__name__}: {exc}"[:2000],
                    people_attempts=job.attempts + 1,
                    people_retry_at=utcnow() + wait,
                    people_claimed_until=None,
                )
            )
        self.failed += 1

    async def drain(self, on_progress: Callable[[int], Any] | None = None) -> int:
        return await polling.drain(self.run_once, on_progress)

    async def run(self, stop: asyncio.Event) -> None:
        await polling.poll(
            self.run_once, stop, self._wake, self.idle_seconds, logger, "people extraction"
        )
