"""The related-stories job: claims due stories, ranks them against the corpus it holds in
memory and stores their lists (the SQL is models/related.py, related_queue.py and
related_store.py, the ranking models/similarity.py).
Any number of processes may run it on one database; each claims its stories first."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from models import polling, related, related_queue, related_store
from models.base import utcnow
from models.document import ArticleSource, published_sources
from models.related import CLOCK_MARGIN, LIST_SIZE
from models.related_queue import Claim
from models.related_store import Computed
from models.similarity import Corpus, Story

logger = logging.getLogger("newsroom.related")

# Stories read from SQL at a time while the corpus is first filled: bodies are most of it.
LOAD_BATCH = 500
# Between these, the corpus reads only the stories whose changes were seen since it last read
# SQL; this often it reads the whole list of published stories, which also catches a story
# changed behind the job's back (a direct SQL edit).
FULL_SYNC_EVERY_SECONDS = 300.0
# How often each process looks for published stories the job has never seen.
UNLISTED_EVERY_SECONDS = 60.0
# Lists changed this long ago are still looked at by `watch_lists` (a store's commit may come
# well after the time it wrote, on a busy SQLite).
WATCH_MARGIN = timedelta(seconds=30)

Relisted = Callable[[set[int]], Awaitable[None]]


def story_of(source: ArticleSource) -> Story:
    return Story(
        id=source.id,
        language=source.language,
        published_at=source.published_at,
        title=source.title,
        dek=source.dek,
        body="\n".join(block["text"] for block in source.body),
        people=tuple((slug, name) for slug, name, _, _ in source.people),
        topics=tuple(source.topics),
        section=source.section_slug,
    )


class RelatedWorker:
    """Computes the related lists that are due, a batch at a time.

    The corpus (every published story's words, people and topics) is read once, then kept in
    step with SQL before each batch: stories no longer published leave it, and stories that
    changed (their fingerprint as stored, or a change seen since it read them) are read again.
    Ranking runs in a thread of its own so the event loop keeps serving requests.
    """

    def __init__(self, engine: AsyncEngine, batch_size: int = 64, idle_seconds: float = 1.0):
        self.engine = engine
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds
        self.corpus = Corpus()
        self._read_at: dict[int, datetime] = {}
        self._full_sync = -FULL_SYNC_EVERY_SECONDS
        self._last_sync = utcnow()
        self._wake = asyncio.Event()
        self._looked_for_unlisted = -UNLISTED_EVERY_SECONDS
        # Called after each store with the stories whose lists now show other stories (caches
        # of pages that show them listen here).
        self.on_change: Relisted | None = None
        # Stories whose lists this worker stored, and stories it recorded a failure on.
        self.computed = 0
        self.failed = 0
        self._executor = polling.background_thread("related")

    def notify(self) -> None:
        self._wake.set()

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)

    async def run_once(self) -> int:
        """Take noted changes, then claim and compute one batch; answers how many stories it
        computed."""
        await related_queue.take_changes(self.engine)
        if time.monotonic() - self._looked_for_unlisted >= UNLISTED_EVERY_SECONDS:
            await related_queue.mark_unlisted(self.engine)
            self._looked_for_unlisted = time.monotonic()
        claims = await related_queue.claim_batch(self.engine, self.batch_size)
        if not claims:
            return 0
        try:
            relisted = await self._compute(claims)
        except Exception as exc:
            if isinstance(exc, sa.exc.SQLAlchemyError):
                await self._hand_back(claims)
                raise
            # A bug in ranking must not stop the job: recorded, retried after a back-off.
            logger.exception("related stories failed for %s stories", len(claims))
            await related_queue.failed(self.engine, claims, f"{type(exc).__name__}: {exc}")
            self.failed += len(claims)
            return len(claims)
        except BaseException:
            await self._hand_back(claims)
            raise
        self.computed += len(claims)
        if relisted and self.on_change is not None:
            await self.on_change(relisted)
        return len(claims)

    async def _hand_back(self, claims: list[Claim]) -> None:
        """Stopped (Ctrl-C, shutdown) or the database went away: the stories go back now, or,
        with the database gone, when the lease ends."""
        with contextlib.suppress(sa.exc.SQLAlchemyError):
            await related_queue.release(self.engine, claims)

    async def _compute(self, claims: list[Claim]) -> set[int]:
        synced_at, published = await self._sync(claims)
        wanted = [c.article_id for c in claims if c.article_id in published]
        ranked = await polling.in_thread(self._executor, self.corpus.rank, wanted, LIST_SIZE)
        computed: list[Computed] = []
        changed: dict[int, tuple[Claim, list[tuple[int, float]]]] = {}
        for claim in claims:
            found = ranked.get(claim.article_id)
            fingerprint = self.corpus.fingerprint(claim.article_id) if found else None
            computed.append(Computed(claim, found.related if found else [], fingerprint))
            if fingerprint != claim.input_hash:
                changed[claim.article_id] = (claim, found.reach if found else [])
        return await self._store(computed, synced_at, changed)

    async def _store(
        self,
        computed: list[Computed],
        synced_at: datetime,
        changed: dict[int, tuple[Claim, list[tuple[int, float]]]],
    ) -> set[int]:
        """Store the lists; its commit gives the claims up."""
        return await related_store.store(self.engine, computed, synced_at, changed)

    async def _sync(self, claims: list[Claim]) -> tuple[datetime, set[int]]:
        """Bring the corpus in step with SQL; answers when SQL was read, and which of the
        claimed stories are published."""
        synced_at = utcnow()
        claimed = [c.article_id for c in claims]
        # A claimed story is read again unless the corpus read it after it fell due: so the
        # daily sweep catches a change no one noted (a direct SQL edit), and a first pass does
        # not read every story twice.
        reread = {
            c.article_id
            for c in claims
            if c.article_id not in self._read_at or self._read_at[c.article_id] <= c.due_at
        }
        full = time.monotonic() - self._full_sync >= FULL_SYNC_EVERY_SECONDS
        since = None if full else self._last_sync - CLOCK_MARGIN
        async with self.engine.connect() as conn:
            found = await related.stories_to_sync(conn, since, claimed)
        if full:
            gone = self.corpus.ids() - found.keys()
        else:
            gone = {i for i, listed in found.items() if not listed.published and i in self.corpus}
        stale = [
            listed.article_id
            for listed in found.values()
            if listed.published
            and (
                listed.article_id in reread
                or listed.article_id not in self.corpus
                or (
                    listed.input_hash is not None
                    and listed.input_hash != self.corpus.fingerprint(listed.article_id)
                )
                or (
                    listed.noticed_at is not None
                    and listed.noticed_at
                    > self._read_at.get(listed.article_id, synced_at) - CLOCK_MARGIN
                )
            )
        ]
        await polling.in_thread(self._executor, self.corpus.drop, gone)
        for story_id in gone:
            self._read_at.pop(story_id, None)
        for start in range(0, len(stale), LOAD_BATCH):
            async with self.engine.connect() as conn:
                sources = await published_sources(conn, stale[start : start + LOAD_BATCH])
            await polling.in_thread(
                self._executor, self.corpus.put, [story_of(s) for s in sources.values()]
            )
            self._read_at.update(dict.fromkeys(sources, synced_at))
        if full:
            self._full_sync = time.monotonic()
        self._last_sync = synced_at
        return synced_at, {i for i in claimed if i in found and found[i].published}

    async def drain(self, on_progress: Callable[[int], Any] | None = None) -> int:
        """Compute every list that is due; answers how many."""
        return await polling.drain(self.run_once, on_progress)

    async def run(self, stop: asyncio.Event) -> None:
        await polling.poll(
            self.run_once, stop, self._wake, self.idle_seconds, logger, "related stories"
        )


async def watch_lists(
    engine: AsyncEngine, on_change: Relisted, stop: asyncio.Event, every: float = 1.0
) -> None:
    """Tell `on_change` of lists that any process stored (another API process, `newsroom
    related refresh`), so that a cache of this process drops the pages that showed them."""
    since = utcnow()
    seen: dict[int, datetime] = {}
    while not stop.is_set():
        await polling.wait(stop, None, every)
        started = utcnow()
        try:
            async with engine.connect() as conn:
                rows = await related.lists_changed_since(conn, since - WATCH_MARGIN)
        except sa.exc.SQLAlchemyError as exc:
            logger.warning("related lists watch: database error %s", exc)
            continue
        fresh = {story_id for story_id, at in rows if seen.get(story_id) != at}
        seen = dict(rows)
        since = started
        if fresh:
            await on_change(fresh)
