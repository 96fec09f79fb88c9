"""Per-client rate limits, with the `limits` library: what anonymous readers may write, and
optionally how many requests one address may send at all."""

from __future__ import annotations

import logging
import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from redis.asyncio import Redis
from redis.exceptions import RedisError

logger = logging.getLogger("newsroom.api")


class RateLimits:
    """One moving window per action and client address; an action without a rule is free."""

    def __init__(self, rules: dict[str, str], redis_url: str | None = None) -> None:
        self._limits: dict[str, RateLimitItem] = {
            action: parse(rule) for action, rule in rules.items() if rule.strip()
        }
        # With several workers the windows must be shared, or each worker would allow the
        # whole limit again. The client is ours (limits would not close one it made).
        self._redis = Redis.from_url(redis_url, socket_timeout=1.0) if redis_url else None
        storage: Storage = MemoryStorage()
        if self._redis is not None:
            pool = self._redis.connection_pool
            # limits documents `connection_pool` but types its options as float | str | bool.
            storage = RedisStorage(
                "async+redis://",
                connection_pool=pool,  # type: ignore[arg-type]
                implementation="redispy",
            )
        self._limiter = MovingWindowRateLimiter(storage)
        # While Redis is unreachable (restarting, say) each worker counts on its own: a reader's
        # comment must not fail because the counters are away, and the limits still hold,
        # per worker, until Redis is back.
        self._fallback = MovingWindowRateLimiter(MemoryStorage()) if self._redis else None

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()

    def counts(self, action: str) -> bool:
        """Whether `action` has a rule (an action without one is never counted)."""
        return action in self._limits

    async def retry_after(self, action: str, client: str) -> int | None:
        """Count one `action` by `client`; None if allowed, else seconds until it would be."""
        limit = self._limits.get(action)
        if limit is None:
            return None
        try:
            return await self._count(self._limiter, limit, action, client)
        except (RedisError, OSError) as exc:
            if self._fallback is None:
                raise
            logger.warning("rate limits: Redis unreachable (%s); counting in this process", exc)
            return await self._count(self._fallback, limit, action, client)

    @staticmethod
    async def _count(
        limiter: MovingWindowRateLimiter, limit: RateLimitItem, action: str, client: str
    ) -> int | None:
        if await limiter.hit(limit, action, client):
            return None
        stats = await limiter.get_window_stats(limit, action, client)
        return max(1, math.ceil(stats.reset_time - time.time()))
