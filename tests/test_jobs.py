"""Background jobs with several processes at once on one database: the API's people worker and
three `newsroom people extract --all` share one pass, each story extracted once; two
`newsroom reindex` never run together."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from models import Article, Mention, Person
from models.importer import import_lines
from models.person import Quote
from models.session import AsyncSession
from search.reindex import running_alone
from search.server import LocalMeilisearch, free_port
from tests.conftest import BBC
from tests.servers import ROOT, start_api, wait_ready
from tests.support import served_env

STORIES = 150
EXTRACTED = re.compile(r"extracted people from (\d+) stories")
COUNTER = re.compile(r"^newsroom_people_extracted_total (\S+)$", re.MULTILINE)


@pytest.fixture
async def corpus(db: AsyncEngine, sessions: async_sessionmaker[AsyncSession]) -> int:
    """BBC stories, every one already extracted (as if by an earlier run), so that `--all`
    has a whole pass to start."""
    lines = BBC.read_text().splitlines()[:STORIES]
    report = await import_lines(sessions, lines)
    assert report.errors == []
    async with db.begin() as conn:
        await conn.execute(sa.update(Article).values(people_hash=Article.content_hash))
    return STORIES


def _env(database_url: str, meili: LocalMeilisearch, tmp_path: Path) -> dict[str, str]:
    # Indexing is not what this test is about, and the two cores are busy with spaCy.
    return served_env(database_url, meili, tmp_path, "j", SEARCH_WORKER="false")


@pytest.fixture
async def api(
    db: AsyncEngine, database_url: str, meili: LocalMeilisearch, tmp_path: Path, corpus: int
) -> AsyncIterator[str]:
    """`newsroom serve` with its people worker on."""
    port = free_port()
    log = tmp_path / "api.log"
    process = start_api({**_env(database_url, meili, tmp_path), "PEOPLE_WORKER": "true"}, port, log)
    url = f"http://127.0.0.1:{port}"
    try:
        await asyncio.to_thread(wait_ready, url, process, log)
        yield url
    finally:
        process.terminate()
        await asyncio.to_thread(process.wait, 30)


async def _newsroom(env: dict[str, str], *args: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api.cli",
        *args,
        cwd=ROOT,
        env={**os.environ, **env, "COLUMNS": "200"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    return process.returncode or 0, out.decode()


async def _settled(db: AsyncEngine, seconds: float = 60) -> None:
    """Until no story waits for extraction or is held by a claim (the API's last batch)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        async with db.connect() as conn:
            busy = (
                await conn.execute(
                    sa.select(sa.func.count()).where(
                        sa.or_(
                            Article.people_hash.is_(None),
                            Article.people_hash != Article.content_hash,
                            Article.people_claimed_until.is_not(None),
                        )
                    )
                )
            ).scalar_one()
        if not busy:
            return
        await asyncio.sleep(0.2)
    pytest.fail(f"{busy} stories still not extracted after {seconds} s")


async def test_three_full_passes_and_the_api_extract_each_story_once(
    db: AsyncEngine,
    database_url: str,
    meili: LocalMeilisearch,
    tmp_path: Path,
    corpus: int,
    api: str,
) -> None:
    env = _env(database_url, meili, tmp_path)
    started = time.perf_counter()
    runs = await asyncio.gather(*(_newsroom(env, "people", "extract", "--all") for _ in range(3)))
    for code, out in runs:
        assert code == 0, out
    await _settled(db)
    elapsed = time.perf_counter() - started
    async with httpx.AsyncClient(base_url=api) as client:
        metrics = (await client.get("/metrics")).text

    by_cli = [int(EXTRACTED.search(out).group(1)) for _, out in runs]  # type: ignore[union-attr]
    by_api = int(float(COUNTER.search(metrics).group(1)))  # type: ignore[union-attr]
    print(
        f"\n{db.dialect.name}: {corpus} stories in {elapsed:.1f}s;"
        f" extracted by the CLIs {by_cli}, by the API {by_api}"
    )
    assert sum(by_cli) + by_api == corpus
    assert sum(1 for _, out in runs if "joining" in out) == 2, [out for _, out in runs]
    async with db.connect() as conn:
        errors = (
            await conn.execute(
                sa.select(Article.slug, Article.people_error).where(
                    Article.people_error.is_not(None)
                )
            )
        ).all()
        assert errors == []
        names = (
            await conn.execute(
                sa.select(sa.func.lower(Person.name), sa.func.count())
                .group_by(sa.func.lower(Person.name))
                .having(sa.func.count() > 1)
            )
        ).all()
        assert names == [], "one person, one row"
        mentioned = (
            await conn.execute(sa.select(sa.func.count(sa.distinct(Mention.article_id))))
        ).scalar_one()
        assert mentioned > corpus * 0.8
        quotes = (
            await conn.execute(
                sa.select(Quote.article_id, Quote.position)
                .group_by(Quote.article_id, Quote.position)
                .having(sa.func.count() > 1)
            )
        ).all()
        assert quotes == [], "one extraction's quotes per story"


async def test_a_second_reindex_refuses_while_one_runs(
    db: AsyncEngine, database_url: str, meili: LocalMeilisearch, tmp_path: Path
) -> None:
    env = _env(database_url, meili, tmp_path)
    async with running_alone(db) as alone:
        assert alone
        async with running_alone(db) as again:
            assert not again, "in this process too"
        code, out = await _newsroom(env, "reindex")
        assert code == 1, out
        assert "another reindex of this database is running" in out

    code, out = await _newsroom(env, "reindex")
    assert code == 0, out
