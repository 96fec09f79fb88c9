"""Reading a GraphQL request for caching: persisted queries, the result-cache key, ETags.

Everything here runs before Strawberry sees the request, so that a cached answer costs a
dictionary (or Redis) lookup and nothing else.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

import orjson
from graphql import GraphQLError, OperationDefinitionNode, OperationType, print_ast
from redis.asyncio import Redis
from redis.exceptions import RedisError
from starlette.requests import Request

from api.errors import QueryTooLarge
from api.query_limits import Limits, parse_document
from api.settings import Settings

READER = "reader"


@dataclass(frozen=True, slots=True)
class Operation:
    query: str | None
    variables: dict[str, Any]
    operation_name: str | None
    persisted_hash: str | None


class NotAnOperation(ValueError):
    """The request is not one JSON operation (a batch, a form, broken JSON): Strawberry answers
    it, with its own errors, uncached."""


def read_operation(request: Request, body: bytes) -> Operation:
    if request.method == "GET":
        params = request.query_params
        try:
            variables = orjson.loads(params["variables"]) if params.get("variables") else None
            extensions = orjson.loads(params["extensions"]) if params.get("extensions") else None
        except orjson.JSONDecodeError as exc:
            raise NotAnOperation from exc
        data: Any = {
            "query": params.get("query"),
            "variables": variables,
            "operationName": params.get("operationName"),
            "extensions": extensions,
        }
    else:
        if "json" not in request.headers.get("content-type", ""):
            raise NotAnOperation
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise NotAnOperation from exc
    if not isinstance(data, dict):
        raise NotAnOperation
    query, variables, name = data.get("query"), data.get("variables"), data.get("operationName")
    extensions = data.get("extensions") or {}
    if not isinstance(query, str | None) or not isinstance(variables, dict | None):
        raise NotAnOperation
    if not isinstance(name, str | None) or not isinstance(extensions, dict):
        raise NotAnOperation
    persisted = extensions.get("persistedQuery")
    digest = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
    return Operation(query, variables or {}, name, digest if isinstance(digest, str) else None)


def normalized(query: str, operation_name: str | None, limits: Limits) -> str | None:
    """A digest of the document as GraphQL prints it (so whitespace and comments don't split
    the cache), or None unless the chosen operation is a query."""
    described = describe(query, operation_name, limits)
    if described is None or described[0] is not OperationType.QUERY:
        return None
    return described[1]


@lru_cache(maxsize=1024)
def describe(
    query: str, operation_name: str | None, limits: Limits
) -> tuple[OperationType, str] | None:
    """The chosen operation's type and the document's digest; None when Strawberry will refuse
    the document anyway (over a size limit, a syntax error, no such operation). Parsed within
    the limits and through the cache Strawberry reads too, so a document is parsed once."""
    try:
        document = parse_document(query, limits).document
    except (GraphQLError, QueryTooLarge):
        return None
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    # Without a name, Strawberry runs the first operation (it names it to graphql-core): the
    # one to describe, or a mutation could hide from the cross-origin check behind a second.
    chosen = [
        op
        for op in operations
        if operation_name is None or (op.name is not None and op.name.value == operation_name)
    ]
    if operation_name is None:
        chosen = chosen[:1]
    if len(chosen) != 1:
        return None
    digest = hashlib.blake2b(print_ast(document).encode(), digest_size=16).hexdigest()
    return chosen[0].operation, digest


def cache_key(
    document_digest: str, operation: Operation, role: str = READER, site: bytes = b""
) -> str:
    """`site`: the Host the answer was asked of, when answers depend on it (`Article.url`
    without PUBLIC_BASE_URL); empty otherwise."""
    variables = orjson.dumps(operation.variables, option=orjson.OPT_SORT_KEYS)
    name = (operation.operation_name or "").encode()
    raw = b"\0".join((role.encode(), document_digest.encode(), name, variables, site))
    return hashlib.blake2b(raw, digest_size=20).hexdigest()


class KnownBodies:
    """Request bodies seen before and what they were found to be (their result-cache key and
    operation name), by a digest of their bytes: bounded by count, whatever the bodies' size."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._known: OrderedDict[bytes, tuple[str, str | None]] = OrderedDict()

    def get(self, body: bytes, site: bytes = b"") -> tuple[str, str | None] | None:
        return self._known.get(_digest(site, body))

    def remember(self, body: bytes, found: tuple[str, str | None], site: bytes = b"") -> None:
        self._known[_digest(site, body)] = found
        if len(self._known) > self.max_entries:
            self._known.popitem(last=False)


def _digest(site: bytes, body: bytes) -> bytes:
    return hashlib.blake2b(site + b"\0" + body, digest_size=16).digest()


def site_of(settings: Settings, host: bytes | str | None) -> bytes:
    """What a cached answer's key must name of the site asked: nothing when PUBLIC_BASE_URL
    fixes every link, else the Host (`Article.url` is built from it)."""
    if settings.public_base_url.strip() or not host:
        return b""
    return host.encode("latin-1") if isinstance(host, str) else host


def query_hash(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def etag_matches(request: Request, etag: str) -> bool:
    given = request.headers.get("if-none-match")
    if not given:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in given.split(",")}
    return "*" in tags or etag in tags


class PersistedQueries:
    """Automatic persisted queries: clients send a hash, and the full text once when it is
    unknown. Kept in Redis when there is one, so every worker knows every hash."""

    def __init__(
        self,
        redis: Redis | None = None,
        max_entries: int = 5_000,
        max_chars: int = 16_000_000,
        ttl_seconds: int = 7 * 24 * 3600,
    ) -> None:
        # Anyone may register a text: entries, characters held here and time kept in Redis are
        # all bounded (each text by MAX_QUERY_LENGTH, checked before it gets here).
        self.redis = redis
        self.max_entries = max_entries
        self.max_chars = max_chars
        self.ttl_seconds = ttl_seconds
        self._local: OrderedDict[str, str] = OrderedDict()
        self._chars = 0

    async def get(self, digest: str) -> str | None:
        query = self._local.get(digest)
        if query is None and self.redis is not None:
            try:
                found = await self.redis.get(f"newsroom:apq:{digest}")
            except RedisError:
                found = None
            if found is not None:
                # redis types replies as bytes | str (for decode_responses); the result cache's
                # client keeps bytes.
                query = cast(bytes, found).decode()
                self._remember(digest, query)
        return query

    async def put(self, digest: str, query: str) -> None:
        self._remember(digest, query)
        if self.redis is not None:
            # On failure this worker still knows it; another will ask the client for the text.
            with contextlib.suppress(RedisError):
                await self.redis.set(f"newsroom:apq:{digest}", query, ex=self.ttl_seconds)

    def _remember(self, digest: str, query: str) -> None:
        previous = self._local.pop(digest, None)
        self._chars -= len(previous or "")
        self._local[digest] = query
        self._chars += len(query)
        while len(self._local) > self.max_entries or self._chars > self.max_chars:
            _, dropped = self._local.popitem(last=False)
            self._chars -= len(dropped)
