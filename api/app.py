"""The Starlette application: its routes, its middleware and its services' lifetime (the
request pipeline itself is api/pipeline.py)."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from api import cache, graphiql, images, observability, site
from api.body_limit import BodyLimit
from api.cors import ReaderCORS
from api.doorway import Doorway
from api.health import healthz, readyz
from api.pipeline import Pipeline
from api.query_limits import Limits
from api.schema import build_schema
from api.services import (
    SearchService,
    build_services,
    open_result_cache,
    open_search_or_none,
    start_jobs,
)
from api.settings import Settings
from api.site.caching import KnownPages
from api.view import GraphQLView
from api.webhook_delivery import WebhookSender
from models import screening
from models.related_job import RelatedWorker
from models.scheduling import Scheduler
from models.session import ReadPool, create_engine, is_postgresql

logger = logging.getLogger("newsroom.api")


def create_app(
    settings: Settings | None = None,
    engine: AsyncEngine | None = None,
    search: SearchService | None = None,
    related: RelatedWorker | None = None,
    scheduler: Scheduler | None = None,
    webhooks: WebhookSender | None = None,
) -> Starlette:
    """Build the application.

    Pass `engine` and `search` to share ones the caller owns (tests do); otherwise the app opens
    the database, starts or joins Meilisearch and runs the outbox worker for its lifetime. A
    `related` worker given is wired to the result cache but not run (tests drain it). A
    `scheduler` given is wired and run, a `webhooks` sender given is wired but not run (tests
    pass them on clocks of their own and run the sender themselves).
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        owns_engine, owns_search = engine is None, search is None and engine is None
        if owns_engine:
            settings.ensure_data_dir()
            # Worker processes started by uvicorn (WORKERS > 1) log JSON lines too.
            observability.configure_logging(settings.log_level)
        compiling = settings.compiled_queries and _on_postgresql(settings, engine)
        # Compiled reads (most of what anonymous readers ask) take their connections from a pool
        # of their own: half of DATABASE_POOL_SIZE, so the process's total stays what it was.
        read_size = max(1, settings.database_pool_size // 2) if compiling else 0
        app.state.engine = engine or create_engine(
            settings.resolved_database_url,
            pool_size=max(1, settings.database_pool_size - read_size),
            max_overflow=settings.database_max_overflow,
        )
        app.state.read_pool = ReadPool(app.state.engine.url, read_size) if compiling else None
        service = await open_search_or_none(settings, app.state.engine) if owns_search else search
        result_cache = open_result_cache(settings)
        app.state.services = build_services(settings, result_cache, service)
        if result_cache is not None and service is not None:
            invalidate = result_cache.invalidate
            service.worker.on_indexed = lambda ids: invalidate(cache.indexed_tags(ids))
        # Load the comment screening model now rather than on the first reader's comment.
        await asyncio.to_thread(screening.warm_up)
        jobs = start_jobs(app, settings, owns_engine, related, scheduler, webhooks)
        try:
            yield
        finally:
            await jobs.stop()
            if owns_search and service is not None:
                await service.close()
            elif service is not None:
                service.worker.on_indexed = None
            if result_cache is not None:
                await result_cache.close()
            await app.state.services.rate_limits.close()
            if app.state.read_pool is not None:
                await app.state.read_pool.close()
            if owns_engine:
                await app.state.engine.dispose()

    limits = Limits.of(settings)
    view = GraphQLView(
        build_schema(limits),
        graphql_ide="graphiql",
        allow_queries_via_get=True,
        # uploadImage: the pipeline refuses uploads from other sites' pages (Strawberry leaves
        # them off by default for that reason).
        multipart_uploads_enabled=True,
    )
    pipeline = Pipeline(view, limits)
    routes = [
        # Every method reaches the pipeline, which refuses all but GET and POST in JSON.
        Route("/graphql", pipeline),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", observability.metrics),
        *site.routes,
        *images.routes,
        *graphiql.routes,
    ]
    # Serving for real (its own engine), the app keeps what start-up loaded out of the collector.
    known_pages = KnownPages()
    app = App(
        Doorway(pipeline, known_pages, "/graphql", settings.max_body_bytes),
        routes=routes,
        lifespan=_frozen(lifespan) if engine is None else lifespan,
    )
    # The reader site's pages run the same schema in-process (api/site/data.py).
    app.state.schema, app.state.limits = view.schema, limits
    app.state.known_pages = known_pages
    app.add_middleware(
        BodyLimit, max_bytes=settings.max_body_bytes, upload_bytes=settings.max_image_bytes
    )
    app.add_middleware(ReaderCORS, allow_origins=settings.cors_allow_origins.split(","))
    return app


class App(Starlette):
    """Starlette, with known cached answers served at the door (api/doorway.py)."""

    def __init__(self, doorway: Doorway, **options: Any) -> None:
        super().__init__(**options)
        self.doorway = doorway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        onward = await self.doorway(getattr(self.state, "services", None), scope, receive, send)
        if onward is not None:
            await super().__call__(scope, onward, send)


def _frozen(lifespan: Any) -> Any:
    """The lifespan, with what start-up loaded (the schema, the screening model, the modules)
    moved out of the garbage collector's sight until shutdown: a full collection then scans only
    what requests left behind. Under the hostile benchmark each one took about 300 ms, most of
    the reader's p99, scanning 300,000 objects that live as long as the process anyway."""

    @asynccontextmanager
    async def frozen(app: Starlette) -> AsyncIterator[None]:
        async with lifespan(app):
            gc.collect()
            gc.freeze()
            try:
                yield
            finally:
                gc.unfreeze()

    return frozen


def _on_postgresql(settings: Settings, engine: AsyncEngine | None) -> bool:
    if engine is not None:
        return engine.dialect.name == "postgresql"
    return is_postgresql(settings.resolved_database_url)
