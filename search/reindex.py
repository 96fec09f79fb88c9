"""Rebuilding the article index from SQL without a moment without results, and checking it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from models import outbox
from models.base import utcnow
from models.document import count_published, published_ids_in_batches, published_sources
from models.session import session_factory
from search.client import SearchClient
from search.documents import to_document
from search.indexes import ensure_articles_index

BATCH_SIZE = 1000
# Meilisearch indexes batches enqueued together as one: at 100,000 stories the first task ends
# only when most of them are done, minutes later on two cores. A rebuild is a batch job.
REBUILD_TASK_TIMEOUT_MS = 3_600_000


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
            # Enqueue every batch before waiting: Meilisearch indexes while we read SQL.
            task = await client.put_documents(fresh, documents, wait=False)
            if task is not None:
                tasks.append(task)
            total += len(documents)
            if on_progress:
                on_progress(len(documents))
    for task in tasks:
        await client.wait(task, timeout_ms=REBUILD_TASK_TIMEOUT_MS)
    await client.swap(client.articles, fresh)
    await client.delete_index(fresh)
    async with engine.connect() as conn:
        changed = await outbox.article_ids_enqueued_since(conn, started)
    if changed:
        async with session_factory(engine).begin() as session:
            outbox.enqueue_articles(session, changed)
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
