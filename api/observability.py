"""What an operator watches: one JSON log line per request and Prometheus metrics at /metrics.

Log lines carry the request id, operation name, duration, status, cache outcome and error codes;
never a token, a variable or a comment body (variables are readers' text).
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
import time
from collections.abc import Iterator
from functools import cache
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from pythonjsonlogger.json import JsonFormatter
from starlette.requests import Request
from starlette.responses import Response

from models import outbox
from models.base import utcnow

access_log = logging.getLogger("newsroom.access")

registry = CollectorRegistry()
REQUESTS = Counter(
    "newsroom_graphql_requests", "GraphQL requests", ["operation", "status"], registry=registry
)
LATENCY = Histogram(
    "newsroom_graphql_request_seconds",
    "Time to answer a GraphQL request",
    ["operation"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=registry,
)
ERRORS = Counter("newsroom_graphql_errors", "Errors in answers", ["code"], registry=registry)
CACHE = Counter("newsroom_result_cache", "Result cache lookups", ["outcome"], registry=registry)
OUTBOX_PENDING = Gauge("newsroom_outbox_pending", "Search outbox rows waiting", registry=registry)
OUTBOX_AGE = Gauge(
    "newsroom_outbox_oldest_seconds", "Age of the oldest waiting outbox row", registry=registry
)
SEARCH_UP = Gauge(
    "newsroom_search_up", "1 when Meilisearch answers its health check", registry=registry
)
POOL_IN_USE = Gauge(
    "newsroom_db_pool_checked_out", "Database connections in use", registry=registry
)
POOL_SIZE = Gauge("newsroom_db_pool_size", "Database connections kept open", registry=registry)


class _PeopleExtracted(Collector):
    """Stories this process's people worker extracted. The worker (models/, which knows nothing
    of Prometheus) keeps the count; it is read at scrape time."""

    worker: Any = None

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "newsroom_people_extracted",
            "Stories whose people this process's worker extracted and stored",
        )
        family.add_metric([], getattr(self.worker, "extracted", 0))
        yield family


PEOPLE_EXTRACTED = _PeopleExtracted()
registry.register(PEOPLE_EXTRACTED)

METRICS_TIMEOUT_SECONDS = 2.0
# Operation names are the client's to choose: each new one would be a new time series, so only
# the first ones seen get their own (frontends have a few dozen); the rest are counted as "other".
MAX_OPERATION_LABELS = 100
_GRAPHQL_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]{0,63}$")
_operation_labels: set[str] = set()


def configure_logging(level: str) -> None:
    """JSON lines on stderr for every logger (uvicorn's access log is off: ours replaces it)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter("{asctime}{levelname}{name}{message}", style="{"))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # One line per Meilisearch call is noise at INFO, and would log every search URL; here, so
    # that every worker process of WORKERS=N is configured the same way.
    logging.getLogger("httpx2").setLevel(max(logging.WARNING, logging.getLogger().level))


def new_request_id() -> str:
    """32 hex digits, as `uuid4().hex` has: from the process's generator (reseeded in each
    forked worker) rather than os.urandom, a system call that was 7 % of a cached answer's
    time. A request id ties log lines together; it guards nothing."""
    return f"{random.getrandbits(128):032x}"


def operation_label(name: str | None) -> str:
    if not name:
        return "-"
    if name in _operation_labels:
        return name
    if len(_operation_labels) < MAX_OPERATION_LABELS and _GRAPHQL_NAME.match(name):
        _operation_labels.add(name)
        return name
    return "other"


def record(
    request: Request, operation: str | None, codes: list[str], response: Response, started: float
) -> None:
    """Count, time and log one answered request (`codes`: the error codes it answered)."""
    headers = response.headers
    count(
        operation,
        codes,
        response.status_code,
        headers.get("x-cache"),
        headers.get("x-request-id"),
        started,
    )


def count(
    operation: str | None,
    codes: list[str],
    status: int,
    cache_outcome: str | None,
    request_id: str | None,
    started: float,
) -> None:
    """`record` from what an answer was, for one sent without a Response (api/doorway.py)."""
    elapsed = time.perf_counter() - started
    requests, latency = _series(operation_label(operation), status)
    requests.inc()
    latency.observe(elapsed)
    for code in codes:
        ERRORS.labels(code).inc()
    if cache_outcome:
        _cache_series(cache_outcome.lower()).inc()
    if access_log.isEnabledFor(logging.INFO):
        access_log.info(
            "graphql request",
            extra={
                "request_id": request_id,
                "operation": (operation or "-")[:100],
                "duration_ms": round(elapsed * 1000, 2),
                "status": status,
                "cache": cache_outcome.lower() if cache_outcome else "bypass",
                "error_codes": codes,
            },
        )


@cache  # bounded: MAX_OPERATION_LABELS names, a few statuses
def _series(operation: str, status: int) -> tuple[Any, Any]:
    # prometheus_client's labels() takes a lock and formats its key on every call.
    return REQUESTS.labels(operation, str(status)), LATENCY.labels(operation)


@cache  # hit or miss
def _cache_series(outcome: str) -> Any:
    return CACHE.labels(outcome)


async def metrics(request: Request) -> Response:
    """Prometheus text format; the gauges are read at scrape time, each within a short limit."""
    engine = request.app.state.engine
    services: Any = request.app.state.services
    pool = engine.pool
    if hasattr(pool, "checkedout"):
        POOL_IN_USE.set(pool.checkedout())
        POOL_SIZE.set(pool.size())
    try:
        async with asyncio.timeout(METRICS_TIMEOUT_SECONDS), engine.connect() as conn:
            waiting = await outbox.backlog(conn)
        OUTBOX_PENDING.set(waiting["pending"])
        oldest = waiting["oldest"]
        OUTBOX_AGE.set((utcnow() - oldest).total_seconds() if oldest else 0)
    except Exception:  # an unreachable database must not break the scrape
        OUTBOX_PENDING.set(float("nan"))
        OUTBOX_AGE.set(float("nan"))
    search = services.search
    up = False
    if search is not None:
        try:
            async with asyncio.timeout(METRICS_TIMEOUT_SECONDS):
                up = await search.client.healthy()
        except Exception:  # unreachable is what this gauge reports
            up = False
    SEARCH_UP.set(1 if up else 0)
    PEOPLE_EXTRACTED.worker = services.people
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
