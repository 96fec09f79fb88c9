"""Getting the topology run ready and watching it: `newsroom` commands with the run's settings,
the database and the demo content, the index, the editor's token, and the search outbox (the
settling after the run waits for it)."""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.topology_load import Recorder
from bench.topology_stack import NEWSROOM, ROOT, Stack
from models.outbox import OutboxEntry

SETTLE_LIMIT_SECONDS = 900.0


async def newsroom(stack: Stack, *args: str) -> tuple[int, str]:
    """Run one `newsroom` command with the run's settings; its exit code and output."""
    process = await asyncio.create_subprocess_exec(
        NEWSROOM,
        *args,
        cwd=ROOT,
        env={**os.environ, **stack.environment()},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode() + err.decode()


async def checked(stack: Stack, *args: str) -> str:
    code, output = await newsroom(stack, *args)
    if code != 0:
        raise RuntimeError(f"newsroom {' '.join(args)} exited {code}:\n{output[-3000:]}")
    return output


async def prepare_database(stack: Stack) -> None:
    """The database (kept between runs); the demo content, its people extracted once (about
    15 minutes on 2 cores the first time, so that no run measures that)."""
    assert stack.database_url is not None
    target = make_url(stack.database_url)
    admin = target.set(drivername="postgresql", database="postgres")
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        name = target.database
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    print("loading the demo content (newsroom demo) …", flush=True)
    await checked(stack, "demo")
    print("finding people in stories not read yet (newsroom people extract) …", flush=True)
    await checked(stack, "people", "extract")


async def ensure_index(stack: Stack) -> None:
    code, _ = await newsroom(stack, "reindex", "--check")
    if code != 0:
        print("the index is not in step with SQL: newsroom reindex …", flush=True)
        await checked(stack, "reindex")


async def editor_token(stack: Stack) -> str:
    await newsroom(stack, "token", "revoke", "bench")  # the last run's, if any
    output = await checked(stack, "token", "create", "--role", "editor", "--name", "bench")
    return next(line for line in reversed(output.splitlines()) if line.startswith("nr_"))


async def pending_outbox(engine: AsyncEngine) -> tuple[int, int]:
    """Outbox rows not applied yet, and how many of them a worker's claim holds for more than a
    minute yet (a dead worker's lease, when it is alive the batch takes a second)."""
    later = datetime.now(UTC) + timedelta(minutes=1)
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                sa.select(
                    sa.func.count(),
                    sa.func.count().filter(OutboxEntry.claimed_until > later),
                ).where(OutboxEntry.processed_at.is_(None))
            )
        ).one()
    return int(row[0]), int(row[1])


async def settle(engine: AsyncEngine, patience: float) -> dict[str, Any]:
    """Wait until the search outbox is empty: `patience` seconds, or while a claim's lease holds
    rows (a killed worker's), until 30 s after it ran out; SETTLE_LIMIT_SECONDS at most."""
    started = time.monotonic()
    pending, leased = await pending_outbox(engine)
    at_start = {"pending": pending, "held_by_a_lease": leased}
    while pending:
        waited = time.monotonic() - started
        lease_ends = await last_lease(engine)
        if waited >= SETTLE_LIMIT_SECONDS or (waited >= patience and lease_ends < -30):
            break
        await asyncio.sleep(1)
        pending, _ = await pending_outbox(engine)
    return {
        "at_end_of_run": at_start,
        "seconds": round(time.monotonic() - started, 1),
        "pending_left": pending,
    }


async def last_lease(engine: AsyncEngine) -> float:
    """Seconds until the last lease on a pending outbox row runs out (negative: it has)."""
    async with engine.connect() as conn:
        until = await conn.scalar(
            sa.select(sa.func.max(OutboxEntry.claimed_until)).where(
                OutboxEntry.processed_at.is_(None)
            )
        )
    return (until - datetime.now(UTC)).total_seconds() if until else -math.inf


async def watch(
    engine: AsyncEngine, database: str, recorder: Recorder, samples: list[dict[str, Any]]
) -> None:
    """Every second: the database's connections (all six workers' pools) and the outbox."""
    connections = sa.text(
        "SELECT count(*), count(*) FILTER (WHERE state = 'active') FROM pg_stat_activity"
        " WHERE datname = :name AND pid <> pg_backend_pid()"
    )
    while True:
        try:
            async with engine.connect() as conn:
                used, active = (await conn.execute(connections, {"name": database})).one()
            pending, _ = await pending_outbox(engine)
            samples.append(
                {"t_s": round(recorder.now(), 1), "db": used, "db_active": active}
                | {"outbox": pending}
            )
        except sa.exc.SQLAlchemyError as exc:
            samples.append({"t_s": round(recorder.now(), 1), "error": str(exc)[:200]})
        await asyncio.sleep(1)
