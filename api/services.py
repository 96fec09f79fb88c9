"""Starting and stopping what the app depends on: the search engine, its outbox worker and the
background jobs (people, related stories, the scheduler, webhooks).

Search is never required for the app to start: when Meilisearch cannot be reached, readers get
SQL-backed answers marked `degraded`, and the outbox keeps every write until the engine is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from api.cache import ResultCache, open_cache, tags_for
from api.operations import PersistedQueries
from api.rate_limits import RateLimits
from api.settings import Settings
from api.webhook_delivery import WebhookSender
from models.changes import Change
from models.people_queue import PeopleWorker
from models.related_job import RelatedWorker, watch_lists
from models.scheduling import Scheduler
from search.client import SearchClient
from search.errors import SearchError
from search.indexes import ensure_articles_index
from search.server import LocalMeilisearch
from search.worker import OutboxWorker

logger = logging.getLogger("newsroom.api")

# How long a stopping process waits for the outbox batch in progress (one Meilisearch write).
STOP_GRACE_SECONDS = 10.0


@dataclass
class Services:
    """What every request may need besides the database: settings, search, rate limits, the
    result cache, persisted queries and the background jobs this process runs."""

    settings: Settings
    search: SearchService | None
    rate_limits: RateLimits
    cache: ResultCache | None = None
    persisted: PersistedQueries | None = None
    people: PeopleWorker | None = None
    related: RelatedWorker | None = None
    scheduler: Scheduler | None = None
    webhooks: WebhookSender | None = None


@dataclass
class SearchService:
    client: SearchClient
    worker: OutboxWorker
    local: LocalMeilisearch | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    async def prepare(self) -> None:
        """Apply the index settings; a failure is logged, not fatal."""
        try:
            await ensure_articles_index(self.client)
        except SearchError as exc:
            logger.warning("search index not ready (%s); answers are degraded until it is", exc)

    def start_worker(self) -> None:
        self._task = asyncio.create_task(self.worker.run(self._stop), name="search-outbox")

    async def stop_worker(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Let the worker finish the batch it is on, then stop it; a batch still running after
        `grace` seconds is cancelled, and its rows go back to the outbox unapplied."""
        self._stop.set()
        if self._task is not None:
            _, running = await asyncio.wait({self._task}, timeout=grace)
            for task in running:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def close(self) -> None:
        await self.stop_worker()
        await self.client.aclose()
        if self.local is not None:
            await self.local.stop()


def local_search(settings: Settings) -> LocalMeilisearch:
    """The local Meilisearch under DATA_DIR, for when no MEILI_URL is given."""
    return LocalMeilisearch(
        settings.data_dir / "meilisearch",
        binary=settings.meili_binary,
        max_indexing_memory=settings.meili_max_indexing_memory,
    )


async def open_search(settings: Settings, engine: AsyncEngine) -> SearchService:
    """Connect to MEILI_URL, or start (or join) the local Meilisearch under DATA_DIR."""
    local = None
    url, key = settings.meili_url, settings.meili_master_key
    if not url:
        local = local_search(settings)
        await local.start()
        url, key = local.url, local.master_key
    client = SearchClient(url, key, prefix=settings.meili_index_prefix)
    return SearchService(client=client, worker=OutboxWorker(engine, client), local=local)


def build_services(
    settings: Settings, result_cache: ResultCache | None, search: SearchService | None
) -> Services:
    return Services(
        cache=result_cache,
        persisted=PersistedQueries(getattr(result_cache, "redis", None)),
        settings=settings,
        search=search,
        rate_limits=RateLimits(
            {
                "comment": settings.comment_rate_limit,
                "correction": settings.correction_rate_limit,
                "report": settings.report_rate_limit,
                "request": settings.request_rate_limit,
            },
            settings.redis_url,
        ),
    )


@dataclass
class Jobs:
    """The background jobs one process runs besides the search outbox: people extraction,
    related stories, the scheduler and webhook deliveries."""

    app: Starlette
    stopping: asyncio.Event
    tasks: list[asyncio.Task[None]]
    related_stopping: asyncio.Event
    related_tasks: list[asyncio.Task[None]]

    async def stop(self) -> None:
        """Each job finishes the step it is on (the related job within a few seconds)."""
        self.stopping.set()
        for task in self.tasks:
            await task
        await stop_related(self.app, self.related_tasks, self.related_stopping)


