"""uvicorn with api/transport.py's protocol still answers every response whole, over one kept-alive
connection: a small answer, a large one, a streamed one, HEAD and a 304."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from api.transport import CoalescingHttpToolsProtocol

LARGE = bytes(range(256)) * 8_000  # 2 MB: more than one send, and past the write buffer's limit


async def small(_: Request) -> Response:
    return Response(b'{"data":{"ok":true}}', media_type="application/json")


async def large(_: Request) -> Response:
    return Response(LARGE, media_type="application/octet-stream")


async def streamed(_: Request) -> Response:
    async def parts() -> AsyncIterator[bytes]:
        for n in range(3):
            await asyncio.sleep(0.01)  # each part in a turn of the loop of its own
            yield f"part {n};".encode()

    return StreamingResponse(parts(), media_type="text/plain")


async def unchanged(_: Request) -> Response:
    return Response(status_code=304, headers={"ETag": '"x"'})


APP = Starlette(
    routes=[
        Route("/small", small, methods=["GET", "HEAD"]),
        Route("/large", large),
        Route("/streamed", streamed),
        Route("/unchanged", unchanged),
    ]
)


@pytest.fixture
async def url() -> AsyncIterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        APP, port=port, http=CoalescingHttpToolsProtocol, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event for it)
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


async def test_every_response_arrives_whole_on_one_kept_alive_connection(url: str) -> None:
    async with httpx.AsyncClient(base_url=url, limits=httpx.Limits(max_connections=1)) as client:
        for _ in range(3):
            answer = await client.get("/small")
            assert answer.status_code == 200
            assert answer.json() == {"data": {"ok": True}}
            assert answer.headers["content-length"] == str(len(answer.content))
        assert (await client.get("/large")).content == LARGE
        assert (await client.get("/streamed")).text == "part 0;part 1;part 2;"
        head = await client.head("/small")
        assert head.status_code == 200 and head.content == b""
        not_modified = await client.get("/unchanged")
        assert not_modified.status_code == 304 and not_modified.headers["etag"] == '"x"'
        assert (await client.get("/small")).json() == {"data": {"ok": True}}


async def test_concurrent_clients_get_their_own_answers(url: str) -> None:
    async with httpx.AsyncClient(base_url=url) as client:
        answers = await asyncio.gather(*(client.get(p) for p in ["/small", "/large"] * 10))
    assert [a.content for a in answers] == [b'{"data":{"ok":true}}', LARGE] * 10
