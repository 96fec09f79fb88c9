"""Commands that serve: the API under uvicorn, and the search outbox worker."""

from __future__ import annotations

import asyncio
import math
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from api.cli.app import app, console, load_settings
from api.settings import Settings
from models.session import create_engine
from search.errors import SearchUnavailable

WORKER_HEALTHCHECK_SECONDS = 60


@app.command()
def worker() -> None:
    """Drain the search outbox into Meilisearch until interrupted (SEARCH_WORKER=false on the
    API processes then leaves the draining to this one)."""
    from api.services import open_search

    async def run() -> None:
        settings = load_settings()
        engine = create_engine(settings.resolved_database_url)
        service = await open_search(settings, engine)
        await service.prepare()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        console.print(f"draining the search outbox into {service.client.url}")
        try:
            await service.worker.run(stop)
        finally:
            await service.close()
            await engine.dispose()

    asyncio.run(run())


@contextmanager
def _shared_search(settings: Settings) -> Iterator[None]:
    """With several workers and no MEILI_URL, one local Meilisearch for all of them.

    Started here, before uvicorn starts the workers, and handed to them as MEILI_URL (they read
    their settings from the environment): each worker starting its own on the same data would
    race for the folder. Stopped when the server stops.
    """
    from api.services import local_search

    if settings.workers == 1 or settings.meili_url:
        yield
        return
    local = local_search(settings)
    with asyncio.Runner() as runner:
        try:
            runner.run(local.start())
        except SearchUnavailable as exc:
            # As with one worker: the API runs without search, its answers marked degraded.
            console.print(f"[yellow]search is off: {exc}")
            yield
            return
        os.environ["MEILI_URL"], os.environ["MEILI_MASTER_KEY"] = local.url, local.master_key
        try:
            yield
        finally:
            runner.run(local.stop())


@app.command()
def serve(
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
) -> None:
    """Serve the API with uvicorn on HOST:PORT."""
    from api.observability import configure_logging

    settings = load_settings()
    configure_logging(settings.log_level)
    if settings.workers > 1 and not settings.redis_url:
        # Exact without Redis too (api/cache.py), but each worker counts its own rate limits.
        console.print(
            f"{settings.workers} workers without REDIS_URL: each keeps its own result cache and "
            "rate-limit counts (set REDIS_URL to share them)"
        )
    base = f"http://{settings.host}:{settings.port}"
    console.print(
        f"Reader site at {base}/, GraphQL API and GraphiQL at {base}/graphql", soft_wrap=True
    )
    # Once its graceful shutdown is over, uvicorn raises the signal that stopped it again, and
    # the default handler would report the process killed; a stop asked for and done is exit 0.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with _shared_search(settings):
        _run_uvicorn(settings, reload)


def _run_uvicorn(settings: Settings, reload: bool) -> None:
    import uvicorn

    from api.transport import CoalescingHttpToolsProtocol

    uvicorn.run(
        "api.app:create_app",
        factory=True,
        http=CoalescingHttpToolsProtocol,
        host=settings.host,
        port=settings.port,
        reload=reload,
        workers=settings.workers,
        log_level=settings.log_level,
        # Our JSON logging stays in place, and our access line (api/observability.py) replaces
        # uvicorn's, which would log query strings.
        log_config=None,
        access_log=False,
        # Requests in flight end within REQUEST_TIME_LIMIT; SIGTERM waits that long and a little
        # more (for a client still sending its body), then stops anyway.
        timeout_graceful_shutdown=math.ceil(settings.request_time_limit) + 5,
        # uvicorn kills a worker that does not answer its health check in time (5 s by
        # default), and a worker importing spaCy and loading its models on two busy cores
        # took longer: WORKERS=2 lost a worker at every start.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
    )