def start_jobs(
    app: Starlette,
    settings: Settings,
    owns_engine: bool,
    related: RelatedWorker | None,
    scheduler: Scheduler | None,
    webhooks: WebhookSender | None,
) -> Jobs:
    """Start the jobs this process runs (create_app says which of the given ones run)."""
    services: Services = app.state.services
    engine = app.state.engine
    stopping, tasks = asyncio.Event(), []
    if owns_engine and settings.people_worker:
        services.people = PeopleWorker(engine)
        if services.cache is not None:
            invalidate = services.cache.invalidate
            services.people.on_change = lambda changed: invalidate(tags_for(changed))
        tasks.append(asyncio.create_task(services.people.run(stopping)))
    related_stopping = asyncio.Event()
    related_tasks = start_related(app, settings, related, owns_engine, related_stopping)
    scheduler = scheduler or (Scheduler(engine) if owns_engine else None)
    scheduling = start_scheduler(services, scheduler, stopping)
    sender = webhooks or (
        WebhookSender(engine, allow_private=settings.webhook_allow_private) if owns_engine else None
    )
    delivering = start_webhooks(services, sender, webhooks is None, stopping)
    tasks += [task for task in (scheduling, delivering) if task is not None]
    return Jobs(app, stopping, tasks, related_stopping, related_tasks)


def start_related(
    app: Starlette,
    settings: Settings,
    given: RelatedWorker | None,
    owns_engine: bool,
    stop: asyncio.Event,
) -> list[asyncio.Task[None]]:
    """The related-stories job in this process (RELATED_WORKER), and the watch that drops
    cached pages whose lists another process stored."""
    from api.related import list_tags

    services: Services = app.state.services
    engine = app.state.engine
    run = owns_engine and settings.related_worker
    services.related = RelatedWorker(engine) if run else given
    app.state.owns_related = run
    tasks: list[asyncio.Task[None]] = []
    if services.cache is not None:
        invalidate = services.cache.invalidate

        async def relisted(ids: set[int]) -> None:
            await invalidate(list_tags(ids))

        if services.related is not None:
            services.related.on_change = relisted
        if owns_engine:
            tasks.append(asyncio.create_task(watch_lists(engine, relisted, stop)))
    if run and services.related is not None:
        tasks.append(asyncio.create_task(services.related.run(stop)))
    return tasks


async def stop_related(
    app: Starlette, tasks: list[asyncio.Task[None]], stop: asyncio.Event
) -> None:
    """A batch in progress may finish within a few seconds; one still running is cancelled,
    and its stories go back at once."""
    stop.set()
    if tasks:
        _, running = await asyncio.wait(tasks, timeout=5.0)
        for task in running:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
    worker: RelatedWorker | None = app.state.services.related
    if worker is not None:
        worker.on_change = None
        if app.state.owns_related:
            worker.close()


def start_scheduler(
    services: Services, scheduler: Scheduler | None, stop: asyncio.Event
) -> asyncio.Task[None] | None:
    """Scheduled stories publish themselves from every process that runs the scheduler
    (SCHEDULER); its publishes reach this process's caches and jobs as an editor's would."""
    if scheduler is None or not services.settings.scheduler:
        return None
    from api.context import announce

    services.scheduler = scheduler

    async def published(changed: set[Change]) -> None:
        await announce(services, changed)

    scheduler.on_change = published
    return asyncio.create_task(scheduler.run(stop), name="scheduler")


def start_webhooks(
    services: Services, sender: WebhookSender | None, run: bool, stop: asyncio.Event
) -> asyncio.Task[None] | None:
    """Webhook deliveries go out from every process that runs the sender (WEBHOOK_WORKER),
    woken by this process's writes. A sender that is not `run` is only woken (tests run it)."""
    services.webhooks = sender
    if sender is None or not run or not services.settings.webhook_worker:
        return None
    return asyncio.create_task(sender.run(stop), name="webhooks")


def open_result_cache(settings: Settings) -> ResultCache | None:
    if not settings.result_cache:
        return None
    # Worker processes of one server without Redis tell each other of writes through a file.
    shared = settings.data_dir / "result-cache.generation" if settings.workers > 1 else None
    return open_cache(
        settings.redis_url,
        max_entries=settings.result_cache_entries,
        max_bytes=settings.result_cache_bytes,
        ttl_seconds=settings.result_cache_ttl,
        prefix=settings.resolved_cache_namespace,
        shared_path=shared,
    )


async def open_search_or_none(settings: Settings, engine: AsyncEngine) -> SearchService | None:
    try:
        service = await open_search(settings, engine)
    except SearchError as exc:
        logger.error("search is off, answers are degraded: %s", exc)
        return None
    await service.prepare()
    if settings.search_worker:
        service.start_worker()
    return service
