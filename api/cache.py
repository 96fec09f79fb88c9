"""The result cache: whole answers to readers' queries, dropped the moment what they read changes.

Each answer is stored with tags naming what it read (`article:12`, `comments:12`, `topic:3`, or
`list` for anything that depends on which stories exist, `search` for what came from the search
engine). A committed write drops every answer tagged with what it changed (`models.changes`), and
the search outbox worker drops `search` answers once Meilisearch holds the new documents.

An answer computed while an invalidation ran may have read the old rows. Both stores keep an
epoch that every invalidation bumps, and an answer is only stored if the epoch did not move
while it was computed: a busy newsroom stores a little less, and no reader ever sees a stale page.

Several worker processes without Redis each keep their own in-process cache, and share one
counter (`SharedGeneration`, a memory-mapped file) that every invalidation bumps: a worker that
sees another's bump drops everything it holds before answering. Coarser than Redis's per-tag
invalidation, exact all the same.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import logging
import mmap
import os
import struct
import time
from collections import OrderedDict
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError

from models.changes import Change, Kind

logger = logging.getLogger("newsroom.cache")

LIST = "list"
SEARCH = "search"
ANY_COMMENT = "comments"
# A read that must not be stored (a degraded search answer, say) adds this tag.
VOLATILE = "volatile"

_reads: ContextVar[set[str] | None] = ContextVar("newsroom_cache_reads", default=None)


def read(*tags: str) -> None:
    """Record what the current request read; a no-op outside a cacheable request."""
    reads = _reads.get()
    if reads is not None:
        reads.update(tags)


def tag(kind: Kind, pk: int) -> str:
    """The tag of one thing a reader can see change: what reads record and writes drop."""
    return f"{kind}:{pk}"


def collect() -> set[str]:
    """Start recording reads for the current request; the set fills as resolvers run."""
    reads: set[str] = set()
    _reads.set(reads)
    return reads


def tags_for(changes: Iterable[Change]) -> set[str]:
    tags: set[str] = set()
    for kind, pk in changes:
        tags.add(tag(kind, pk))
        if kind == "comments":
            tags.add(ANY_COMMENT)
        else:
            # A story published, a topic renamed: lists, counts and searches may all change.
            tags.add(LIST)
    return tags


def indexed_tags(article_ids: Iterable[int]) -> set[str]:
    """What to drop once the search engine holds new documents for these stories. Also covers
    writes made by another process without a shared cache (a `newsroom import`, say)."""
    return {SEARCH, LIST, *(tag("article", pk) for pk in article_ids)}


@dataclass(frozen=True, slots=True)
class Entry:
    body: bytes
    etag: str

    @classmethod
    def of(cls, body: bytes) -> Entry:
        return cls(body, '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"')


class ResultCache(Protocol):
    async def get(self, key: str) -> tuple[Entry | None, int]:
        """The entry, if any, and the epoch to hand back to `put` after computing a miss."""
        ...

    async def put(self, key: str, entry: Entry, tags: set[str], epoch: int) -> bool: ...

    async def invalidate(self, tags: set[str]) -> None: ...

    async def stamp(self, key: str, version: str, at: int) -> int | None:
        """The Last-Modified second of `key`'s answer whose content is `version` (a digest),
        made at second `at`: the stamp it already has if the last one given for `key` was for
        the same content, else `at` or one more than the last stamp when that is not earlier.
        Two contents never share a stamp, even within one second, so an If-Modified-Since
        naming one can be trusted. None where versions cannot be told apart (several workers
        whose caches share only invalidations)."""
        ...

    async def close(self) -> None: ...


class SharedGeneration:
    """A counter that the worker processes of one server share through a memory-mapped file.

    Reading it is a memory load (no system call), so every cache lookup can afford it; bumping
    it takes a file lock for a few microseconds, once per committed write.
    """

    _FORMAT = "<Q"

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        size = struct.calcsize(self._FORMAT)
        if os.fstat(self._fd).st_size < size:
            os.ftruncate(self._fd, size)
        self._map = mmap.mmap(self._fd, size)

    def read(self) -> int:
        value: int = struct.unpack_from(self._FORMAT, self._map)[0]
        return value

    def bump(self) -> int:
        """Add one; answers the new value."""
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            value = self.read() + 1
            struct.pack_into(self._FORMAT, self._map, 0, value)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        return value

    def close(self) -> None:
        self._map.close()
        os.close(self._fd)


class LocalResultCache:
    """In-process LRU: the default for one worker. Several workers on one machine share a
    `SharedGeneration`; several machines need `RedisResultCache`."""

    def __init__(
        self,
        max_entries: int = 10_000,
        ttl_seconds: float = 3600.0,
        max_bytes: int = 64_000_000,
        shared: SharedGeneration | None = None,
    ) -> None:
        # Both bounds: answers range from a few hundred bytes to hundreds of kilobytes, so a
        # count alone would let memory grow with the size of what readers ask for.
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.ttl_seconds = ttl_seconds
        self._bytes = 0
        self._entries: OrderedDict[str, tuple[Entry, float, frozenset[str]]] = OrderedDict()
        self._tagged: dict[str, set[str]] = {}
        self._epoch = 0
        self._shared = shared
        self._seen = shared.read() if shared is not None else 0
        self._stamps: OrderedDict[str, tuple[str, int]] = OrderedDict()

    def _catch_up(self) -> None:
        """Another worker committed a write: what it changed is unknown here, so drop all."""
        if self._shared is None:
            return
        now = self._shared.read()
        if now != self._seen:
            self._seen = now
            self._epoch += 1
            self._clear()

    async def get(self, key: str) -> tuple[Entry | None, int]:
        self._catch_up()
        found = self._entries.get(key)
        if found is None:
            return None, self._epoch
        if found[1] < time.monotonic():
            self._drop(key)
            return None, self._epoch
        self._entries.move_to_end(key)
        return found[0], self._epoch

    async def put(self, key: str, entry: Entry, tags: set[str], epoch: int) -> bool:
        self._catch_up()
        if epoch != self._epoch:
            return False
        self._drop(key)
        self._entries[key] = (entry, time.monotonic() + self.ttl_seconds, frozenset(tags))
        self._bytes += len(entry.body)
        for tag in tags:
            self._tagged.setdefault(tag, set()).add(key)
        while len(self._entries) > self.max_entries or self._bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))
        return True

    async def invalidate(self, tags: set[str]) -> None:
        self._epoch += 1
        for tag in tags:
            for key in self._tagged.pop(tag, ()):
                self._drop(key)
        # Only this bump since the last look: nothing of another worker's to catch up on.
        if self._shared is not None and self._shared.bump() == self._seen + 1:
            self._seen += 1

    async def stamp(self, key: str, version: str, at: int) -> int | None:
        if self._shared is not None:
            return None  # another worker may stamp a version of this key in the same second
        last, stamped = self._stamps.pop(key, ("", at - 1))
        given = stamped if last == version else max(at, stamped + 1)
        self._stamps[key] = (version, given)
        # Bounded: a key forgotten was stamped before the many keys stamped since (its answer
        # is not served with a date ahead of the clock, so any new stamp is not earlier).
        if len(self._stamps) > self.max_entries:
            self._stamps.popitem(last=False)
        return given

    def _drop(self, key: str) -> None:
        found = self._entries.pop(key, None)
        if found is None:
            return
        self._bytes -= len(found[0].body)
        for tag in found[2]:
            keys = self._tagged.get(tag)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._tagged[tag]

    def _clear(self) -> None:
        self._entries.clear()
        self._tagged.clear()
        self._bytes = 0

    async def close(self) -> None:
        self._clear()
        if self._shared is not None:
            self._shared.close()


# Store only if no invalidation ran since the miss began (KEYS: epoch, entry, tag sets).
_PUT = """
if (tonumber(redis.call('GET', KEYS[1]) or '0') ~= tonumber(ARGV[1])) then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
for i = 3, #KEYS do
  redis.call('SADD', KEYS[i], KEYS[2])
  redis.call('EXPIRE', KEYS[i], ARGV[3], 'GT')
  if redis.call('TTL', KEYS[i]) < 0 then redis.call('EXPIRE', KEYS[i], ARGV[3]) end
