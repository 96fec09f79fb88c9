"""Per-client rate limits for what anonymous readers may write, with the `limits` library."""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter


class RateLimits:
    """One moving window per action and client address."""

    def __init__(self, rules: dict[str, str], storage: Storage | None = None) -> None:
        self._limits: dict[str, RateLimitItem] = {
            action: parse(rule) for action, rule in rules.items()
        }
        self._limiter = MovingWindowRateLimiter(storage or MemoryStorage())

    async def retry_after(self, action: str, client: str) -> int | None:
        """Count one `action` by `client`; None if allowed, else seconds until it would be."""
        limit = self._limits[action]
        if await self._limiter.hit(limit, action, client):
            return None
        stats = await self._limiter.get_window_stats(limit, action, client)
        return max(1, math.ceil(stats.reset_time - time.time()))
