"""Scheduled publishing and embargoes: a story set to go out at a time publishes itself then.

A scheduled story is not published: every reader-facing read (`is_published`) skips it until
the scheduler flips it, so search, lists, feeds, sitemaps, related lists and caches learn of it
the way they learn of any publish, through the outbox row and the change notes of that write.

The flip is one `UPDATE ... WHERE status = 'scheduled'`: of several processes running it at
once, only one finds each story still scheduled (on PostgreSQL each takes rows the others have
not locked, and the condition is checked again on the row as committed; SQLite runs one writer
at a time), so a story publishes exactly once.
A process that was down when a story fell due publishes it when it starts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from models import polling
from models.article import Article
from models.base import utcnow
from models.changes import Change
from models.changes import take as take_changes
from models.editing import find_article
from models.enums import ArticleStatus
from models.errors import InvalidInput
from models.outbox import enqueue_articles
from models.session import session_factory
from models.webhook import EventKind, record

logger = logging.getLogger("newsroom.scheduling")

Clock = Callable[[], datetime]
# How many due stories one turn publishes; a morning's worth goes out in one or two turns.
BATCH = 100


async def schedule(session: AsyncSession, slug: str, at: datetime, now: datetime) -> Article:
    """Set a story to publish itself at `at` (a later call moves it)."""
    if at.tzinfo is None:
        raise InvalidInput("at", "give the time with its offset, e.g. 2026-12-03T07:00:00Z")
    article = await find_article(session, slug)
    if at <= now:
        raise InvalidInput("at", "this time has passed; leave `at` out to publish now")
    if article.status == ArticleStatus.PUBLISHED:
        raise InvalidInput("at", "the story is already published; unpublish it to schedule it")
    article.status = ArticleStatus.SCHEDULED
    article.scheduled_at = at
    article.updated_at = now
    enqueue_articles(session, [article.id])
    return article


async def cancel(session: AsyncSession, slug: str, now: datetime) -> Article:
    """Take a story off the schedule: a draft again, or unpublished if it was out before."""
    article = await find_article(session, slug)
    if article.status != ArticleStatus.SCHEDULED:
        raise InvalidInput("slug", f"the story is {article.status.value}, not scheduled")
    article.status = (
        ArticleStatus.UNPUBLISHED if article.published_at is not None else ArticleStatus.DRAFT
    )
    article.scheduled_at = None
    article.updated_at = now
    enqueue_articles(session, [article.id])
    return article


def _due(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        Article.status == ArticleStatus.SCHEDULED,
        Article.scheduled_at <= now,
        Article.deleted_at.is_(None),
    )


async def publish_due(session: AsyncSession, now: datetime, limit: int = BATCH) -> list[int]:
    """Publish the stories due by `now` (at most `limit`); answers their ids.

    A story keeps the time it first went out; otherwise its publication time is the one the
    editor set, not the moment this process got to it.
    """
    # On PostgreSQL, processes publishing at once take different stories (SKIP LOCKED) rather
    # than queueing on the same rows; SQLite has one writer anyway.
    due = (
        sa.select(Article.id)
        .where(_due(now))
        .order_by(Article.scheduled_at, Article.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    published = await session.scalars(
        sa.update(Article)
        .where(Article.id.in_(due.scalar_subquery()), _due(now))
        .values(
            status=ArticleStatus.PUBLISHED,
            published_at=sa.func.coalesce(Article.published_at, Article.scheduled_at),
            scheduled_at=None,
            updated_at=now,
        )
        .returning(Article.id)
        .execution_options(synchronize_session=False)
    )
    ids = list(published)
    # The Core update bypasses the unit of work; the outbox rows carry the change notes.
    enqueue_articles(session, ids)
    if ids:
        stories = await session.execute(
            sa.select(Article.id, Article.slug, Article.title).where(Article.id.in_(ids))
        )
        for story in stories:
            await record(session, EventKind.ARTICLE_PUBLISHED, story)
    return ids


class Scheduler:
    """Publishes due stories in this process, every `idle_seconds` and when woken.

    `clock` is the time the scheduler believes it is; tests pass one they move by hand.
    """

    def __init__(
        self, engine: AsyncEngine, clock: Clock = utcnow, idle_seconds: float = 1.0
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.idle_seconds = idle_seconds
        self.published = 0
        self._wake = asyncio.Event()
        # Called after each commit with what it changed (caches and the other jobs listen).
        self.on_change: Callable[[set[Change]], Awaitable[None]] | None = None

    def notify(self) -> None:
        self._wake.set()

    async def run_once(self) -> int:
        now = self.clock()
        # Most turns find nothing due: a read on the partial index, no write lock taken.
        async with self.engine.connect() as conn:
            if await conn.scalar(sa.select(sa.literal(1)).where(_due(now)).limit(1)) is None:
                return 0
        async with session_factory(self.engine)() as session:
            async with session.begin():
                ids = await publish_due(session, now)
            changed = take_changes(session)
        if ids:
            self.published += len(ids)
            logger.info("published %d scheduled stories", len(ids))
            if self.on_change is not None:
                await self.on_change(changed)
        return len(ids)

    async def run(self, stop: asyncio.Event) -> None:
        await polling.poll(self.run_once, stop, self._wake, self.idle_seconds, logger, "scheduler")
