"""Several API processes on one PostgreSQL and one Redis: a write through one is never read stale
through the other, cached or not."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from search.server import LocalMeilisearch, free_port
from tests.conftest import contract, make_token
from tests.servers import ROOT, start_api, wait_ready
from tests.support import article_input

SAVE = contract("editor-save-article")
TITLE = "query ($slug: String!) { article(slug: $slug) { title } }"
# Checked by delaying the invalidation on purpose (a task that invalidates after the answer):
# late by 20 ms, half the rounds read stale and the test fails at round 2; late by 8 ms, 1 round
# in 15 does (22 of 300), so 250 rounds miss it with a chance of about 1 in 10^7; late by 5 ms or
# less, no round in 600 read stale, so more rounds would not catch that either (1,000 did not
# make this test stronger, only 4 times longer). A cache kept per process fails at round 1.
ROUNDS = 250


@pytest.fixture
def workers(
    db: AsyncEngine, database_url: str, redis_url: str, meili: LocalMeilisearch, tmp_path: Path
) -> Iterator[list[str]]:
    if db.dialect.name != "postgresql":
        pytest.skip("several workers share PostgreSQL; SQLite is the one-process default")
    env = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "MEILI_URL": meili.url,
        "MEILI_MASTER_KEY": meili.master_key,
        "MEILI_INDEX_PREFIX": f"w{uuid.uuid4().hex[:8]}_",
        "DATA_DIR": str(tmp_path),
        "PEOPLE_WORKER": "false",
        # The outbox worker drops a story's cached answers again once the index has it, which
        # would make the hit count below depend on timing; staleness is what this test is about.
        "SEARCH_WORKER": "false",
        "LOG_LEVEL": "warning",
        # The two listen on two ports, so their Host headers differ; without a public address
        # each would keep its own answers (links are built from the Host), as it should.
        "PUBLIC_BASE_URL": "http://news.example",
    }
    processes, urls = [], []
    try:
        for n in range(2):
            port = free_port()
            log = tmp_path / f"worker-{n}.log"
            processes.append((start_api(env, port, log), log))
            urls.append(f"http://127.0.0.1:{port}")
        for url, (process, log) in zip(urls, processes, strict=True):
            wait_ready(url, process, log)
        yield urls
    finally:
        for process, _ in processes:
            process.terminate()
        for process, _ in processes:
            process.wait(timeout=30)


async def test_no_stale_answer_across_two_workers_sharing_redis(
    workers: list[str], db: AsyncEngine, news_section: None
) -> None:
    editor = await make_token(db, "editor")
    first, second = (httpx.AsyncClient(base_url=url, timeout=10) for url in workers)
    async with first, second:

        async def save(client: httpx.AsyncClient, title: str) -> None:
            body = {"query": SAVE, "operationName": "SaveArticle"}
            body["variables"] = {"input": article_input(slug="live", title=title)}
            response = await client.post("/graphql", json=body, headers=editor)
            assert response.json()["data"]["saveArticle"]["__typename"] == "ArticleSaved"

        async def title(client: httpx.AsyncClient) -> tuple[str, str]:
            body = {"query": TITLE, "variables": {"slug": "live"}}
            response = await client.post("/graphql", json=body)
            return response.json()["data"]["article"]["title"], response.headers["x-cache"]

        await save(first, "v0")
        publish = {"query": SAVE, "operationName": "PublishArticle", "variables": {"slug": "live"}}
        await first.post("/graphql", json=publish, headers=editor)

        hits = 0
        for n in range(1, ROUNDS + 1):
            writer, reader = (first, second) if n % 2 else (second, first)
            assert await title(reader) == (f"v{n - 1}", "MISS" if n == 1 else "HIT")
            await save(writer, f"v{n}")
            # The writer's own invalidation reached Redis before its answer: the other worker,
            # then the writer, read the new title (the second read from the shared cache).
            assert (await title(reader))[0] == f"v{n}"
            seen, cached = await title(writer)
            assert seen == f"v{n}"
            hits += cached == "HIT"
        assert hits == ROUNDS


@pytest.fixture
def embedded_workers(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """`WORKERS=2 newsroom serve` on the embedded defaults: SQLite, no Redis, no MEILI_URL."""
    env = {
        **{key: value for key, value in os.environ.items() if key not in EMBEDDED_UNSET},
        "DATA_DIR": str(tmp_path),
        "WORKERS": "2",
        "PEOPLE_WORKER": "false",  # spaCy on every save would only slow the test down
        "LOG_LEVEL": "warning",
    }
    cli = [sys.executable, "-m", "api.cli"]
    subprocess.run([*cli, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    with sqlite3.connect(tmp_path / "newsroom.db") as conn:
        conn.execute("INSERT INTO sections (slug, name) VALUES ('news', 'News')")
    token = [*cli, "token", "create", "--role", "editor", "--name", "ed"]
    created = subprocess.run(token, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    editor = {"Authorization": f"Bearer {created.stdout.strip().splitlines()[-1]}"}
    port = free_port()
    log = tmp_path / "serve.log"
    process = start_api(env, port, log)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url, process, log)
        yield url, editor
    finally:
        process.terminate()
        process.wait(timeout=60)


EMBEDDED_UNSET = ("DATABASE_URL", "REDIS_URL", "MEILI_URL", "MEILI_MASTER_KEY", "WORKERS")
SEARCH_TITLES = "query ($q: String!) { search(query: $q) { degraded hits { article { title } } } }"


async def test_two_embedded_workers_share_one_meilisearch_and_never_answer_stale(
    embedded_workers: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    url, editor = embedded_workers
    # A new connection per request: the kernel spreads them over both workers' shared socket.
    fresh = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=url, timeout=10, limits=fresh) as client:

        async def call(query: str, variables: dict, headers: dict | None = None) -> httpx.Response:
            body = {"query": query, "variables": variables}
            return await client.post("/graphql", json=body, headers=headers)

        async def save(title: str) -> None:
            variables = {"input": article_input(slug="live", title=title)}
            body = {"query": SAVE, "operationName": "SaveArticle", "variables": variables}
            answer = (await client.post("/graphql", json=body, headers=editor)).json()
            assert answer["data"]["saveArticle"]["__typename"] == "ArticleSaved", answer

        await save("v0")
        publish = {"query": SAVE, "operationName": "PublishArticle", "variables": {"slug": "live"}}
        await client.post("/graphql", json=publish, headers=editor)

        cache_states = []
        for n in range(1, EMBEDDED_ROUNDS + 1):
            await save(f"v{n}")
            # Several at once, so that both workers accept some; each worker caches the title
            # on its first read, and any later read through either must be the new one.
            for _ in range(2):
                reads = [call(TITLE, {"slug": "live"}) for _ in range(6)]
                for response in await asyncio.gather(*reads):
                    assert response.json()["data"]["article"]["title"] == f"v{n}"
                    cache_states.append(response.headers["x-cache"])
        assert "HIT" in cache_states, "the result cache never answered"

        # Both workers search the one Meilisearch the server started for them.
        deadline = time.monotonic() + 30
        while True:
            found = (await call(SEARCH_TITLES, {"q": f"v{EMBEDDED_ROUNDS}"})).json()["data"]
            assert found["search"]["degraded"] is False
            if found["search"]["hits"] or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert [h["article"]["title"] for h in found["search"]["hits"]] == [f"v{EMBEDDED_ROUNDS}"]
    assert len(meilisearch_processes(tmp_path / "meilisearch")) == 1


def meilisearch_processes(folder: Path) -> list[int]:
    """The Meilisearch processes whose data lives in `folder`."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue  # the process ended meanwhile
        if words[0].endswith(b"meilisearch") and str(folder).encode() in b" ".join(words):
            found.append(int(cmdline.parent.name))
    return found


EMBEDDED_ROUNDS = 50
