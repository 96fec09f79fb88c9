"""Cross-origin rules for /graphql: anyone may read, only the newsroom's own sites may write.

Reader queries are public and carry no credentials, so any page may fetch them (the related
stories widget is embedded on other sites): those answers say `Access-Control-Allow-Origin: *`.
Requests with credentials, and mutations, are accepted only from the same origin or from
CORS_ALLOW_ORIGINS. A browser would not send `Authorization` to a foreign origin whose preflight
refused it; the server refuses it too, and refuses mutations from foreign origins, because a
preflight is only a browser's courtesy.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.request_state import state_of

PREFLIGHT_MAX_AGE = "600"


class ReaderCORS:
    def __init__(self, app: ASGIApp, allow_origins: Iterable[str]) -> None:
        self.app = app
        self.allow_origins = {origin.rstrip("/") for origin in allow_origins if origin}

    def trusted(self, scope: Scope, origin: str) -> bool:
        headers = Headers(scope=scope)
        own = f"{scope.get('scheme', 'http')}://{headers.get('host', '')}"
        return origin == own or origin in self.allow_origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        trusted = self.trusted(scope, origin.rstrip("/"))
        # The GraphQL view refuses mutations and credentials from an untrusted origin.
        state_of(scope).foreign_origin = not trusted
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(origin, trusted)(scope, receive, send)
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_headers = MutableHeaders(scope=message)
                _allow(response_headers, origin, trusted)
            await send(message)

        await self.app(scope, receive, with_cors)

    def _preflight(self, origin: str, trusted: bool) -> Response:
        response = Response(status_code=204)
        _allow(response.headers, origin, trusted)
        response.headers["Access-Control-Allow-Methods"] = "GET, POST"
        allowed = "Authorization, Content-Type" if trusted else "Content-Type"
        response.headers["Access-Control-Allow-Headers"] = allowed
        response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
        return response


def _allow(headers: MutableHeaders, origin: str, trusted: bool) -> None:
    if trusted:
        headers["Access-Control-Allow-Origin"] = origin
        headers["Access-Control-Allow-Credentials"] = "true"
        headers.add_vary_header("Origin")
    else:
        headers["Access-Control-Allow-Origin"] = "*"
    headers["Access-Control-Expose-Headers"] = "ETag, X-Request-ID, X-Cache"
