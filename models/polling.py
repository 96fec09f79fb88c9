"""What background jobs share (people extraction, related stories): the claim on a batch of due
rows and its early release, the loop that takes a batch while one is due and otherwise sleeps
until woken, stopped or the idle time has passed, and the one niced thread each job runs its
CPU work in (spaCy, ranking), so that the event loop keeps serving requests."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import threading
from collections.abc import Awaitable, Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar, TypeVarTuple

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.dml import ReturningUpdate

# How much lower than the server's own threads a job's thread runs (as `nice` counts).
BACKGROUND_NICENESS = 10
_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")


async def claim(
    engine: AsyncEngine,
    key: InstrumentedAttribute[int],
    still_due: sa.ColumnElement[bool],
    order_by: Sequence[sa.ColumnElement[Any] | InstrumentedAttribute[Any]],
    limit: int,
    update: ReturningUpdate[int, *_Ts],
) -> list[sa.Row[int, *_Ts]]:
    """Run `update` (which writes the lease and returns the claimed rows, `key` first) on the
    first `limit` rows, by `order_by`, where `still_due`; committed before this returns, the rows
    in `key` order. No row when none is due.

    On PostgreSQL, `FOR NO KEY UPDATE SKIP LOCKED` lets processes claiming at once take
    different rows. SQLite's driver runs a SELECT outside any transaction (it begins one at the
    first write), so two processes could both read the same rows before either wrote: there the
    claim is one UPDATE ... WHERE `key` IN (SELECT ...) AND `still_due` RETURNING, which holds the
    write lock from reading to writing.
    """
    due = sa.select(key).where(still_due).order_by(*order_by).limit(limit)
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True, key_share=True)
            ids = list((await conn.execute(due)).scalars())
            if not ids:
                return []
            which: sa.ColumnElement[bool] = key.in_(ids)
        else:
            # An idle worker looks every second: only a read, which takes no lock, until there
            # is something to claim.
            if not await conn.scalar(sa.select(due.exists())):
                return []
            which = sa.and_(key.in_(due), still_due)
        rows = list(await conn.execute(update.where(which)))
    return sorted(rows, key=lambda row: row[0])


async def release(engine: AsyncEngine, releases: Iterable[sa.Update]) -> None:
    """Give claimed rows back before their lease ends, for any process to take at once: each of
    `releases` clears one claim (and only while it is still this process's), in one
    transaction."""
    async with engine.begin() as conn:
        for update in releases:
            await conn.execute(update)


def background_thread(name: str) -> ThreadPoolExecutor:
    """One thread for a job's CPU work, niced below the request-serving threads."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix=name, initializer=_lower_priority)


async def in_thread(executor: ThreadPoolExecutor, work: Callable[..., _T], *args: Any) -> _T:
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor, functools.partial(work, *args))


def _lower_priority() -> None:
    """Background work gives way to requests and to Meilisearch, which an editor's publish
    waits for. On Linux a thread's niceness is its own."""
    with contextlib.suppress(OSError, AttributeError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICENESS)


async def drain(
    run_once: Callable[[], Awaitable[int]], on_progress: Callable[[int], Any] | None = None
) -> int:
    """Run batches until none is due; answers how many items they handled."""
    total = 0
    while handled := await run_once():
        total += handled
        if on_progress:
            on_progress(handled)
    return total


async def poll(
    run_once: Callable[[], Awaitable[int]],
    stop: asyncio.Event,
    wake: asyncio.Event,
    idle_seconds: float,
    log: logging.Logger,
    job: str,
) -> None:
    """Run batches until `stop`; a database error is logged on the job's `log` and waited out
    like an idle turn."""
    while not stop.is_set():
        try:
            handled = await run_once()
        except sa.exc.SQLAlchemyError as exc:
            log.warning("%s: database error %s", job, exc)
            handled = 0
        if not handled:
            await wait(stop, wake, idle_seconds)


async def wait(stop: asyncio.Event, wake: asyncio.Event | None, seconds: float) -> None:
    """Until `stop` or `wake` is set, or `seconds` have passed (clearing `wake` first)."""
    if wake is not None:
        wake.clear()
    events = [stop] if wake is None else [stop, wake]
    waits = {asyncio.ensure_future(event.wait()) for event in events}
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
