"""People extraction beside other processes: claims, lapsed leases, people created at the same
moment, and `--all` requests that share one pass."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from models import Article, Person
from models.base import utcnow
from models.extraction import ExtractedPerson
from models.importer import import_lines
from models.mentions import link_person
from models.people_queue import PeopleWorker, claim_batch, count_pending, request_full_pass
from models.session import AsyncSession, session_factory
from tests.support import Interrupted, interrupt, story


@pytest.fixture
async def stories(sessions: async_sessionmaker[AsyncSession]) -> int:
    lines = [story(f"story-{n}", f"Minister Ada Byrne{n} spoke on day {n}.") for n in range(10)]
    assert (await import_lines(sessions, lines)).errors == []
    return len(lines)


async def claimed(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        stmt = sa.select(sa.func.count()).where(Article.people_claimed_until.is_not(None))
        return (await conn.execute(stmt)).scalar_one()


async def mark_extracted(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        await conn.execute(sa.update(Article).values(people_hash=Article.content_hash))


async def test_claims_made_at_once_take_different_stories(db: AsyncEngine, stories: int) -> None:
    batches = await asyncio.gather(*(claim_batch(db, 4) for _ in range(3)))

    ids = [job.id for batch in batches for job in batch]
    assert len(ids) == len(set(ids)) == stories
    assert await claim_batch(db, 4) == [], "every story is held"


async def test_a_lapsed_claim_is_taken_over_and_the_first_claimer_stores_nothing(
    db: AsyncEngine, stories: int
) -> None:
    [dead] = await claim_batch(db, 1)
    async with db.begin() as conn:  # its lease ran out: the claimer died, or stalled
        await conn.execute(
            sa.update(Article)
            .where(Article.id == dead.id)
            .values(people_claimed_until=utcnow() - timedelta(seconds=1))
        )
    worker = PeopleWorker(db, batch_size=1)
    assert await worker.run_once() == 1
    assert worker.extracted == 1

    stalled = PeopleWorker(db)
    await stalled._store(dead, None)
    assert (stalled.extracted, stalled.failed) == (0, 0)
    async with db.connect() as conn:
        row = (await conn.execute(sa.select(Article.__table__).where(Article.id == dead.id))).one()
    assert row.people_hash == row.content_hash
    assert row.people_claimed_until is None


async def test_an_interrupted_batch_gives_its_stories_back(db: AsyncEngine, stories: int) -> None:
    worker = PeopleWorker(db, batch_size=4)
    worker.extractor.extract_many = interrupt  # type: ignore[method-assign]
    with pytest.raises(Interrupted):
        await worker.run_once()

    assert await claimed(db) == 0
    assert await count_pending(db) == stories


async def link_in_own_transaction(engine: AsyncEngine, *names: str) -> list[int]:
    async with session_factory(engine).begin() as session:
        return [(await link_person(session, ExtractedPerson(name))).id for name in names]


async def test_two_stores_creating_the_same_people_in_opposite_orders_make_each_once(
    db: AsyncEngine,
) -> None:
    async with session_factory(db).begin() as first:
        xavi = (await link_person(first, ExtractedPerson("Xavi Mola"))).id
        second = asyncio.create_task(link_in_own_transaction(db, "Yuri Tarn", "Xavi Mola"))
        await asyncio.sleep(0.5)  # the second is inside its transaction, waiting for the first
        yuri = (await link_person(first, ExtractedPerson("Yuri Tarn"))).id
    assert await second == [yuri, xavi]
    async with db.connect() as conn:
        count = (await conn.execute(sa.select(sa.func.count()).select_from(Person))).scalar_one()
    assert count == 2


async def test_all_while_a_full_pass_runs_joins_it(db: AsyncEngine, stories: int) -> None:
    await mark_extracted(db)

    assert await request_full_pass(db) is True
    assert await count_pending(db) == stories
    assert await request_full_pass(db) is False, "the pass under way is shared"
    assert await PeopleWorker(db).drain() == stories
    assert await request_full_pass(db) is True, "that pass is over: a new one starts"


async def test_requests_at_once_start_one_pass(db: AsyncEngine, stories: int) -> None:
    await mark_extracted(db)

    started = await asyncio.gather(*(request_full_pass(db) for _ in range(3)))

    assert sorted(started) == [False, False, True]


async def test_a_story_waiting_out_its_back_off_does_not_hold_a_pass_open(
    db: AsyncEngine, stories: int
) -> None:
    await mark_extracted(db)
    async with db.begin() as conn:
        await conn.execute(
            sa.update(Article)
            .where(Article.slug == "story-0")
            .values(
                people_hash=None,
                people_error="RuntimeError: model crashed",
                people_attempts=1,
                people_retry_at=utcnow() + timedelta(minutes=5),
            )
        )
    assert await count_pending(db) == 0

    assert await request_full_pass(db) is True
    assert await count_pending(db) == stories, "retried at once, as every other story"
