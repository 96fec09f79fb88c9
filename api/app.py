"""The Starlette application: /graphql, health and readiness, and the engine's lifetime."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa
from cross_web import HTTPException
from graphql import OperationType
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from api import cache, compiled, graphiql, http_cache, observability, site
from api.cache import Entry, ResultCache, open_cache
from api.context import Context
from api.cors import ReaderCORS
from api.errors import ErrorCode, QueryTooLarge, format_error, unavailable
from api.limits import Limits, check_request
from api.ratelimit import RateLimits
from api.schema import build_schema
from api.services import SearchService, open_search
from api.settings import Settings
from models import screening
from models.people import PeopleWorker
from models.related_job import RelatedWorker, watch_lists
from models.session import ReadPool, create_engine, is_postgresql
from models.token import identify
from search.errors import SearchError

logger = logging.getLogger("newsroom.api")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
READY_TIMEOUT_SECONDS = 2.0
GRAPHQL_RESPONSE = "application/graphql-response+json"


@dataclass
class Services:
    """What every request may need besides the database: settings, search and rate limits."""

    settings: Settings
    search: SearchService | None
    limits: RateLimits
    cache: ResultCache | None = None
    persisted: http_cache.PersistedQueries | None = None
    people: PeopleWorker | None = None
    related: RelatedWorker | None = None


class GraphQLApp(GraphQL[Context, None]):
    """Strawberry's ASGI view with our context, our error format, persisted queries and the
    result cache in front of it."""

    def __init__(self, schema: Any, limits: Limits, **options: Any) -> None:
        super().__init__(schema, **options)
        self.limits = limits
        # Bodies already read once, by digest: readers' pages send the same few bodies again
        # and again, and a known one goes straight to the cache lookup, without decoding the
        # JSON, checking the limits, normalising the document and building its key (a tenth of
        # a cached answer's time). A miss takes the whole path, as every body the first time.
        self._keys = http_cache.KnownBodies()

    async def run(  # type: ignore[override]
        self, request: Any, context: Any = UNSET, root_value: Any = UNSET
    ) -> Response:
        if not isinstance(request, Request):
            return await super().run(request, context, root_value)
        started = time.perf_counter()
        try:
            if request.method not in ("GET", "POST"):
                raise HTTPException(405, "GraphQL is served over GET and POST only")
            response = await self._answer(request)
        except HTTPException as exc:
            # Strawberry's refusal of a request that never became an operation (malformed
            # JSON, wrong content type, a batch, a mutation over GET): JSON like every answer.
            response = _Refusal(exc.reason, ErrorCode.BAD_REQUEST, exc.status_code)
            if exc.status_code == 405:
                response.headers["Allow"] = "POST" if request.method == "GET" else "GET, POST"
        except ClientDisconnect:
            # Gone before its body arrived: no one reads this, but the access log does (and an
            # unhandled exception would log a traceback per dropped connection).
            response = _Refusal("The client went away mid-request", ErrorCode.BAD_REQUEST, 400)
        if isinstance(response, _Refusal):
            request.state.error_codes = [response.code]
        if GRAPHQL_RESPONSE in request.headers.get("accept", ""):
            # GraphQL over HTTP: with its own media type, a request that could not run at all
            # (it did not parse or validate) is a 400, not a 200 with errors.
            response.headers["content-type"] = f"{GRAPHQL_RESPONSE}; charset=utf-8"
            if getattr(request.state, "not_executed", False) and response.status_code == 200:
                response.status_code = 400
        operation = getattr(request.state, "operation_name", None)
        observability.record(request, operation, response, started)
        return response

    async def _answer(self, request: Request) -> Response:
        services: Services = request.app.state.services
        wait = await services.limits.retry_after("request", _client_address(request))
        if wait is not None:
            message = f"Too many requests from this address; retry in {wait} s"
            refused = _Refusal(message, ErrorCode.RATE_LIMITED, 429, retryAfterSeconds=wait)
            refused.headers["Retry-After"] = str(wait)
            return refused
        body = await request.body()
        known = self._known(request, services, body)
        if known is not None:
            key, request.state.operation_name = known
            hit = await services.cache.get(key) if services.cache is not None else (None, 0)
            if hit[0] is not None:
                return _cached_response(request, services.settings, hit[0], hit=True)
        try:
            operation = http_cache.read_operation(request, body)
        except http_cache.NotAnOperation:
            # Strawberry refuses it with 400, having read no variables and parsed no document.
            return await self._execute(request)
        request.state.operation_name = operation.operation_name
        request.state.operation = operation
        try:
            # Before the text is hashed, stored as a persisted query or parsed, and before the
            # variables are serialised for the cache key or coerced.
            check_request(operation.query, operation.variables, self.limits)
        except QueryTooLarge as exc:
            request.state.not_executed = True
            return _Refusal(exc.message, exc.code, **exc.extensions)
        query = operation.query
        if operation.persisted_hash is not None and services.persisted is not None:
            refused, query = await _persisted(services.persisted, operation)
            if refused is not None:
                return refused
            request.state.persisted_query = query
        if getattr(request.state, "foreign_origin", False) and query:
            refused = _foreign(request, query, operation.operation_name, self.limits)
            if refused is not None:
                return refused
        digest = None
        if services.cache is not None and query and "authorization" not in request.headers:
            digest = http_cache.normalized(query, operation.operation_name, self.limits)
        if digest is None:
            response = await self._execute(request)
            response.headers.setdefault("Cache-Control", "no-store")
            return response
        key = http_cache.cache_key(digest, operation)
        if request.method == "POST":
            self._keys.remember(body, (key, operation.operation_name))
        return await self._cached(request, services, key)

    def _known(
        self, request: Request, services: Services, body: bytes
    ) -> tuple[str, str | None] | None:
        """The cache key an identical body was given before, if it may be served from the
        cache: a reader's POST, without a token."""
        if services.cache is None or request.method != "POST" or "authorization" in request.headers:
            return None
        return self._keys.get(body)

    async def _cached(self, request: Request, services: Services, key: str) -> Response:
        assert services.cache is not None
        entry, epoch = await services.cache.get(key)
        if entry is not None:
            return _cached_response(request, services.settings, entry, hit=True)
        reads = cache.collect()
        response = await self._execute(request)
        if (
            response.status_code != 200
            or getattr(request.state, "failed", True)
            or cache.VOLATILE in reads
        ):
            response.headers.setdefault("Cache-Control", "no-store")
            return response
        entry = Entry.of(bytes(response.body))
        await services.cache.put(key, entry, reads, epoch)
        return _cached_response(request, services.settings, entry, hit=False, sent=response)

    async def _execute(self, request: Request) -> Response:
        """Run the operation within REQUEST_TIME_LIMIT: runaway work ends with a clear error,
        and a write cut short rolls back (its transaction never commits)."""
        limit = request.app.state.services.settings.request_time_limit
        try:
            async with asyncio.timeout(limit):
                answered = await self._compiled(request)
                return answered if answered is not None else await super().run(request)
        except TimeoutError:
            message = f"The request took longer than {limit:g} s and was stopped; nothing changed"
            return _Refusal(message, ErrorCode.SERVICE_UNAVAILABLE, 503)
        except Exception as exc:
            # Before any resolver runs (the token lookup), a lost database is still a 503.
            if not unavailable(exc):
                raise
            logger.warning("database unavailable before execution: %s", exc)
            message = "The database is unavailable; retry shortly"
            return _Refusal(message, ErrorCode.SERVICE_UNAVAILABLE, 503)

    async def _compiled(self, request: Request) -> Response | None:
        """The answer from one compiled statement (api/compiled.py), or None when the query
        takes the resolvers' path: editors (a token), mutations, what the compiler does not
        cover, SQLite, COMPILED_QUERIES=false."""
        operation: http_cache.Operation | None = getattr(request.state, "operation", None)
        pool: ReadPool | None = request.app.state.read_pool
        if operation is None or pool is None or "authorization" in request.headers:
            return None
        query = getattr(request.state, "persisted_query", None) or operation.query
        if not query:
            return None
        services: Services = request.app.state.services
        answer = await compiled.answer(
            self.schema,
            pool,
            query,
            operation.operation_name,
            operation.variables,
            self.limits,
            services.search.client if services.search is not None else None,
        )
        if answer is None:
            return None
        body, tags = answer
        cache.read(*tags)
        request.state.failed = False
        request.state.not_executed = False
        response = Response(body, media_type="application/json")
        response.headers["X-Request-ID"] = (
            _given_request_id(request) or observability.new_request_id()
        )
        return response

    def should_render_graphql_ide(self, request: Any) -> bool:
        # Only a browser asking for a page: a persisted-query GET (no `query`) sent with
        # Strawberry's default `Accept: */*` must get its JSON answer, not GraphiQL.
        params = request.query_params
        return (
            request.method == "GET"
            and "query" not in params
            and "extensions" not in params
            and "text/html" in request.headers.get("accept", "")
        )

    def encode_json(self, data: object) -> bytes:  # type: ignore[override]
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        # orjson refuses what the standard library lets through to fail later as a 500: bytes
        # that are not UTF-8, lone surrogates, nesting past 1,024 levels. Its JSONDecodeError is
        # the standard one, which Strawberry answers with 400.
        return orjson.loads(data)

    async def parse_http_body(self, request_adapter: Any) -> Any:
        # Strawberry reads `query` off any JSON body: a string or a number there was a 500.
        if request_adapter.method == "POST" and "json" in (request_adapter.content_type or ""):
            body = await request_adapter.get_body()
            start = body.lstrip()[:1]
            if start == b"[":
                message = "Batched requests are not accepted: send one operation per request"
                raise HTTPException(400, message)
            if start != b"{":
                raise HTTPException(400, "The request body must be a JSON object: one operation")
        return await super().parse_http_body(request_adapter)

    async def render_graphql_ide(self, request: Request) -> Response:  # type: ignore[override]
        # Our own page, served with its files from this origin under a strict CSP (api/graphiql).
        return await graphiql.page(request)

    async def get_context(self, request: Request, response: Any) -> Context:  # type: ignore[override]
        services: Services = request.app.state.services
        context = Context.create(
            request.app.state.engine,
            services.search.client if services.search else None,
            _given_request_id(request),
        )
        context.services = services
        context.client_address = _client_address(request)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            async with context.engine.connect() as conn:
                context.viewer = await identify(conn, token.strip())
            context.bad_token = context.viewer is None
        response.headers["X-Request-ID"] = context.request_id
        request.state.graphql_context = context
        return context

    async def execute_single(
        self, request: Any, request_adapter: Any, *args: Any, **kwargs: Any
    ) -> Any:
        persisted = getattr(request.state, "persisted_query", None)
        data: GraphQLRequestData | None = kwargs.get("request_data")
        if persisted is not None and data is not None and data.query is None:
            data.query = persisted
        try:
            return await super().execute_single(request, request_adapter, *args, **kwargs)
        except HTTPException as exc:
            # GraphQL over HTTP: an operation that GET may not carry is 405, not 400.
            if request_adapter.method == "GET" and "GET" in exc.reason:
                raise HTTPException(405, exc.reason) from exc
            raise

    async def process_result(  # type: ignore[override]
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        body: GraphQLHTTPResponse = {"data": result.data}
        request.state.failed = bool(result.errors)
        # Errors before execution (parse, validation, variables) carry no path.
        request.state.not_executed = (
            bool(result.errors)
            and result.data is None
            and all(e.path is None for e in result.errors)
        )
        if request.state.not_executed and GRAPHQL_RESPONSE in request.headers.get("accept", ""):
            # GraphQL over HTTP: a request that never ran has no `data` entry at all (plain
            # application/json keeps Strawberry's `"data": null`, which clients rely on).
            del body["data"]
        if result.errors:
            context = getattr(request.state, "graphql_context", None)
            document = getattr(context, "document", None)
            request_id = getattr(context, "request_id", "-")
            body["errors"] = [format_error(e, document, request_id) for e in result.errors]
            request.state.error_codes = [e["extensions"].get("code", "") for e in body["errors"]]
        if result.extensions:
            body["extensions"] = result.extensions
        return body


def _given_request_id(request: Request) -> str | None:
    """The client's X-Request-ID, when it is one we can safely log and echo."""
    given = request.headers.get("x-request-id", "")
    return given if _REQUEST_ID.match(given) else None


async def _persisted(
    store: http_cache.PersistedQueries, operation: http_cache.Operation
) -> tuple[Response | None, str | None]:
    """Resolve an automatic persisted query: the text for a known hash, or a refusal that tells
    the client what to send."""
    digest = operation.persisted_hash
    assert digest is not None
    if operation.query is None:
        query = await store.get(digest)
        if query is None:
            return _Refusal("PersistedQueryNotFound", ErrorCode.PERSISTED_QUERY_NOT_FOUND), None
        return None, query
    if http_cache.query_hash(operation.query) != digest:
        message = "persistedQuery.sha256Hash is not the SHA-256 of the query text"
        return _Refusal(message, ErrorCode.BAD_USER_INPUT), None
    await store.put(digest, operation.query)
    return None, operation.query


def _client_address(request: Request) -> str:
    # uvicorn has already taken it from X-Forwarded-For when the proxy is trusted.
    return request.client.host if request.client else "unknown"


class _Refusal(Response):
    """An answer given before GraphQL ran: one error, with its code kept for the access log."""

    def __init__(self, message: str, code: str, status_code: int = 200, **extensions: Any) -> None:
        body = {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}
        super().__init__(orjson.dumps(body), status_code, media_type="application/json")
        self.code = code


def _foreign(
    request: Request, query: str, operation_name: str | None, limits: Limits
) -> Response | None:
    """Another site's page may read; it may not write nor send credentials (see api/cors.py)."""
    described = http_cache.describe(query, operation_name, limits)
    if "authorization" in request.headers:
        reason = "credentials are only accepted from the site's own origins"
    elif described is not None and described[0] is OperationType.MUTATION:
        reason = "mutations are only accepted from the site's own origins"
    else:
        return None
    return _Refusal(f"{reason} (CORS_ALLOW_ORIGINS)", ErrorCode.FORBIDDEN, 403)


def _cached_response(
    request: Request, settings: Settings, entry: Entry, *, hit: bool, sent: Response | None = None
) -> Response:
    # A miss keeps the id its execution logged under; a hit gets the client's, or a new one.
    request_id = sent.headers.get("x-request-id") if sent is not None else None
    headers = {
        "ETag": entry.etag,
        "Cache-Control": f"public, max-age={settings.http_max_age}",
        "Vary": "Accept, Authorization",
        "X-Cache": "HIT" if hit else "MISS",
        "X-Request-ID": request_id or _given_request_id(request) or observability.new_request_id(),
    }
    if request.method == "GET" and http_cache.etag_matches(request, entry.etag):
        return Response(status_code=304, headers=headers)
    return Response(entry.body, media_type="application/json", headers=headers)


class BodyLimit:
    """Refuse request bodies over `max_bytes` with 413 before the app reads them whole."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and not (declared.isdigit() and len(declared) <= 18):
            # uvicorn refuses these itself; behind another server they would reach us.
            await self._refuse(send, "Content-Length is not a number of bytes", 400)
            return
        if declared is not None and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._refuse(send)

    async def _refuse(self, send: Send, message: str | None = None, status: int = 413) -> None:
        message = message or f"request body over {self.max_bytes} bytes"
        response = _Refusal(message, ErrorCode.BAD_REQUEST, status)
        await response({"type": "http"}, _no_body, send)


class _TooLarge(Exception):
    pass


async def _no_body() -> Message:
    return {"type": "http.request", "body": b""}


async def healthz(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    engine: AsyncEngine = request.app.state.engine
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS), engine.connect() as conn:
            await conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # any failure means "not ready"; the reason goes to the log
        logger.warning("readiness check failed: %s", exc)
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ready", "database": "ok"})


def create_app(
    settings: Settings | None = None,
    engine: AsyncEngine | None = None,
    search: SearchService | None = None,
    related: RelatedWorker | None = None,
) -> Starlette:
    """Build the application.

    Pass `engine` and `search` to share ones the caller owns (tests do); otherwise the app opens
    the database, starts or joins Meilisearch and runs the outbox worker for its lifetime. A
    `related` worker given is wired to the result cache but not run (tests drain it).
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
        service = await _open_search(settings, app.state.engine) if owns_search else search
        result_cache = _open_result_cache(settings)
        app.state.services = Services(
            cache=result_cache,
            persisted=http_cache.PersistedQueries(getattr(result_cache, "redis", None)),
            settings=settings,
            search=service,
            limits=RateLimits(
                {
                    "comment": settings.comment_rate_limit,
                    "correction": settings.correction_rate_limit,
                    "report": settings.report_rate_limit,
                    "request": settings.request_rate_limit,
                },
                settings.redis_url,
            ),
        )
        if result_cache is not None:
            invalidate = result_cache.invalidate
            if service is not None:
                service.worker.on_indexed = lambda ids: invalidate(cache.indexed_tags(ids))
        # Load the comment screening model now rather than on the first reader's comment.
        await asyncio.to_thread(screening.warm_up)
        stop_people = asyncio.Event()
        people_task = None
        if owns_engine and settings.people_worker:
            app.state.services.people = PeopleWorker(app.state.engine)
            if result_cache is not None:
                app.state.services.people.on_change = lambda changed: invalidate(
                    cache.tags_for(changed)
                )
            people_task = asyncio.create_task(app.state.services.people.run(stop_people))
        stop_related = asyncio.Event()
        related_tasks = _start_related(app, settings, related, owns_engine, stop_related)
        try:
            yield
        finally:
            stop_people.set()
            if people_task is not None:
                await people_task
            await _stop_related(app, related_tasks, stop_related)
            if owns_search and service is not None:
                await service.close()
            elif service is not None:
                service.worker.on_indexed = None
            if result_cache is not None:
                await result_cache.close()
            await app.state.services.limits.close()
            if app.state.read_pool is not None:
                await app.state.read_pool.close()
            if owns_engine:
                await app.state.engine.dispose()

    limits = Limits(
        max_depth=settings.max_query_depth,
        max_aliases=settings.max_query_aliases,
        max_fields=settings.max_query_fields,
        max_cost=settings.max_query_cost,
        max_tokens=settings.max_query_tokens,
        max_length=settings.max_query_length,
        max_variable_values=settings.max_variable_values,
    )
    graphql = GraphQLApp(
        build_schema(limits), limits, graphql_ide="graphiql", allow_queries_via_get=True
    )
    routes = [
        # Every method reaches GraphQLApp, which refuses all but GET and POST in JSON.
        Route("/graphql", graphql),
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", observability.metrics),
        *site.routes,
        *graphiql.routes,
    ]
    # Serving for real (its own engine), the app keeps what start-up loaded out of the collector.
    app = Starlette(routes=routes, lifespan=_frozen(lifespan) if engine is None else lifespan)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(ReaderCORS, allow_origins=settings.cors_allow_origins.split(","))
    return app


def _start_related(
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


async def _stop_related(
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


def _open_result_cache(settings: Settings) -> ResultCache | None:
    if not settings.result_cache:
        return None
    # Worker processes of one server without Redis tell each other of writes through a file.
    shared = settings.data_dir / "result-cache.generation" if settings.workers > 1 else None
    return open_cache(
        settings.redis_url,
        max_entries=settings.result_cache_entries,
        max_bytes=settings.result_cache_bytes,
        ttl_seconds=settings.result_cache_ttl,
        shared_path=shared,
    )


async def _open_search(settings: Settings, engine: AsyncEngine) -> SearchService | None:
    try:
        service = await open_search(settings, engine)
    except SearchError as exc:
        logger.error("search is off, answers are degraded: %s", exc)
        return None
    await service.prepare()
    if settings.search_worker:
        service.start_worker()
    return service
