"""The engine's pool on PostgreSQL: a connection the server closed is never handed out, and no
statement is spent checking before each checkout."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from models.session import create_engine

BACKEND = sa.text("SELECT pg_backend_pid()")


@pytest.fixture
async def pool(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(postgres_url, pool_size=1, max_overflow=0)
    yield engine
    await engine.dispose()


async def backend(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(BACKEND)).scalar_one()


async def test_a_pooled_connection_is_reused_without_a_ping(pool: AsyncEngine) -> None:
    first = await backend(pool)
    statements: list[str] = []
    sa.event.listen(
        pool.sync_engine, "before_cursor_execute", lambda *args: statements.append(args[2])
    )

    assert await backend(pool) == first
    assert statements == [BACKEND.text]
    assert not pool.pool._pre_ping


async def test_a_connection_the_server_ended_is_replaced_at_checkout(
    pool: AsyncEngine, postgres_url: str
) -> None:
    ended = await backend(pool)
    other = create_engine(postgres_url)
    try:
        async with other.connect() as conn:
            await conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": ended})
    finally:
        await other.dispose()
    await asyncio.sleep(0.1)  # the pooled connection reads the server's goodbye meanwhile

    assert await backend(pool) != ended
