"""Rate limits when their shared counters are away."""

from __future__ import annotations

from api.rate_limits import RateLimits
from search.server import free_port


async def test_limits_hold_per_worker_while_redis_is_unreachable() -> None:
    """A Redis restart must not turn a reader's comment into an internal error."""
    nothing_listens = f"redis://127.0.0.1:{free_port()}/0"
    limits = RateLimits({"comment": "2/minute"}, nothing_listens)
    try:
        answers = [await limits.retry_after("comment", "203.0.113.7") for _ in range(3)]
    finally:
        await limits.close()
    assert answers[:2] == [None, None]
    assert answers[2] is not None and 0 < answers[2] <= 60
