"""Constraints the database itself enforces, whatever code writes to it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from models import Article, Comment, Topic


async def test_deleting_a_story_with_comments_is_refused(db: AsyncEngine, sample: None) -> None:
    with pytest.raises(sa.exc.IntegrityError):
        async with db.begin() as conn:
            await conn.execute(sa.delete(Article).where(Article.id == 1))
    async with db.connect() as conn:
        remaining = (await conn.execute(sa.select(sa.func.count()).select_from(Comment))).scalar()
    assert remaining == 5


async def test_deleting_a_topic_still_in_use_is_refused(db: AsyncEngine, sample: None) -> None:
    with pytest.raises(sa.exc.IntegrityError):
        async with db.begin() as conn:
            await conn.execute(sa.delete(Topic).where(Topic.slug == "crimea"))


async def test_slugs_are_unique(db: AsyncEngine, sample: None) -> None:
    with pytest.raises(sa.exc.IntegrityError):
        async with db.begin() as conn:
            await conn.execute(sa.insert(Topic).values(slug="crimea", name="Crimea again"))


async def test_an_unknown_status_is_refused(db: AsyncEngine, sample: None) -> None:
    with pytest.raises(sa.exc.IntegrityError):
        async with db.begin() as conn:
            await conn.execute(sa.text("UPDATE articles SET status = 'archived' WHERE id = 1"))
