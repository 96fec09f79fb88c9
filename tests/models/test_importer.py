"""Importing JSON Lines: idempotent by slug, bad lines reported by number, nothing half-written."""

from __future__ import annotations

import json

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from models import Article, ArticleTopic, Comment, Topic
from models.importer import import_lines, parse_line
from models.session import AsyncSession
from tests.conftest import SAMPLE

SAMPLE_LINES = SAMPLE.read_text().splitlines()


def record(**changes: object) -> str:
    base = json.loads(SAMPLE_LINES[1])
    base.update(changes)
    return json.dumps(base)


async def count(engine: AsyncEngine, model: type) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(sa.func.count()).select_from(model))).scalar_one()


async def test_importing_twice_changes_nothing(
    sessions: async_sessionmaker[AsyncSession], db: AsyncEngine
) -> None:
    first = await import_lines(sessions, SAMPLE_LINES)
    second = await import_lines(sessions, SAMPLE_LINES)

    assert (first.created, first.updated, first.unchanged, first.failed) == (2, 0, 0, 0)
    assert (second.created, second.updated, second.unchanged, second.failed) == (0, 0, 2, 0)
    assert await count(db, Article) == 2
    assert await count(db, Comment) == 5
    assert await count(db, Topic) == 4


async def test_a_changed_record_updates_the_story_by_slug(
    sessions: async_sessionmaker[AsyncSession], db: AsyncEngine
) -> None:
    await import_lines(sessions, [record()])
    report = await import_lines(sessions, [record(title="A new headline", topics=["Crimea"])])

    assert report.updated == 1
    async with db.connect() as conn:
        title = (await conn.execute(sa.select(Article.title))).scalar_one()
        topics = (
            (
                await conn.execute(
                    sa.select(Topic.name).join(ArticleTopic, ArticleTopic.topic_id == Topic.id)
                )
            )
            .scalars()
            .all()
        )
    assert title == "A new headline"
    assert topics == ["Crimea"]


async def test_bad_lines_are_reported_by_number_and_the_rest_still_loads(
    sessions: async_sessionmaker[AsyncSession], db: AsyncEngine
) -> None:
    lines = [
        SAMPLE_LINES[0],
        "{not json",
        record(slug="Bad Slug!"),
        record(slug="no-body", body=[]),
        record(slug="no-date", published_at=None),
        record(slug="orphan-reply", comments=[{"body": "hi", "parent_id": "c9"}]),
        "",
        "[1, 2]",
        record(slug="typo-key", titel="x"),
        SAMPLE_LINES[1],
    ]
    report = await import_lines(sessions, lines)

    assert report.created == 2
    assert [number for number, _ in report.errors] == [2, 3, 4, 5, 6, 8, 9]
    reasons = dict(report.errors)
    assert "not valid JSON" in reasons[2]
    assert reasons[3].startswith("slug:")
    assert reasons[4].startswith("body:")
    assert reasons[5] == "published_at: required for a published story"
    assert "parent 'c9'" in reasons[6]
    assert "titel" in reasons[9]
    assert await count(db, Article) == 2


async def test_a_record_the_database_cannot_take_fails_alone_and_leaves_nothing(
    sessions: async_sessionmaker[AsyncSession], db: AsyncEngine
) -> None:
    # A topic name with no letters has no slug: found only while writing, after other rows.
    lines = [record(slug="fine-one"), record(slug="broken", topics=["Crimea", "!!!"]), record()]
    report = await import_lines(sessions, lines)

    assert report.created == 2
    assert report.errors == [(2, "topics: '!!!' has no letters or digits")]
    async with db.connect() as conn:
        slugs = set((await conn.execute(sa.select(Article.slug))).scalars())
    assert "broken" not in slugs
    assert await count(db, ArticleTopic) == 2


async def test_comments_keep_feed_order_and_are_never_duplicated(
    sessions: async_sessionmaker[AsyncSession], db: AsyncEngine
) -> None:
    await import_lines(sessions, SAMPLE_LINES[:1])
    await import_lines(sessions, SAMPLE_LINES[:1])

    async with db.connect() as conn:
        rows = (
            (await conn.execute(sa.select(Comment.external_id).order_by(Comment.created_at)))
            .scalars()
            .all()
        )
    assert rows == ["c1", "c2", "c3", "c4", "c5"]


def test_parse_line_keeps_text_as_written() -> None:
    parsed = parse_line(record(title="  <b>Bold</b> & 'quoted'  "))
    assert parsed.title == "<b>Bold</b> & 'quoted'"
