"""Known answers at the door: a reader's POST whose body the pipeline has seen before and whose
answer the result cache holds is answered before Starlette's middleware and router run.

A news site's traffic is mostly the same pages asked for again, so most requests are such hits,
and profiled (docs/performance.md) the layers a hit went through on its way to the cache lookup
(Starlette's error and exception middleware, the router, the body limit, the CORS wrapper, the
pipeline's own steps) took about a third of its time. Here a hit costs what it must: the rate
limit, reading the body, one digest, one cache lookup, the answer and its metrics.

Everything else goes the whole way (api/pipeline.py), with the body already read handed on: any
other method or path, a token, an `Origin` (its CORS headers are api/cors.py's), a body without a
Content-Length or over MAX_BODY_BYTES, a body not seen before, a cache miss, a refusal. The
answer is the pipeline's own `cached_response`, so a hit has the same bytes and headers whichever
way it went (tests/api/test_doorway.py).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send

from api import observability
from api.cache import Entry
from api.operations import site_of
from api.pipeline import cached_headers, cached_response, negotiate
from api.request_state import state_of
from api.settings import Settings
from api.view import GRAPHQL_RESPONSE, client_address, valid_request_id

if TYPE_CHECKING:
    from api.pipeline import Pipeline
    from api.services import Services
    from api.site.caching import KnownPages

logger = logging.getLogger("newsroom.api")

# Headers that send a request the whole way: a token (editors are never served from the cache)
# and an Origin (the CORS headers are added by api/cors.py).
_ONWARD = frozenset({b"authorization", b"origin"})
_TYPED = GRAPHQL_RESPONSE.encode()


class Doorway:
    def __init__(
        self, pipeline: Pipeline, pages: KnownPages, path: str, max_body_bytes: int
    ) -> None:
        self.pipeline = pipeline
        self.pages = pages
        self.path = path
        self.max_body_bytes = max_body_bytes

    async def __call__(
        self, services: Services | None, scope: Scope, receive: Receive, send: Send
    ) -> Receive | None:
        """Answer a known hit and return None; otherwise return the `receive` the whole way
        must read the request from (it first replays what was read here)."""
        if services is None or services.cache is None or scope["type"] != "http":
            return receive
        if scope["method"] == "GET" and scope["path"] != self.path:
            # A reader site's page, feed or sitemap this process stored (api/site/caching.py).
            answered = await self.pages.answer(services, scope, send)
            return None if answered else receive
        if scope["method"] != "POST" or scope["path"] != self.path:
            return receive
        declared = host = None
        plain = True  # not asking for GraphQL over HTTP's media type (negotiate's to answer)
        request_id = ""
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value
            elif name == b"host":
                host = value
            elif name in _ONWARD:
                return receive
            elif name == b"x-request-id" and not request_id:  # the first, as Starlette reads
                request_id = value.decode("latin-1")
            elif name == b"accept" and _TYPED in value:
                plain = False
        # A length that is not a short number is body_limit.py's to refuse (int() of 5,000
        # digits would raise).
        if (
            declared is None
            or not declared.isdigit()
            or len(declared) > 18
            or int(declared) > self.max_body_bytes
        ):
            return receive
        messages: list[Message] = []
        onward = _replaying(messages, receive)
        body = await _read(messages, receive)
        if body is None:
            return onward
        started = time.perf_counter()
        request = Request(scope, onward)
        state = state_of(scope)
        if services.rate_limits.counts("request"):
            address = client_address(request)
            if await services.rate_limits.retry_after("request", address) is not None:
                # The pipeline refuses it (not counted twice: a refused request takes no slot).
                return onward
        state.rate_counted = True
        known = self.pipeline.known.get(body, site_of(services.settings, host))
        if known is None:
            return onward
        key, operation_name = known
        entry, _ = await services.cache.get(key)
        if entry is None:
            return onward
        if plain:
            # Most hits: the answer's bytes and headers as `cached_response` gives them, sent
            # without building a Response and reading its headers back (a fifth of a hit).
            request_id = valid_request_id(request_id) or observability.new_request_id()
            await _send(send, services.settings, entry, request_id)
            observability.count(operation_name, [], 200, "HIT", request_id, started)
            return None
        response = cached_response(request, services.settings, entry, hit=True)
        negotiate(request, response, state)
        observability.record(request, operation_name, [], response, started)
        await response(scope, onward, send)
        return None


async def _send(send: Send, settings: Settings, entry: Entry, request_id: str) -> None:
    headers = cached_headers(settings, entry, request_id, hit=True)
    # In the order Starlette's Response sends them, so either way gives the same bytes.
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
    raw.append((b"content-length", str(len(entry.body)).encode()))
    raw.append((b"content-type", b"application/json"))
    await send({"type": "http.response.start", "status": 200, "headers": raw})
    await send({"type": "http.response.body", "body": entry.body})


async def _read(messages: list[Message], receive: Receive) -> bytes | None:
    """The whole body, keeping every message for the replay; None if the client went away."""
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return None
        if not message.get("more_body", False):
            break
    if len(messages) == 1:
        return bytes(messages[0].get("body", b""))
    return b"".join(m.get("body", b"") for m in messages)


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    async def replay() -> Message:
        if messages:
            return messages.pop(0)
        return await receive()

    return replay
