"""Editors' writes when two of them touch the same new names at once."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from models import editing
from models.session import AsyncSession, session_factory
from models.topic import Topic


async def ids_in_own_transaction(session: AsyncSession, names: list[str]) -> list[int]:
    async with session.begin():
        return await editing._ids_for(session, Topic, names)


async def test_two_saves_creating_the_same_new_topics_at_once_both_get_them(
    db: AsyncEngine,
) -> None:
    """The second waits for the first's rows and takes them: no unique violation, and no
    deadlock although the two stories name the topics in opposite orders."""
    if db.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer: the second save waits for the first to commit")
    sessions = session_factory(db)
    async with sessions() as first, sessions() as second:
        async with first.begin():
            first_ids = await editing._ids_for(first, Topic, ["Zeta talks", "Alpha summit"])
            later = asyncio.create_task(
                ids_in_own_transaction(second, ["Alpha summit", "Zeta talks"])
            )
            await asyncio.sleep(0.3)
            assert not later.done()  # waiting on the first save's uncommitted rows
        second_ids = await asyncio.wait_for(later, 10)
    assert second_ids == list(reversed(first_ids))
