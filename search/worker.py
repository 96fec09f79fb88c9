"""Draining the search outbox into Meilisearch, so that no committed change is ever lost."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from models import outbox
from models.document import published_sources
from search.client import SearchClient
from search.documents import to_document
from search.errors import SearchError

logger = logging.getLogger("newsroom.search")

# Meilisearch applies its tasks one after another, so an editor's publish waits for the bulk
# batch (import, extraction) already sent. Bulk batches are sized to take about this long: 100
# stories took 0.3 s on an idle machine and 3 s with spaCy and other work on the same two cores.
BULK_TASK_SECONDS = 0.4
BULK_BATCH_SIZES = (10, 500)


class OutboxWorker:
    """Applies outbox rows in batches; rows are marked processed only after Meilisearch confirmed
    the write, and failed batches come back after an exponential back-off."""

    def __init__(
        self,
        engine: AsyncEngine,
        client: SearchClient,
        *,
        batch_size: int = 500,
        bulk_batch_size: int = 100,
        idle_seconds: float = 0.5,
        max_backoff_seconds: float = 30.0,
    ) -> None:
        self.engine = engine
        self.client = client
        self.batch_size = batch_size
        # Adjusted after each bulk batch, so that one takes about BULK_TASK_SECONDS.
        self.bulk_batch_size = bulk_batch_size
        self.idle_seconds = idle_seconds
        self.max_backoff_seconds = max_backoff_seconds
        # One per lane (see `run`): a notice wakes both.
        self._wakes = (asyncio.Event(), asyncio.Event())
        self._failures = 0
        # Called with the stories whose documents Meilisearch now holds (caches of search
        # answers listen here).
        self.on_indexed: Callable[[list[int]], Awaitable[None]] | None = None

    def notify(self) -> None:
        """Tell the worker a write just committed, so it need not wait for its next poll."""
        for wake in self._wakes:
            wake.set()

    def _backoff(self) -> float:
        return min(self.idle_seconds * 2.0**self._failures, self.max_backoff_seconds)

    async def drain_once(self, urgent: bool | None = None) -> int:
        """Apply one batch (of the lane `urgent` names, or any); answers how many outbox rows
        it processed."""
        async with self.engine.begin() as conn:
            batch = await outbox.next_batch(
                conn, self.batch_size, self.bulk_batch_size, urgent=urgent
            )
        if not batch.entry_ids:
            return 0
        started = time.perf_counter()
        try:
            await self._apply(batch)
        except SearchError:
            raise  # its rows are marked failed and come back after their back-off
        except (Exception, asyncio.CancelledError):
            # Stopped half way (cancelled at shutdown, or the database went away): hand the
            # rows back now rather than when the lease ends. Replaying a row is harmless.
            with contextlib.suppress(SQLAlchemyError):
                async with self.engine.begin() as conn:
                    await outbox.release(conn, batch.entry_ids)
            raise
        if batch.bulk:
            self._resize_bulk(len(batch.article_ids), time.perf_counter() - started)
        if self.on_indexed is not None:
            await self.on_indexed(batch.article_ids)
        return len(batch.entry_ids)

    def _resize_bulk(self, stories: int, seconds: float) -> None:
        """Aim the next bulk batch at BULK_TASK_SECONDS, from the rate this one was applied at
        (halving at most, growing by half at most, so one odd batch does not swing it)."""
        rate = stories / max(seconds, 1e-3)
        wanted = int(rate * BULK_TASK_SECONDS)
        low, high = BULK_BATCH_SIZES
        size = min(max(wanted, self.bulk_batch_size // 2), int(self.bulk_batch_size * 1.5) + 1)
        self.bulk_batch_size = min(max(size, low), high)

    async def _apply(self, batch: outbox.OutboxBatch) -> None:
        """Send the batch's documents to Meilisearch, then mark its rows done (or failed)."""
        async with self.engine.connect() as conn:
            sources = await published_sources(conn, batch.article_ids)
        removed = [article_id for article_id in batch.article_ids if article_id not in sources]
        try:
            await self.client.put_documents(
                self.client.articles, [to_document(source) for source in sources.values()]
            )
            await self.client.delete_documents(self.client.articles, removed)
        except SearchError as exc:
            self._failures += 1
            async with self.engine.begin() as conn:
                await outbox.mark_failed(
                    conn, batch.entry_ids, str(exc), timedelta(seconds=self._backoff())
                )
            raise
        self._failures = 0
        async with self.engine.begin() as conn:
            await outbox.mark_done(conn, batch.entry_ids)

    async def drain(self) -> int:
        """Apply everything that is due now; raises on the first failure."""
        total = 0
        while processed := await self.drain_once():
            total += processed
        return total

    async def run(self, stop: asyncio.Event) -> None:
        """Drain until `stop` is set, sleeping while there is nothing to do.

        Two lanes, each claiming its own rows: editorial rows are sent to Meilisearch the
        moment they commit, queued right behind the bulk batch in flight, instead of after
        this worker has finished with that batch (its SQL writes took up to a second on a
        busy SQLite).
        """
        await asyncio.gather(self._lane(stop, urgent=True), self._lane(stop, urgent=False))

    async def _lane(self, stop: asyncio.Event, *, urgent: bool) -> None:
        wake = self._wakes[0 if urgent else 1]
        while not stop.is_set():
            try:
                processed = await self.drain_once(urgent)
            except SearchError as exc:
                logger.warning("search outbox: %s; retrying in %.1fs", exc, self._backoff())
                processed = 0
            except SQLAlchemyError as exc:
                logger.warning("search outbox: database error %s", exc)
                self._failures += 1
                processed = 0
            if processed:
                continue
            delay = self._backoff() if self._failures else self.idle_seconds
            wake.clear()
            with contextlib.suppress(TimeoutError):
                stop_wait = asyncio.ensure_future(stop.wait())
                wake_wait = asyncio.ensure_future(wake.wait())
                try:
                    await asyncio.wait(
                        {stop_wait, wake_wait}, timeout=delay, return_when=asyncio.FIRST_COMPLETED
                    )
                finally:
                    stop_wait.cancel()
                    wake_wait.cancel()
