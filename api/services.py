"""Starting and stopping what the app depends on: the search engine and the outbox worker.

Search is never required for the app to start: when Meilisearch cannot be reached, readers get
SQL-backed answers marked `degraded`, and the outbox keeps every write until the engine is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from api.settings import Settings
from search.client import SearchClient
from search.errors import SearchError
from search.indexes import ensure_articles_index
from search.server import LocalMeilisearch
from search.worker import OutboxWorker

logger = logging.getLogger("newsroom.api")

# How long a stopping process waits for the outbox batch in progress (one Meilisearch write).
STOP_GRACE_SECONDS = 10.0


@dataclass
class SearchService:
    client: SearchClient
    worker: OutboxWorker
    local: LocalMeilisearch | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    async def prepare(self) -> None:
        """Apply the index settings; a failure is logged, not fatal."""
        try:
            await ensure_articles_index(self.client)
        except SearchError as exc:
            logger.warning("search index not ready (%s); answers are degraded until it is", exc)

    def start_worker(self) -> None:
        self._task = asyncio.create_task(self.worker.run(self._stop), name="search-outbox")

    async def stop_worker(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Let the worker finish the batch it is on, then stop it; a batch still running after
        `grace` seconds is cancelled, and its rows go back to the outbox unapplied."""
        self._stop.set()
        if self._task is not None:
            _, running = await asyncio.wait({self._task}, timeout=grace)
            for task in running:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def close(self) -> None:
        await self.stop_worker()
        await self.client.aclose()
        if self.local is not None:
            await self.local.stop()


def local_search(settings: Settings) -> LocalMeilisearch:
    """The local Meilisearch under DATA_DIR, for when no MEILI_URL is given."""
    return LocalMeilisearch(
        settings.data_dir / "meilisearch",
        binary=settings.meili_binary,
        max_indexing_memory=settings.meili_max_indexing_memory,
    )


async def open_search(settings: Settings, engine: AsyncEngine) -> SearchService:
    """Connect to MEILI_URL, or start (or join) the local Meilisearch under DATA_DIR."""
    local = None
    url, key = settings.meili_url, settings.meili_master_key
    if not url:
        local = local_search(settings)
        await local.start()
        url, key = local.url, local.master_key
    client = SearchClient(url, key, prefix=settings.meili_index_prefix)
    return SearchService(client=client, worker=OutboxWorker(engine, client), local=local)
