"""Known cached answers served at the door (api/doorway.py): the same answer as the whole way
gives, and only for the requests the whole way would have answered from the cache."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from api.pipeline import Pipeline
from api.settings import Settings
from tests.conftest import SAMPLE_SLUG, contract, serve

ARTICLE_PAGE = contract("article-page")
RENAME_TOPIC = "mutation ($slug: String!, $name: String!) { renameTopic(slug: $slug, name: $name) { __typename } }"  # noqa: E501
# Headers that differ between any two answers, whichever way they went.
PER_REQUEST = {"x-request-id", "date"}


@pytest.fixture
def whole_way(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The X-Cache of every request that went the whole way (through Pipeline.handle)."""
    seen: list[str] = []
    handle = Pipeline.handle

    async def counted(self: Pipeline, request: object) -> object:
        response = await handle(self, request)  # type: ignore[arg-type]
        seen.append(response.headers.get("x-cache", "-"))
        return response

    monkeypatch.setattr(Pipeline, "handle", counted)
    yield seen


def compact(query: str, variables: dict[str, object]) -> bytes:
    return json.dumps({"query": query, "variables": variables}, separators=(",", ":")).encode()


async def post(client: httpx.AsyncClient, body: bytes | str, **headers: str) -> httpx.Response:
    headers = {"content-type": "application/json", **headers}
    response = await client.post("/graphql", content=body, headers=headers)
    assert response.status_code == 200, response.text
    return response


async def post_any(client: httpx.AsyncClient, body: bytes) -> httpx.Response:
    return await client.post("/graphql", content=body, headers={"content-type": "application/json"})


def comparable(response: httpx.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k not in PER_REQUEST}


async def test_a_hit_at_the_door_is_the_hit_the_whole_way_gives(
    client: httpx.AsyncClient, sample: None, whole_way: list[str]
) -> None:
    body = compact(ARTICLE_PAGE, {"slug": SAMPLE_SLUG})
    # The same request spelt with other whitespace: the same cache entry, but a body the door
    # has not seen, so it goes the whole way.
    respelt = json.dumps({"query": ARTICLE_PAGE, "variables": {"slug": SAMPLE_SLUG}}).encode()

    first = await post(client, body)
    at_the_door = await post(client, body)
    whole = await post(client, respelt)

    assert whole_way == ["MISS", "HIT"]
    assert first.headers["x-cache"] == "MISS"
    assert at_the_door.headers["x-cache"] == "HIT"
    assert at_the_door.content == whole.content == first.content
    assert comparable(at_the_door) == comparable(whole)
    assert at_the_door.json()["data"]["article"]["slug"] == SAMPLE_SLUG
    # The same headers in the same order, the client's request id echoed (a bad one replaced).
    named = {"x-request-id": "reader-42"}
    unseen = json.dumps({"variables": {"slug": SAMPLE_SLUG}, "query": ARTICLE_PAGE}).encode()
    door, whole = await post(client, body, **named), await post(client, unseen, **named)
    assert door.headers["x-request-id"] == whole.headers["x-request-id"] == "reader-42"
    assert [name for name, _ in door.headers.raw] == [name for name, _ in whole.headers.raw]
    unsafe = await post(client, body, **{"x-request-id": "a b"})
    assert len(unsafe.headers["x-request-id"]) == 32
    assert whole_way == ["MISS", "HIT", "HIT"]

    # GraphQL over HTTP's media type, asked for, is given at the door too.
    accept = {"accept": "application/graphql-response+json"}
    indented = json.dumps({"query": ARTICLE_PAGE, "variables": {"slug": SAMPLE_SLUG}}, indent=1)
    typed, typed_whole = await post(client, body, **accept), await post(client, indented, **accept)
    assert typed.headers["content-type"] == typed_whole.headers["content-type"]
    assert typed.headers["content-type"].startswith("application/graphql-response+json")
    assert whole_way == ["MISS", "HIT", "HIT", "HIT"]


