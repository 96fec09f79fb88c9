"""The benchmark's one-statement limit answers the article page as our API does, and its ratios
compare rounds measured side by side."""

from __future__ import annotations

import json
from itertools import islice

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from bench import one_statement
from bench.rounds import faster_of, paired_ratio
from bench.suite import target_rows, without_related
from models.importer import import_lines
from models.session import AsyncSession
from tests.conftest import BBC, SAMPLE, SAMPLE_SLUG, contract, gql

PAGE = without_related(contract("article-page"))


@pytest.fixture
async def postgres(db: AsyncEngine) -> AsyncEngine:
    if db.dialect.name != "postgresql":
        pytest.skip("the one-statement limit is PostgreSQL's")
    return db


async def test_one_statement_page_is_our_page_without_related(
    postgres: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bbc = list(islice(BBC.read_text().splitlines(), 5))
    assert (await import_lines(sessions, [*SAMPLE.read_text().splitlines(), *bbc])).errors == []
    url = postgres.url.render_as_string(hide_password=False)
    monkeypatch.setenv("DATABASE_URL", url)
    slugs = [SAMPLE_SLUG, *(json.loads(line)["slug"] for line in bbc), "no-such-story"]

    async with LifespanManager(one_statement.app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://limit") as limit:
            for slug in slugs:
                body = {"query": PAGE, "variables": {"slug": slug}}
                answer = (await limit.post("/article", json=body)).json()

                assert answer == {"data": await gql(client, PAGE, {"slug": slug})}, slug


def _rounds(*rps: float) -> dict[str, object]:
    return {"rps": sum(rps) / len(rps), "rounds": [{"rps": r} for r in rps]}


def test_a_ratio_is_the_median_of_its_rounds_not_of_the_totals() -> None:
    # The machine slows down in round 2: both sides with it, so that round's ratio holds.
    ours, peer = _rounds(1000, 500, 1000), _rounds(100, 50, 125)
    value, each = paired_ratio(ours, peer, "rps")
    assert each == [10.0, 10.0, 8.0]
    assert value == 10.0


def test_the_faster_peer_is_chosen_round_by_round() -> None:
    v4, v5 = _rounds(100, 300), _rounds(200, 100)
    assert [r["rps"] for r in faster_of(v4, v5)["rounds"]] == [200, 300]
    cached = _rounds(1800, 2700)
    scenarios = {"article_page_cached": cached, "postgraphile": v4, "postgraphile_v5": v5}
    [row] = target_rows(scenarios)
    assert row["rounds"] == [9.0, 9.0]
    assert row["met"] is True
