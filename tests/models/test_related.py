"""Related stories computed ahead: lists after the job, unpublished stories gone at once,
claims beside other processes, new stories entering the lists they belong in."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence
from datetime import timedelta
from itertools import islice
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from models import Article, RelatedChange, RelatedState, editing
from models.base import utcnow
from models.importer import import_lines
from models.related import related_by_article
from models.related_job import RelatedWorker, watch_lists
from models.related_queue import (
    Claim,
    claim_batch,
    count_due,
    mark_unlisted,
    release,
    request_full_pass,
    take_changes,
)
from models.related_store import Computed
from models.session import AsyncSession, create_engine, session_factory
from tests.conftest import BBC, SAMPLE, SAMPLE_SLUG
from tests.support import Interrupted, interrupt

SAMPLE_LINES = SAMPLE.read_text().splitlines()
# Stories on one subject no BBC story shares: made-up words, so their lists are predictable.
KELP = [
    "Zorblax kelp farms off Norvenna doubled their harvest as orbital kelp pens spread.",
    "Norvenna kelp growers say zorblax pens need colder water than the old kelp lines.",
    "Zorblax kelp prices fell in Norvenna after a record season for orbital kelp pens.",
]


def story(slug: str, text: str, title: str | None = None, **changes: object) -> str:
    record = json.loads(SAMPLE_LINES[1])
    record.update(
        slug=slug,
        title=title or text.split(".")[0][:60],
        dek=None,
        topics=[],
        comments=[],
        body=[{"type": "paragraph", "text": f"{text} {text}"}],
        **changes,
    )
    return json.dumps(record)


@pytest.fixture
async def corpus(sessions: async_sessionmaker[AsyncSession]) -> None:
    """The sample, 40 BBC stories and three stories on zorblax kelp."""
    lines = [*SAMPLE_LINES, *islice(BBC.read_text().splitlines(), 40)]
    lines += [story(f"kelp-{n}", text) for n, text in enumerate(KELP)]
    report = await import_lines(sessions, lines)
    assert report.errors == []


async def ids_by_slug(engine: AsyncEngine) -> dict[str, int]:
    async with engine.connect() as conn:
        return dict((await conn.execute(sa.select(Article.slug, Article.id))).all())


async def related_slugs(engine: AsyncEngine, slug: str, limit: int = 5) -> list[str]:
    ids = await ids_by_slug(engine)
    async with engine.connect() as conn:
        rows = (await related_by_article(conn, [ids[slug]], limit))[ids[slug]]
    return [row.slug for row in rows]


async def every_list(engine: AsyncEngine) -> dict[int, list[int]]:
    ids = list((await ids_by_slug(engine)).values())
    async with engine.connect() as conn:
        found = await related_by_article(conn, ids, 24)
    return {i: [row.id for row in rows] for i, rows in found.items()}


async def test_a_story_gets_its_list_once_the_job_ran_never_with_itself(
    db: AsyncEngine, corpus: None
) -> None:
    assert await related_slugs(db, "kelp-0") == [], "nothing is computed on the read path"

    await RelatedWorker(db).drain()

    assert set((await related_slugs(db, "kelp-0"))[:2]) == {"kelp-1", "kelp-2"}
    assert (await related_slugs(db, SAMPLE_SLUG))[0] == (
        "ukraine-jails-couple-for-helping-russia-strike-hospital"
    )
    lists = await every_list(db)
    assert all(story_id not in related for story_id, related in lists.items())
    assert sum(map(bool, lists.values())) > 40
    assert await count_due(db) == 0


async def test_an_unpublished_story_leaves_every_list_at_once(
    db: AsyncEngine, corpus: None
) -> None:
    await RelatedWorker(db).drain()
    ids = await ids_by_slug(db)
    assert "kelp-1" in await related_slugs(db, "kelp-0")

    async with session_factory(db).begin() as session:
        await editing.unpublish(session, "kelp-1")

    assert all(ids["kelp-1"] not in related for related in (await every_list(db)).values())
    assert (await related_slugs(db, "kelp-0"))[0] == "kelp-2", "the next one moves up"
    await RelatedWorker(db).drain()
    assert all(ids["kelp-1"] not in related for related in (await every_list(db)).values())


async def test_a_new_story_on_the_same_subject_enters_the_lists_of_the_others(
    db: AsyncEngine, corpus: None
) -> None:
    worker = RelatedWorker(db)
    await worker.drain()
    async with session_factory(db).begin() as session:
        draft = editing.ArticleDraft(
            slug="kelp-new",
            title="Zorblax kelp pens reach Norvenna's northern bays",
            section="news",
            body=[("paragraph", KELP[0] + " " + KELP[1])],
        )
        await editing.save_article(session, draft, "desk")
        await editing.publish(session, "kelp-new")

    computed = await worker.drain()

    assert set((await related_slugs(db, "kelp-new"))[:3]) == {"kelp-0", "kelp-1", "kelp-2"}
    for older in ("kelp-0", "kelp-1", "kelp-2"):
        assert "kelp-new" in (await related_slugs(db, older))[:3]
    assert computed < 20, "only the lists it may enter are computed again, not every list"


async def test_changes_are_noted_in_the_transaction_of_the_change(
    db: AsyncEngine, corpus: None
) -> None:
    await RelatedWorker(db).drain()
    with pytest.raises(RuntimeError):
        async with session_factory(db).begin() as session:
            await editing.unpublish(session, "kelp-1")
            raise RuntimeError("the change fails")
    assert await take_changes(db) == 0

    async with session_factory(db).begin() as session:
        await editing.unpublish(session, "kelp-1")
    assert await take_changes(db) == 1
    assert await count_due(db) == 1


async def test_stories_the_job_never_heard_of_are_found(db: AsyncEngine, corpus: None) -> None:
    """As the benchmark corpus writes them: straight into the tables, no change rows."""
    async with db.begin() as conn:
        await conn.execute(sa.delete(RelatedChange))
    assert await count_due(db) == 0

    assert await mark_unlisted(db) == 45
    assert await mark_unlisted(db) == 0
    assert await RelatedWorker(db).drain() == 45


async def test_a_full_pass_computes_every_list_again(db: AsyncEngine, corpus: None) -> None:
    worker = RelatedWorker(db)
    await worker.drain()
    assert await request_full_pass(db) == 45
    assert await worker.drain() == 45


async def claimers(engine: AsyncEngine, count: int) -> list[AsyncEngine]:
    """Engines of their own, as separate processes would have."""
    return [create_engine(engine.url) for _ in range(count)]


async def test_claims_made_at_once_take_different_stories(db: AsyncEngine, corpus: None) -> None:
    await take_changes(db)
    engines = await claimers(db, 3)
    try:
        batches = await asyncio.gather(*(claim_batch(e, 10) for e in engines))
    finally:
        for engine in engines:
            await engine.dispose()

    ids = [claim.article_id for batch in batches for claim in batch]
    assert len(ids) == len(set(ids)) == 30
    await release(db, [claim for batch in batches for claim in batch])
    assert len(await claim_batch(db, 100)) == 45


class Recording(RelatedWorker):
    """A worker that notes which stories it ranked, and when.

    A batch's end is noted just before the store whose commit gives its claims up: a start the
    other worker notes before it was a claim made while these were held. (Noted after the
    commit, the other worker could claim a story made due again and note its start first.)"""

    def __init__(self, engine: AsyncEngine, log: list[tuple[str, str, int]], name: str) -> None:
        super().__init__(engine, batch_size=4, idle_seconds=0.05)
        self.log, self.name = log, name

    def _noted(self, event: str, claims: Iterable[Claim]) -> None:
        self.log.extend((event, self.name, claim.article_id) for claim in claims)

    async def _compute(self, claims: Sequence) -> set[int]:  # type: ignore[override]
        self._noted("start", claims)
        await asyncio.sleep(0.02)  # the other worker claims meanwhile
        try:
            return await super()._compute(list(claims))
        except BaseException:
            self._noted("end", claims)
            raise

    async def _store(self, computed: list[Computed], *args: Any) -> set[int]:  # type: ignore[override]
        self._noted("end", [c.claim for c in computed])
        return await super()._store(computed, *args)


async def test_two_workers_at_once_never_compute_the_same_story(
    db: AsyncEngine, corpus: None
) -> None:
    log: list[tuple[str, str, int]] = []
    engines = await claimers(db, 2)
    try:
        workers = [Recording(e, log, name) for e, name in zip(engines, "ab", strict=True)]
        done = await asyncio.gather(*(w.drain() for w in workers))
        # A publish makes lists due again while both run.
        async with session_factory(db).begin() as session:
            await editing.unpublish(session, "kelp-2")
        done2 = await asyncio.gather(*(w.drain() for w in workers))
    finally:
        for engine in engines:
            await engine.dispose()

    assert all(done), "both took a share"
    assert sum(done) >= 45 and sum(done2) >= 1
    computing: dict[int, str] = {}
    for event, name, story_id in log:
        if event == "start":
            assert story_id not in computing, f"{story_id} computed by two workers at once"
            computing[story_id] = name
        else:
            assert computing.pop(story_id) == name


async def test_a_lapsed_claim_stores_nothing(db: AsyncEngine, corpus: None) -> None:
    await take_changes(db)
    [stalled] = await claim_batch(db, 1)
    async with db.begin() as conn:  # its lease ran out: the claimer died, or stalled
        await conn.execute(
            sa.update(RelatedState)
            .where(RelatedState.article_id == stalled.article_id)
            .values(claimed_until=utcnow() - timedelta(seconds=1))
        )
    assert await RelatedWorker(db).drain() == 45

    worker = RelatedWorker(db)
    relisted = await worker._compute([stalled])

    assert relisted == set()
    async with db.connect() as conn:
        state = (
            await conn.execute(
                sa.select(RelatedState).where(RelatedState.article_id == stalled.article_id)
            )
        ).one()
    assert state.claimed_until is None and state.due_at > utcnow()


async def test_an_interrupted_batch_gives_its_stories_back(db: AsyncEngine, corpus: None) -> None:
    worker = RelatedWorker(db, batch_size=10)
    worker.corpus.rank = interrupt  # type: ignore[method-assign]
    with pytest.raises(Interrupted):
        await worker.run_once()

    async with db.connect() as conn:
        held = await conn.scalar(
            sa.select(sa.func.count()).where(RelatedState.claimed_until.is_not(None))
        )
    assert held == 0
    assert await count_due(db) == 45


async def test_a_failure_is_recorded_and_retried_later(db: AsyncEngine, corpus: None) -> None:
    def broken(*_: object) -> None:
        raise ValueError("ranking broke")

    worker = RelatedWorker(db, batch_size=100)
    worker.corpus.rank = broken  # type: ignore[method-assign]
    assert await worker.run_once() == 45
    assert worker.failed == 45
    async with db.connect() as conn:
        errors = set((await conn.execute(sa.select(RelatedState.error))).scalars())
    assert errors == {"ValueError: ranking broke"}
    assert await count_due(db) == 0, "waiting out its back-off"


async def test_lists_stored_by_another_process_are_told_to_the_watch(
    db: AsyncEngine, corpus: None
) -> None:
    told: set[int] = set()

    async def note(ids: set[int]) -> None:
        told.update(ids)

    stop = asyncio.Event()
    watching = asyncio.create_task(watch_lists(db, note, stop, every=0.05))
    try:
        await asyncio.sleep(0.1)
        await RelatedWorker(db).drain()
        ids = await ids_by_slug(db)
        for _ in range(100):
            if ids["kelp-0"] in told:
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await watching
    assert ids["kelp-0"] in told


async def test_a_list_never_holds_the_story_or_a_near_twin(
    db: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Near-twins: the same headline words (case and punctuation aside), a TF-IDF cosine of
    0.9 or more, or overlapping shingles; each is left out of the other's list."""
    sample = json.loads(SAMPLE_LINES[0])
    bbc = [json.loads(line) for line in islice(BBC.read_text().splitlines(), 30)]
    same_headline = {
        **sample,
        "slug": "same-headline",
        "title": sample["title"].upper() + "!",
        "dek": None,
        "body": bbc[0]["body"],
    }
    copy = {**sample, "slug": "copy", "title": "Leaked call: what the Kremlin said"}
    copy["body"] = sample["body"][:-1]
    await import_lines(
        sessions,
        [*SAMPLE_LINES, *map(json.dumps, bbc[1:]), json.dumps(same_headline), json.dumps(copy)],
    )

    await RelatedWorker(db).drain()

    # The sample's twins: by headline, and by cosine and shingles (not each other's twins).
    twins = {SAMPLE_SLUG: {"same-headline", "copy"}, "same-headline": {SAMPLE_SLUG}}
    twins["copy"] = {SAMPLE_SLUG}
    for slug, its_twins in twins.items():
        listed = await related_slugs(db, slug, 20)
        assert len(listed) >= 5
        assert slug not in listed
        assert not its_twins & set(listed), f"{slug} lists a near-twin: {listed}"
    lists = await every_list(db)
    assert all(story_id not in related for story_id, related in lists.items())


async def test_every_story_gets_five_where_five_exist(
    db: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Stories that share no word: similarity relates none, the fill still lists five."""
    words = ["quorvex", "lumbrifal", "zantipor", "mirrowen", "gaskolith", "brenturic", "yoldamax"]
    lines = [
        story(f"lone-{n}", f"{word.title()} {word}ing {word}ed {word}s.", title=word.title())
        for n, word in enumerate(words)
    ]
    await import_lines(sessions, lines)

    await RelatedWorker(db).drain()

    for n in range(len(words)):
        listed = await related_slugs(db, f"lone-{n}", 20)
        assert len(listed) == 6, listed
        assert f"lone-{n}" not in listed


async def test_a_list_is_as_long_as_the_other_stories_when_fewer_than_five(
    db: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await import_lines(sessions, [story(f"few-{n}", f"Word{n} alone here.") for n in range(3)])
    await RelatedWorker(db).drain()
    assert sorted(await related_slugs(db, "few-0")) == ["few-1", "few-2"]
