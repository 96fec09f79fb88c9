"""The async Meilisearch client the app shares: one connection pool, errors translated once.

Built on meilisearch-python-sdk's AsyncClient (its httpx pool, task waiting and swap): documents
and settings go through its HTTP client as plain JSON, which lets the versioned settings file be
sent as it is. Searches, the readers' hot path, go over aiohttp: the bench corpus's searches sent
by both in turn, one at a time, took 9.21 ms (median) through httpx and 8.15 ms through aiohttp,
answer read and decoded, a millisecond of the API's own time per search. Bodies are encoded and
answers decoded once, with orjson: a search answer with its facets is about 8 KB, which the
standard library's json took about four times as long to read.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import httpx2
import orjson
from meilisearch_python_sdk import AsyncClient
from meilisearch_python_sdk.errors import (
    MeilisearchApiError,
    MeilisearchCommunicationError,
    MeilisearchError,
    MeilisearchTaskFailedError,
    MeilisearchTimeoutError,
)

from search.errors import SearchRejected, SearchUnavailable

# Gzip answers are written in pieces and meet delayed ACKs on keep-alive connections: every
# search then waits about 40 ms. Uncompressed answers on loopback take about 2.5 ms.
IDENTITY = {"Accept-Encoding": "identity"}
JSON = {"Content-Type": "application/json"}
TASK_TIMEOUT_MS = 120_000


@asynccontextmanager
async def translated() -> AsyncIterator[None]:
    """Map the SDK's and httpx's errors onto search/'s two kinds of failure."""
    try:
        yield
    except MeilisearchApiError as exc:
        if exc.status_code >= 500 or exc.status_code == 429:
            raise SearchUnavailable(str(exc)) from exc
        raise SearchRejected(str(exc)) from exc
    except MeilisearchTaskFailedError as exc:
        raise SearchRejected(str(exc)) from exc
    except (MeilisearchCommunicationError, MeilisearchTimeoutError, httpx2.HTTPError) as exc:
        raise SearchUnavailable(f"{type(exc).__name__}: {exc}") from exc
    except MeilisearchError as exc:
        raise SearchUnavailable(str(exc)) from exc


class SearchClient:
    """A Meilisearch server, with the article index named by `prefix` (tests use their own)."""

    def __init__(self, url: str, api_key: str | None, *, prefix: str = "", timeout: int = 5):
        self.url = url
        self.prefix = prefix
        self.articles = f"{prefix}articles"
        self.sdk = AsyncClient(url, api_key, timeout=timeout, custom_headers=IDENTITY)
        self._base = url.rstrip("/") + "/"
        self._headers = {**IDENTITY, **({"Authorization": f"Bearer {api_key}"} if api_key else {})}
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        # Opened on the first request, in the event loop that makes it.
        self._session: aiohttp.ClientSession | None = None

    async def aclose(self) -> None:
        await self.sdk.aclose()
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _send(self, method: str, path: str, body: Any = None) -> Any:
        """One raw request through the SDK's client; answers the decoded JSON or raises a
        search error."""
        content = None if body is None else orjson.dumps(body)
        headers = None if body is None else JSON
        async with translated():
            response = await self.sdk.http_client.request(
                method, path, content=content, headers=headers
            )
        return _decoded(method, path, response.status_code, response.content)

    async def _query(self, path: str, body: Any) -> Any:
        """A search request through aiohttp (see the module's docstring)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self._headers, timeout=self._timeout)
        try:
            async with self._session.post(
                self._base + path, data=orjson.dumps(body), headers=JSON
            ) as response:
                status, raw = response.status, await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SearchUnavailable(f"POST {path}: {type(exc).__name__}: {exc}") from exc
        return _decoded("POST", path, status, raw)

    async def _run(self, method: str, path: str, body: Any = None) -> None:
        """A request that enqueues a task, and the wait for that task to succeed."""
        task = await self._send(method, path, body)
        await self.wait(task["taskUid"])

    async def healthy(self) -> bool:
        try:
            health: dict[str, str] = await self._send("GET", "health")
        except (SearchUnavailable, SearchRejected):
            return False
        return health["status"] == "available"

    async def search(self, index: str, query: str, **params: Any) -> dict[str, Any]:
        """A search, answered as the JSON Meilisearch gave."""
        answer: dict[str, Any] = await self._query(
            f"indexes/{index}/search", {"q": query, **params}
        )
        return answer

    async def multi_search(self, queries: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Several searches in one round trip; answers come back in the same order."""
        answer = await self._query("multi-search", {"queries": list(queries)})
        results: list[dict[str, Any]] = answer["results"]
        return results

    async def wait(self, task_uid: int, *, timeout_ms: int = TASK_TIMEOUT_MS) -> None:
        """Wait for a task and raise unless it succeeded."""
        async with translated():
            result = await self.sdk.wait_for_task(task_uid, timeout_in_ms=timeout_ms)
        if result.status != "succeeded":
            raise SearchRejected(f"task {task_uid} ended {result.status}: {result.error}")

    async def put_documents(
        self, index: str, documents: Sequence[dict[str, Any]], *, wait: bool = True
    ) -> int | None:
        """Add or replace documents; answers the task id when not waiting for it."""
        if not documents:
            return None
        path = f"indexes/{index}/documents?primaryKey=id"
        task = await self._send("POST", path, list(documents))
        task_uid: int = task["taskUid"]
        if wait:
            await self.wait(task_uid)
        return task_uid

    async def delete_documents(self, index: str, ids: Sequence[int]) -> None:
        if ids:
            await self._run("POST", f"indexes/{index}/documents/delete-batch", list(ids))

    async def document_ids(self, index: str, batch: int = 10_000) -> set[int]:
        """Every document id in the index."""
        ids: set[int] = set()
        offset = 0
        while True:
            page = await self._send(
                "POST",
                f"indexes/{index}/documents/fetch",
                {"offset": offset, "limit": batch, "fields": ["id"]},
            )
            ids.update(int(doc["id"]) for doc in page["results"])
            offset += batch
            if offset >= page["total"]:
                return ids

    async def index_exists(self, index: str) -> bool:
        try:
            await self._send("GET", f"indexes/{index}")
        except SearchRejected:
            return False
        return True

    async def create_index(self, index: str) -> None:
        """Create the index unless it exists."""
        if not await self.index_exists(index):
            await self._run("POST", "indexes", {"uid": index, "primaryKey": "id"})

    async def update_settings(self, index: str, settings: dict[str, Any]) -> None:
        await self._run("PATCH", f"indexes/{index}/settings", settings)

    async def swap(self, first: str, second: str) -> None:
        """Exchange two indexes' contents in one atomic step."""
        await self._run("POST", "swap-indexes", [{"indexes": [first, second]}])

    async def delete_index(self, index: str) -> None:
        if await self.index_exists(index):
            await self._run("DELETE", f"indexes/{index}")

    async def indexes(self) -> list[str]:
        answer = await self._send("GET", "indexes?limit=1000")
        return [index["uid"] for index in answer["results"]]


def _decoded(method: str, path: str, status: int, raw: bytes) -> Any:
    """Meilisearch's JSON answer, or the search error its status means."""
    if status >= 500 or status == 429:
        raise SearchUnavailable(f"{method} {path} answered {status}")
    try:
        payload = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        if status < 400:
            raise SearchUnavailable(f"{method} {path} answered no JSON") from None
        payload = None
    if status >= 400:
        code = payload.get("code") if isinstance(payload, dict) else None
        raise SearchRejected(f"{code}: {payload}" if code else raw.decode(errors="replace"))
    return payload
