"""SQL and the search index stay in step: the outbox, the worker, reindex and its check."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from api.services import SearchService
from models import OutboxEntry, Topic, outbox
from models.importer import import_lines
from models.session import AsyncSession
from search import reindex
from search.client import SearchClient
from search.errors import SearchUnavailable
from search.indexes import ensure_articles_index
from search.server import LocalMeilisearch, free_port
from search.worker import OutboxWorker
from tests.conftest import SAMPLE

SAMPLE_LINES = SAMPLE.read_text().splitlines()


def story(slug: str, **changes: object) -> str:
    record = json.loads(SAMPLE_LINES[1])
    record.update(slug=slug, **changes)
    return json.dumps(record)


async def titles_in_index(client: SearchClient) -> dict[str, str]:
    answer = await client.search(
        client.articles, "", limit=1000, attributesToRetrieve=["slug", "title"]
    )
    return {hit["slug"]: hit["title"] for hit in answer["hits"]}


async def pending(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return (await outbox.backlog(conn))["pending"]


async def test_a_write_and_its_outbox_row_commit_together(
    sessions: async_sessionmaker[AsyncSession], db: AsyncEngine
) -> None:
    await import_lines(sessions, [story("one"), story("two")])
    assert await pending(db) == 2

    with pytest.raises(RuntimeError):
        async with sessions.begin() as session:
            outbox.enqueue_articles(session, [1])
            raise RuntimeError("the change fails")
    assert await pending(db) == 2


async def test_published_stories_reach_the_index_and_unpublished_ones_leave_it(
    sessions: async_sessionmaker[AsyncSession], search: SearchService, db: AsyncEngine
) -> None:
    await import_lines(sessions, [story("stays"), story("goes"), story("never", status="draft")])
    await search.worker.drain()
    assert set(await titles_in_index(search.client)) == {"stays", "goes"}

    await import_lines(sessions, [story("goes", status="unpublished")])
    await search.worker.drain()

    assert set(await titles_in_index(search.client)) == {"stays"}
    assert await pending(db) == 0


async def test_a_renamed_topic_is_searchable_under_its_new_name(
    sessions: async_sessionmaker[AsyncSession], search: SearchService
) -> None:
    await import_lines(sessions, SAMPLE_LINES)
    await search.worker.drain()
    async with sessions.begin() as session:
        topic = await session.scalar(sa.select(Topic).where(Topic.slug == "crimea"))
        assert topic is not None
        topic.name = "Crimean Peninsula"
        await outbox.enqueue_articles_of_topic(session, topic.id)
    await search.worker.drain()

    answer = await search.client.search(
        search.client.articles, "peninsula", attributesToRetrieve=["slug"]
    )
    assert [hit["slug"] for hit in answer["hits"]] == [
        "kremlin-says-leaked-german-officers-call-proves-west-involved-in-ukraine"
    ]


async def test_a_failed_write_stays_in_the_outbox_and_is_retried(
    sessions: async_sessionmaker[AsyncSession], db: AsyncEngine, search: SearchService
) -> None:
    await import_lines(sessions, [story("kept")])
    unreachable = SearchClient(
        f"http://127.0.0.1:{free_port()}", "key", prefix=search.client.prefix
    )
    failing = OutboxWorker(db, unreachable, max_backoff_seconds=0.01)
    with pytest.raises(SearchUnavailable):
        await failing.drain_once()
    await unreachable.aclose()
    async with db.connect() as conn:
        row = (await conn.execute(sa.select(OutboxEntry.__table__))).one()
    assert row.attempts == 1 and row.processed_at is None and "ConnectError" in row.last_error

    await asyncio.sleep(0.02)
    await search.worker.drain()
    assert set(await titles_in_index(search.client)) == {"kept"}


async def test_sync_catches_up_after_meilisearch_is_killed_during_a_burst_of_writes(
    sessions: async_sessionmaker[AsyncSession], db: AsyncEngine, tmp_path: Path
) -> None:
    port = free_port()
    server = LocalMeilisearch(tmp_path / "meili", port=port)
    await server.start()
    client = SearchClient(server.url, server.master_key, timeout=2)
    await ensure_articles_index(client)
    worker = OutboxWorker(db, client, batch_size=5, idle_seconds=0.05, max_backoff_seconds=0.5)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        for round_ in range(3):
            for number in range(20):
                if round_ == 1 and number == 5:
                    server.kill()
                await import_lines(sessions, [story(f"story-{number}", title=f"Round {round_}")])
                worker.notify()
                await asyncio.sleep(0.01)
        assert await pending(db) > 0, "the outage held writes back"

        await server.start()
        for _ in range(600):
            if await pending(db) == 0:
                break
            await asyncio.sleep(0.1)
        assert await pending(db) == 0

        titles = await titles_in_index(client)
        assert titles == {f"story-{number}": "Round 2" for number in range(20)}
        check = await reindex.check(db, client)
        assert check.in_step, check
    finally:
        stop.set()
        await running
        await client.aclose()
        await server.stop()


async def test_reindex_swaps_in_a_new_index_without_a_moment_without_results(
    sessions: async_sessionmaker[AsyncSession], search: SearchService, db: AsyncEngine
) -> None:
    await import_lines(sessions, [story(f"story-{n}") for n in range(40)])
    await search.worker.drain()
    counts: list[int] = []
    done = asyncio.Event()

    async def keep_searching() -> None:
        while not done.is_set():
            answer = await search.client.search(search.client.articles, "", limit=0)
            counts.append(answer["estimatedTotalHits"])
            await asyncio.sleep(0.005)

    searching = asyncio.create_task(keep_searching())
    progress: list[int] = []
    total = await reindex.reindex(db, search.client, progress.append, batch_size=7)
    done.set()
    await searching

    assert total == 40 and sum(progress) == 40
    assert counts and min(counts) == 40, "every search during the rebuild saw every story"
    assert (await reindex.check(db, search.client)).in_step
    assert [i for i in await search.client.indexes() if i.startswith(search.client.prefix)] == [
        search.client.articles
    ]


async def test_reindex_check_reports_missing_and_extra_documents(
    sessions: async_sessionmaker[AsyncSession], search: SearchService, db: AsyncEngine
) -> None:
    await import_lines(sessions, [story("a"), story("b")])
    await search.worker.drain()
    await search.client.delete_documents(search.client.articles, [1])
    await search.client.put_documents(search.client.articles, [{"id": 999, "title": "ghost"}])

    check = await reindex.check(db, search.client)

    assert check.missing == [1]
    assert check.extra == [999]


def test_bulk_batches_shrink_when_meilisearch_is_slow_and_grow_back_when_it_is_not() -> None:
    """An editor's publish waits for the bulk batch Meilisearch is on: its size follows how
    fast the last one went, within bounds, never swinging by more than half."""
    worker = OutboxWorker(None, None, bulk_batch_size=100)  # type: ignore[arg-type]
    worker._resize_bulk(100, 3.0)  # a busy machine: 3 s for 100 stories
    assert worker.bulk_batch_size == 50
    for _ in range(10):
        worker._resize_bulk(worker.bulk_batch_size, 3.0)
    assert worker.bulk_batch_size == 10
    worker._resize_bulk(10, 0.01)  # idle again: 1,000 stories a second
    assert worker.bulk_batch_size == 16
    for _ in range(20):
        worker._resize_bulk(worker.bulk_batch_size, worker.bulk_batch_size / 1000)
    assert worker.bulk_batch_size == 400  # what takes 0.4 s at that rate
    for _ in range(5):
        worker._resize_bulk(worker.bulk_batch_size, worker.bulk_batch_size / 5000)
    assert worker.bulk_batch_size == 500