end
return 1
"""

# Bump the epoch first, so that a miss computed before this point cannot be stored after it.
_INVALIDATE = """
redis.call('INCR', KEYS[1])
for i = 2, #KEYS do
  local keys = redis.call('SMEMBERS', KEYS[i])
  for j = 1, #keys, 500 do
    redis.call('DEL', unpack(keys, j, math.min(j + 499, #keys)))
  end
  redis.call('DEL', KEYS[i])
end
return 1
"""


# The Last-Modified second of a key's content (KEYS: its stamp; ARGV: the content's digest,
# this second, lifetime): the same content keeps its stamp; another gets a later one.
_STAMP = """
local last = redis.call('HMGET', KEYS[1], 'version', 'stamp')
local given
if last[1] == ARGV[1] then
  given = tonumber(last[2])
else
  given = math.max(tonumber(ARGV[2]), tonumber(last[2] or '0') + 1)
  redis.call('HSET', KEYS[1], 'version', ARGV[1], 'stamp', given)
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
return given
"""


class RedisResultCache:
    """Shared by every worker and every process on the same Redis: an invalidation made by one
    is seen by all, because entries live only in Redis."""

    def __init__(self, url: str, *, prefix: str = "newsroom:", ttl_seconds: int = 3600) -> None:
        self.redis = Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self.prefix = prefix
        self.ttl_seconds = ttl_seconds
        self._epoch_key = f"{prefix}epoch"
        self._put = self.redis.register_script(_PUT)
        self._invalidate = self.redis.register_script(_INVALIDATE)
        self._stamp = self.redis.register_script(_STAMP)
        # Invalidations that could not reach Redis: until one succeeds, this process neither
        # reads nor stores, and retries them in the background.
        self._unsent: set[str] = set()
        self._retry: asyncio.Task[None] | None = None

    def _key(self, key: str) -> str:
        return f"{self.prefix}r:{key}"

    def _tag(self, tag: str) -> str:
        return f"{self.prefix}t:{tag}"

    async def get(self, key: str) -> tuple[Entry | None, int]:
        if self._unsent:
            return None, -1
        try:
            body, epoch = await self.redis.mget(self._key(key), self._epoch_key)
        except RedisError as exc:
            logger.warning("result cache unreachable: %s", exc)
            return None, -1
        # redis types replies as bytes | str (for decode_responses); this client keeps bytes.
        return (Entry.of(cast(bytes, body)) if body is not None else None), int(epoch or 0)

    async def put(self, key: str, entry: Entry, tags: set[str], epoch: int) -> bool:
        if epoch < 0 or self._unsent:
            return False
        keys = [self._epoch_key, self._key(key), *(self._tag(tag) for tag in sorted(tags))]
        try:
            return bool(await self._put(keys=keys, args=[epoch, entry.body, self.ttl_seconds]))
        except RedisError as exc:
            logger.warning("result cache unreachable: %s", exc)
            return False

    async def invalidate(self, tags: set[str]) -> None:
        tags = tags | self._unsent
        try:
            await self._invalidate(keys=[self._epoch_key, *(self._tag(tag) for tag in tags)])
        except RedisError as exc:
            logger.error("result cache invalidation failed, will retry: %s", exc)
            self._unsent = tags
            if self._retry is None or self._retry.done():
                self._retry = asyncio.create_task(self._send_unsent())
            return
        self._unsent = set()

    async def stamp(self, key: str, version: str, at: int) -> int | None:
        try:
            # Kept as long as its answer: once it is gone, any new stamp is later anyway.
            given = await self._stamp(
                keys=[f"{self.prefix}s:{key}"], args=[version, at, self.ttl_seconds]
            )
        except RedisError as exc:
            logger.warning("result cache unreachable: %s", exc)
            return None
        return int(given)

    async def _send_unsent(self) -> None:
        delay = 0.5
        while self._unsent:
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
            await self.invalidate(set())

    async def close(self) -> None:
        if self._retry is not None:
            self._retry.cancel()
        await self.redis.aclose()


def open_cache(
    redis_url: str | None,
    *,
    max_entries: int,
    max_bytes: int,
    ttl_seconds: int,
    prefix: str = "newsroom:",
    shared_path: Path | None = None,
) -> ResultCache:
    """Redis when there is one; else in-process, sharing invalidations through `shared_path`
    with the other workers of the same server when there are several."""
    if redis_url:
        return RedisResultCache(redis_url, prefix=prefix, ttl_seconds=ttl_seconds)
    return LocalResultCache(
        max_entries=max_entries,
        ttl_seconds=ttl_seconds,
        max_bytes=max_bytes,
        shared=SharedGeneration(shared_path) if shared_path is not None else None,
    )
