"""Strawberry's ASGI view with our context, JSON codec, body checks and error format: the
resolvers' path of a GraphQL request (api/pipeline.py decides when it runs)."""

from __future__ import annotations

import re
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.types import ExecutionResult

from api import graphiql, urls
from api.context import Context
from api.errors import format_error
from api.request_state import state_of
from models.token import identify

GRAPHQL_RESPONSE = "application/graphql-response+json"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class GraphQLView(GraphQL[Context, None]):
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

    def encode_json(self, data: object) -> bytes:
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

    async def render_graphql_ide(self, request: Request) -> Response:
        # Our own page, served with its files from this origin under a strict CSP (api/graphiql).
        return await graphiql.page(request)

    async def get_context(self, request: Request, response: Any) -> Context:  # type: ignore[override]
        services = request.app.state.services
        context = Context.create(
            request.app.state.engine,
            services.search.client if services.search else None,
            given_request_id(request),
        )
        context.services = services
        context.client_address = client_address(request)
        context.base_url = urls.base_url(request, services.settings)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            async with context.engine.connect() as conn:
                context.viewer = await identify(conn, token.strip())
            context.bad_token = context.viewer is None
        response.headers["X-Request-ID"] = context.request_id
        state_of(request).context = context
        return context

    async def execute_single(
        self, request: Any, request_adapter: Any, *args: Any, **kwargs: Any
    ) -> Any:
        persisted = state_of(request).persisted_query
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

    async def process_result(
        self, request: Request, result: ExecutionResult
    ) -> GraphQLHTTPResponse:
        state = state_of(request)
        body: GraphQLHTTPResponse = {"data": result.data}
        state.failed = bool(result.errors)
        # Errors before execution (parse, validation, variables) carry no path.
        state.not_executed = (
            bool(result.errors)
            and result.data is None
            and all(e.path is None for e in result.errors or ())
        )
        if state.not_executed and GRAPHQL_RESPONSE in request.headers.get("accept", ""):
            # GraphQL over HTTP: a request that never ran has no `data` entry at all (plain
            # application/json keeps Strawberry's `"data": null`, which clients rely on).
            del body["data"]
        if result.errors:
            document = getattr(state.context, "document", None)
            request_id = state.context.request_id if state.context is not None else "-"
            errors = [format_error(e, document, request_id) for e in result.errors]
            state.error_codes = [e["extensions"].get("code", "") for e in errors]
            body["errors"] = [*errors]  # Strawberry's TypedDict types them as list[object]
        if result.extensions:
            body["extensions"] = result.extensions
        return body


def given_request_id(request: Request) -> str | None:
    """The client's X-Request-ID, when it is one we can safely log and echo."""
    return valid_request_id(request.headers.get("x-request-id", ""))


def valid_request_id(given: str) -> str | None:
    return given if _REQUEST_ID.match(given) else None


def client_address(request: Request) -> str:
    # uvicorn has already taken it from X-Forwarded-For when the proxy is trusted.
    return request.client.host if request.client else "unknown"
