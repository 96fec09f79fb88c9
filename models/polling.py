"""The loop background jobs share (people extraction, related stories): take a batch while one is
due, otherwise sleep until woken, stopped or the idle time has passed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import sqlalchemy as sa


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