async def test_tokens_origins_and_misses_go_the_whole_way(
    client: httpx.AsyncClient, sample: None, editor: dict[str, str], whole_way: list[str]
) -> None:
    body = compact(ARTICLE_PAGE, {"slug": SAMPLE_SLUG})
    await post(client, body)
    # An editor is never answered from the cache, even with a body a reader sent.
    assert "x-cache" not in (await post(client, body, **editor)).headers
    # Another site's page gets its CORS headers from the whole way.
    foreign = await post(client, body, origin="https://elsewhere.example")
    assert foreign.headers["x-cache"] == "HIT"
    assert foreign.headers["access-control-allow-origin"] == "*"
    # A body never seen.
    await post(client, compact(ARTICLE_PAGE, {"slug": "no-such-story"}))
    # A known body whose answer an edit has purged: computed again, with the edit.
    topic = (await post(client, body)).json()["data"]["article"]["topics"][0]["slug"]
    rename = compact(RENAME_TOPIC, {"slug": topic, "name": "Renamed at the door"})
    await post(client, rename, **editor)
    again = await post(client, body)
    assert again.headers["x-cache"] == "MISS"
    assert "Renamed at the door" in again.text
    assert whole_way == ["MISS", "-", "HIT", "MISS", "-", "MISS"]


async def test_the_request_rate_limit_counts_a_hit_at_the_door_once(
    db: AsyncEngine, sample: None, redis_url: str
) -> None:
    # Redis outlives the test's database: a namespace of its own, or it finds earlier runs'.
    settings = Settings(
        request_rate_limit="3/minute",
        redis_url=redis_url,
        result_cache_namespace=f"test:{uuid.uuid4().hex}:",
    )
    body = compact(ARTICLE_PAGE, {"slug": SAMPLE_SLUG})
    async with serve(db, settings=settings, address=uuid.uuid4().hex) as client:
        answers = [await post_any(client, body) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers.get("x-cache") for a in answers[:3]] == ["MISS", "HIT", "HIT"]
    assert answers[3].json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


async def test_a_body_over_the_limit_is_refused_whichever_way(
    db: AsyncEngine, sample: None
) -> None:
    settings = Settings(max_body_bytes=2_000)
    body = compact(ARTICLE_PAGE + " " * 2_000, {"slug": SAMPLE_SLUG})
    async with serve(db, settings=settings) as client:
        declared = await client.post("/graphql", content=body)

        async def chunks() -> object:
            yield body[:1_000]
            yield body[1_000:]

        streamed = await client.post("/graphql", content=chunks())  # no Content-Length
    assert declared.status_code == streamed.status_code == 413


@pytest.fixture
def routed(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The path of every request Starlette routed (that went the whole way)."""
    from starlette.routing import Router

    seen: list[str] = []
    route = Router.__call__

    async def counted(self: Router, scope: dict, receive: object, send: object) -> None:
        if scope["type"] == "http":
            seen.append(scope["path"])
        await route(self, scope, receive, send)  # type: ignore[arg-type]

    monkeypatch.setattr(Router, "__call__", counted)
    yield seen


async def test_a_stored_page_is_answered_at_the_door_as_the_whole_way_answers_it(
    client: httpx.AsyncClient, sample: None, editor: dict[str, str], routed: list[str]
) -> None:
    page = f"/articles/{SAMPLE_SLUG}"
    plain = {"accept-encoding": "identity"}
    first = await client.get(page, headers=plain)
    again = await client.get(page, headers=plain)
    assert routed == [page]
    assert (first.headers["x-cache"], again.headers["x-cache"]) == ("MISS", "HIT")
    assert again.content == first.content
    assert {k: v for k, v in again.headers.items() if k not in {"x-cache", "date"}} == {
        k: v for k, v in first.headers.items() if k not in {"x-cache", "date"}
    }
    # Compressed for a reader who accepts it, and 304 for one who holds this version.
    packed = await client.get(page, headers={"accept-encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.content == first.content  # httpx decompresses
    unchanged = await client.get(page, headers={"If-None-Match": first.headers["etag"]})
    assert unchanged.status_code == 304
    assert routed == [page]
    # Another site's page, and a page an edit purged, go the whole way.
    await client.get(page, headers={"origin": "https://elsewhere.example"})
    rename = compact(RENAME_TOPIC, {"slug": "crimea", "name": "Crimea (renamed)"})
    await post(client, rename, **editor)
    after = await client.get(page)
    assert after.headers["x-cache"] == "MISS" and "Crimea (renamed)" in after.text
    assert routed == [page, page, "/graphql", page]
