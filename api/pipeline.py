"""A GraphQL request, step by step, in the order it takes them.

1. Only GET and POST.
2. The address's request rate (REQUEST_RATE_LIMIT), before anything is read.
3. A body seen before goes straight to its result-cache lookup (`operations.KnownBodies`); a
   reader's hit without an Origin was usually answered at the door already (api/doorway.py).
4. The operation is read (`operations.read_operation`) and held to the size limits before its
   text is hashed, stored or parsed (`limits.check_request`).
5. An automatic persisted query's text is found or registered.
6. Another site's page may read, not write nor send credentials (api/cors.py marks it).
7. A reader's query is answered from the result cache, or computed and stored.
8. Computing runs within REQUEST_TIME_LIMIT: one compiled statement (api/compiled) when it
   covers the query, else Strawberry's resolvers (api/view.py).
9. GraphQL over HTTP: its own media type, and 400 for a request that never ran.
10. The answer is counted, timed and logged (api/observability.py).

Every refusal on the way is JSON with one error and its code.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson
from cross_web import HTTPException
from graphql import OperationType
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from api import cache, compiled, observability, operations
from api.cache import Entry
from api.errors import ErrorCode, QueryTooLarge, unavailable
from api.query_limits import Limits, check_request
from api.request_state import RequestState, state_of
from api.services import Services
from api.settings import Settings
from api.view import GRAPHQL_RESPONSE, GraphQLView, client_address, given_request_id

logger = logging.getLogger("newsroom.api")


class Pipeline:
    """The /graphql endpoint: the steps above around Strawberry's view."""

    def __init__(self, view: GraphQLView, limits: Limits) -> None:
        self.view = view
        self.limits = limits
        # Bodies already read once, by digest: readers' pages send the same few bodies again
        # and again, and a known one goes straight to the cache lookup, without decoding the
        # JSON, checking the limits, normalising the document and building its key (a tenth of
        # a cached answer's time). A miss takes the whole path, as every body the first time.
        self.known = operations.KnownBodies()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.view(scope, receive, send)
            return
        request = Request(scope, receive)
        response = await self.handle(request)
        await response(scope, receive, send)

    async def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        state = state_of(request)
        try:
            if request.method not in ("GET", "POST"):
                raise HTTPException(405, "GraphQL is served over GET and POST only")
            response = await self._answer(request, state)
        except HTTPException as exc:
            # Strawberry's refusal of a request that never became an operation (malformed
            # JSON, wrong content type, a batch, a mutation over GET): JSON like every answer.
            response = Refusal(exc.reason, ErrorCode.BAD_REQUEST, exc.status_code)
            if exc.status_code == 405:
                response.headers["Allow"] = "POST" if request.method == "GET" else "GET, POST"
        except ClientDisconnect:
            # Gone before its body arrived: no one reads this, but the access log does (and an
            # unhandled exception would log a traceback per dropped connection).
            response = Refusal("The client went away mid-request", ErrorCode.BAD_REQUEST, 400)
        if isinstance(response, Refusal):
            state.error_codes = [response.code]
        negotiate(request, response, state)
        observability.record(request, state.operation_name, state.error_codes, response, started)
        return response

    async def _answer(self, request: Request, state: RequestState) -> Response:
        services: Services = request.app.state.services
        wait = None
        if not state.rate_counted:
            wait = await services.rate_limits.retry_after("request", client_address(request))
        if wait is not None:
            message = f"Too many requests from this address; retry in {wait} s"
            limited = Refusal(message, ErrorCode.RATE_LIMITED, 429, retryAfterSeconds=wait)
            limited.headers["Retry-After"] = str(wait)
            return limited
        if _is_upload(request):
            return await self._upload(request, state)
        body = await request.body()
        known = self._known(request, services, body)
        if known is not None and services.cache is not None:
            key, state.operation_name = known
            entry, _ = await services.cache.get(key)
            if entry is not None:
                return cached_response(request, services.settings, entry, hit=True)
        try:
            operation = operations.read_operation(request, body)
        except operations.NotAnOperation:
            # Strawberry refuses it with 400, having read no variables and parsed no document.
            return await self._execute(request, state)
        state.operation_name = operation.operation_name
        state.operation = operation
        try:
            # Before the text is hashed, stored as a persisted query or parsed, and before the
            # variables are serialised for the cache key or coerced.
            check_request(operation.query, operation.variables, self.limits)
        except QueryTooLarge as exc:
            state.not_executed = True
            return Refusal(exc.message, exc.code, **exc.extensions)
        query = operation.query
        if operation.persisted_hash is not None and services.persisted is not None:
            refused, query = await _persisted(services.persisted, operation)
            if refused is not None:
                return refused
            state.persisted_query = query
        if state.foreign_origin and query:
            refused = _foreign(request, query, operation.operation_name, self.limits)
            if refused is not None:
                return refused
        digest = None
        if services.cache is not None and query and "authorization" not in request.headers:
            digest = operations.normalized(query, operation.operation_name, self.limits)
        if digest is None:
            response = await self._execute(request, state)
            response.headers.setdefault("Cache-Control", "no-store")
            return response
        site = operations.site_of(services.settings, request.headers.get("host"))
        key = operations.cache_key(digest, operation, site=site)
        if request.method == "POST":
            self.known.remember(body, (key, operation.operation_name), site)
        return await self._cached(request, state, services, key)

    async def _upload(self, request: Request, state: RequestState) -> Response:
        """An upload (the GraphQL multipart request spec, `uploadImage`): a mutation with a
        file, which Strawberry reads from the form, never cached. Another site's page may not
        send one, as it may send no mutation (api/cors.py)."""
        if state.foreign_origin:
            reason = "uploads are only accepted from the site's own origins (CORS_ALLOW_ORIGINS)"
            return Refusal(reason, ErrorCode.FORBIDDEN, 403)
        try:
            response = await self._execute(request, state)
        except StarletteHTTPException as exc:
            # Starlette's form parser refuses a body that is not multipart; JSON like every
            # refusal (left alone, Starlette would answer it in plain text).
            response = Refusal(exc.detail, ErrorCode.BAD_REQUEST, exc.status_code)
        finally:
            await request.close()  # the form's files (spooled to disk past 1 MB)
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    def _known(
        self, request: Request, services: Services, body: bytes
    ) -> tuple[str, str | None] | None:
        """The cache key an identical body was given before, if it may be served from the
        cache: a reader's POST, without a token."""
        if services.cache is None or request.method != "POST" or "authorization" in request.headers:
            return None
        return self.known.get(
            body, operations.site_of(services.settings, request.headers.get("host"))
        )

    async def _cached(
        self, request: Request, state: RequestState, services: Services, key: str
    ) -> Response:
        assert services.cache is not None
        entry, epoch = await services.cache.get(key)
        if entry is not None:
            return cached_response(request, services.settings, entry, hit=True)
        reads = cache.collect()
        response = await self._execute(request, state)
        if response.status_code != 200 or state.failed or cache.VOLATILE in reads:
            response.headers.setdefault("Cache-Control", "no-store")
            return response
        entry = Entry.of(bytes(response.body))
        await services.cache.put(key, entry, reads, epoch)
        return cached_response(request, services.settings, entry, hit=False, sent=response)

    async def _execute(self, request: Request, state: RequestState) -> Response:
        """Run the operation within REQUEST_TIME_LIMIT: runaway work ends with a clear error,
        and a write cut short rolls back (its transaction never commits)."""
        limit = request.app.state.services.settings.request_time_limit
        try:
            async with asyncio.timeout(limit):
                answered = await self._compiled(request, state)
                return answered if answered is not None else await self.view.run(request)
        except TimeoutError:
            message = f"The request took longer than {limit:g} s and was stopped; nothing changed"
            return Refusal(message, ErrorCode.SERVICE_UNAVAILABLE, 503)
        except Exception as exc:
            # Before any resolver runs (the token lookup), a lost database is still a 503.
            if not unavailable(exc):
                raise
            logger.warning("database unavailable before execution: %s", exc)
            message = "The database is unavailable; retry shortly"
            return Refusal(message, ErrorCode.SERVICE_UNAVAILABLE, 503)

    async def _compiled(self, request: Request, state: RequestState) -> Response | None:
        """The answer from one compiled statement (api/compiled), or None when the query
        takes the resolvers' path: editors (a token), mutations, what the compiler does not
        cover, SQLite, COMPILED_QUERIES=false."""
        operation = state.operation
        pool = request.app.state.read_pool
        if operation is None or pool is None or "authorization" in request.headers:
            return None
        query = state.persisted_query or operation.query
        if not query:
            return None
        services: Services = request.app.state.services
        answer = await compiled.answer(
            self.view.schema,
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
        state.failed = False
        state.not_executed = False
        response = Response(body, media_type="application/json")
        response.headers["X-Request-ID"] = (
            given_request_id(request) or observability.new_request_id()
        )
        return response


def _is_upload(request: Request) -> bool:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return request.method == "POST" and content_type == "multipart/form-data"


async def _persisted(
    store: operations.PersistedQueries, operation: operations.Operation
) -> tuple[Response | None, str | None]:
    """Resolve an automatic persisted query: the text for a known hash, or a refusal that tells
    the client what to send."""
    digest = operation.persisted_hash
    assert digest is not None
    if operation.query is None:
        query = await store.get(digest)
        if query is None:
            return Refusal("PersistedQueryNotFound", ErrorCode.PERSISTED_QUERY_NOT_FOUND), None
        return None, query
    if operations.query_hash(operation.query) != digest:
        message = "persistedQuery.sha256Hash is not the SHA-256 of the query text"
        return Refusal(message, ErrorCode.BAD_USER_INPUT), None
    await store.put(digest, operation.query)
    return None, operation.query


def _foreign(
    request: Request, query: str, operation_name: str | None, limits: Limits
) -> Response | None:
    """Another site's page may read; it may not write nor send credentials (see api/cors.py)."""
    described = operations.describe(query, operation_name, limits)
    if "authorization" in request.headers:
        reason = "credentials are only accepted from the site's own origins"
    elif described is not None and described[0] is OperationType.MUTATION:
        reason = "mutations are only accepted from the site's own origins"
    else:
        return None
    return Refusal(f"{reason} (CORS_ALLOW_ORIGINS)", ErrorCode.FORBIDDEN, 403)


class Refusal(Response):
    """An answer given before GraphQL ran: one error, with its code kept for the access log."""

    def __init__(self, message: str, code: str, status_code: int = 200, **extensions: Any) -> None:
        body = {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}
        super().__init__(orjson.dumps(body), status_code, media_type="application/json")
        self.code = code


def negotiate(request: Request, response: Response, state: RequestState) -> None:
    """GraphQL over HTTP: asked for its own media type, the answer has it, and a request that
    could not run at all (it did not parse or validate) is a 400, not a 200 with errors."""
    if GRAPHQL_RESPONSE in request.headers.get("accept", ""):
        response.headers["content-type"] = f"{GRAPHQL_RESPONSE}; charset=utf-8"
        if state.not_executed and response.status_code == 200:
            response.status_code = 400


def cached_response(
    request: Request, settings: Settings, entry: Entry, *, hit: bool, sent: Response | None = None
) -> Response:
    # A miss keeps the id its execution logged under; a hit gets the client's, or a new one.
    request_id = sent.headers.get("x-request-id") if sent is not None else None
    request_id = request_id or given_request_id(request) or observability.new_request_id()
    headers = cached_headers(settings, entry, request_id, hit=hit)
    if request.method == "GET" and operations.etag_matches(request, entry.etag):
        return Response(status_code=304, headers=headers)
    return Response(entry.body, media_type="application/json", headers=headers)


def cached_headers(
    settings: Settings, entry: Entry, request_id: str, *, hit: bool
) -> dict[str, str]:
    """A cached answer's headers, as both ways to it send them (api/doorway.py builds the
    same ones for a plain hit without a Response)."""
    return {
        "ETag": entry.etag,
        "Cache-Control": f"public, max-age={settings.http_max_age}",
        "Vary": "Accept, Authorization",
        "X-Cache": "HIT" if hit else "MISS",
        "X-Request-ID": request_id,
    }
