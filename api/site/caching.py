"""Pages, feeds and sitemaps cached exactly as GraphQL answers are (api/cache.py): by what they
read, dropped by the writes that change it, stored only when nothing moved meanwhile.

A rendered page records the same tags as the queries it ran (the resolvers and the compiled path
record them as they read), so publishing a story drops the home page, the story's section, its
feeds and the sitemaps at the moment it drops the GraphQL answers. Only complete answers (200)
are stored: a 404 or a 410 is computed each time, so a "not found" can never outlive a publish.

Every stored version gets a `Last-Modified` second from the cache (`ResultCache.stamp`): the one
its content already had, else the second it was made or one more than the previous content's
when that is not earlier, so two contents never share one and `If-Modified-Since` can be
answered with a `304` safely (a time read off the content could not: a story leaving a feed does
not move its newest item). It is sent hit or miss alike, because the stored body keeps it in a
short envelope in front (`_seal`), which costs no second lookup. A version that is not stored
(volatile, or computed while a write committed) is sent with its ETag alone.
"""

from __future__ import annotations

import gzip
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from functools import lru_cache

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Scope, Send

from api import cache
from api.cache import Entry
from api.operations import etag_matches, site_of
from api.services import Services
from api.settings import Settings

# The wall clock, in seconds; tests set it to make versions within one second.
_clock = time.time


@dataclass(frozen=True)
class Rendered:
    body: bytes
    status: int = 200


def cache_key(request: Request, settings: Settings) -> str:
    """By path and query string (`/search?q=a&topic=b` and `?topic=b&q=a` are one page), and by
    Host when PUBLIC_BASE_URL is unset: links are then built from it, and a request with a
    forged Host must never have its links served to other readers."""
    query = "&".join(sorted(request.url.query.split("&"))) if request.url.query else ""
    site = site_of(settings, request.headers.get("host")).decode("latin-1")
    return f"site:{site}:{request.url.path}?{query}"


async def serve(
    request: Request,
    produce: Callable[[], Awaitable[Rendered]],
    *,
    media_type: str,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """The cached body for this request, or `produce`'s, stored when it is complete."""
    services: Services = request.app.state.services
    store = services.cache
    key, epoch = cache_key(request, services.settings), 0
    if store is not None:
        entry, epoch = await store.get(key)
        if entry is not None:
            return _answer(request, services, entry, media_type, headers, hit=True)
    reads = cache.collect()
    rendered = await produce()
    if rendered.status != 200:
        response = Response(rendered.body, rendered.status, headers, media_type)
        response.headers["Cache-Control"] = "no-store"
        return response
    # Dated only when stored: a version computed while a write committed (its put refused) or
    # one never stored (volatile) goes out with its ETag alone, so no stale version can hold a
    # date that a later stored one would match, and dates do not run ahead of the clock.
    plain = Entry.of(rendered.body)  # its ETag is the content's digest, which the date follows
    if store is not None and cache.VOLATILE not in reads:
        stamp = await store.stamp(key, plain.etag, int(_clock()))
        made = Entry.of(_seal(rendered.body, stamp))
        if await store.put(key, made, reads, epoch):
            known: KnownPages = request.app.state.known_pages
            known.remember(key, media_type, headers or {})
            return _answer(request, services, made, media_type, headers, hit=False)
    return _answer(request, services, plain, media_type, headers, hit=False)


class KnownPages:
    """The pages, feeds and sitemaps this process stored, by cache key, with how each is sent:
    a GET for one is answered at the door (api/doorway.py), before Starlette routes it,
    gzips it or parses its headers (those were about a third of a cached page's time).

    Bounded by count. The compressed body is kept beside the kind, for the one version
    (ETag) last sent, so that a hit is compressed once, not per reader.
    """

    # Starlette's GZipMiddleware, which the routes use: the same threshold and level.
    MINIMUM_SIZE = 500
    LEVEL = 9

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._kinds: OrderedDict[str, tuple[str, Mapping[str, str]]] = OrderedDict()
        self._compressed: OrderedDict[str, tuple[str, bytes]] = OrderedDict()

    def remember(self, key: str, media_type: str, headers: Mapping[str, str]) -> None:
        self._kinds[key] = (media_type, headers)
        self._kinds.move_to_end(key)
        if len(self._kinds) > self.max_entries:
            dropped, _ = self._kinds.popitem(last=False)
            self._compressed.pop(dropped, None)

    async def answer(self, services: Services, scope: Scope, send: Send) -> bool:
        """Send the stored answer to this GET if there is one; False sends nothing."""
        store = services.cache
        request = Request(scope)
        if store is None or "origin" in request.headers:
            return False  # a foreign page's request gets its CORS headers the whole way
        key = cache_key(request, services.settings)
        kind = self._kinds.get(key)
        if kind is None:
            return False
        entry, _ = await store.get(key)
        if entry is None:
            return False
        media_type, headers = kind
        response = _answer(request, services, entry, media_type, headers, hit=True)
        body = response.body
        if (
            response.status_code == 200
            and len(body) >= self.MINIMUM_SIZE
            and "gzip" in request.headers.get("accept-encoding", "")
        ):
            response.body = self._gzipped(key, entry.etag, bytes(body))
            response.headers["Content-Encoding"] = "gzip"
            response.headers["Content-Length"] = str(len(response.body))
        # As GZipMiddleware says whether it compressed or not: the answer varies by it.
        response.headers.add_vary_header("Accept-Encoding")
        await response(scope, _nothing, send)
        return True

    def _gzipped(self, key: str, etag: str, body: bytes) -> bytes:
        found = self._compressed.get(key)
        if found is not None and found[0] == etag:
            return found[1]
        packed = gzip.compress(body, compresslevel=self.LEVEL)
        self._compressed[key] = (etag, packed)
        if len(self._compressed) > self.max_entries:
            self._compressed.popitem(last=False)
        return packed


async def _nothing() -> Message:
    return {"type": "http.request", "body": b""}


# No HTML, XML or text body starts with a NUL: a stored body that does is sealed.
_SEAL = b"\0last-modified "


def _seal(body: bytes, stamp: int | None) -> bytes:
    if stamp is None:
        return body
    return _SEAL + str(stamp).encode() + b"\n" + body


def _unseal(stored: bytes) -> tuple[bytes, int | None]:
    """The body and its Last-Modified second, if it was stored with one (an envelope an
    earlier release wrote, holding an HTTP date, gives the body without it)."""
    if not stored.startswith(_SEAL):
        return stored, None
    stamp, _, body = stored[len(_SEAL) :].partition(b"\n")
    return body, int(stamp) if stamp.isdigit() else None


@lru_cache(maxsize=1024)
def _http_date(stamp: int) -> str:
    return format_datetime(datetime.fromtimestamp(stamp, UTC), usegmt=True)


def _not_modified_since(request: Request, stamp: int) -> bool:
    """If-Modified-Since names this version's second or a later one. Ignored beside
    If-None-Match, as RFC 9110 says, and when it is not a date."""
    given = request.headers.get("if-modified-since")
    if not given or "if-none-match" in request.headers:
        return False
    try:
        since = parsedate_to_datetime(given)
    except (TypeError, ValueError):
        return False
    if since.tzinfo is None:  # "-0000": a time zone not given; HTTP dates are GMT
        since = since.replace(tzinfo=UTC)
    return stamp <= since.timestamp()


def _answer(
    request: Request,
    services: Services,
    entry: Entry,
    media_type: str,
    headers: Mapping[str, str] | None,
    *,
    hit: bool,
) -> Response:
    body, stamp = _unseal(entry.body)
    given = {
        **(headers or {}),
        "ETag": entry.etag,
        "Cache-Control": f"public, max-age={services.settings.http_max_age}",
        "X-Cache": "HIT" if hit else "MISS",
    }
    if stamp is not None and stamp > _clock():
        stamp = None  # a key changed more than once a second: dated once the clock is there
    if stamp is not None:
        given["Last-Modified"] = _http_date(stamp)
    if etag_matches(request, entry.etag) or (
        stamp is not None and _not_modified_since(request, stamp)
    ):
        return Response(status_code=304, headers=given)
    return Response(body, headers=given, media_type=media_type)
