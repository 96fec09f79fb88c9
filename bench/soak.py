"""The soak (issue 8): the mixed reader workload at half the measured capacity, for ten minutes.

Readers' traffic is the contract's reader queries in these shares, each request drawn at random
by bench/soak.lua from weighted bodies:

- article pages (60%) over every published story, the newest most read (Zipf): popular pages
  come from the result cache, the long tail misses it the first time it is asked for;
- latest-articles (10%): the home page, section fronts, a longer list;
- site-search (10%): popular searches (headline words, people, topics, a few typos; some with a
  section or topic filter, newest first or page 2);
- search-suggest (10%): prefixes as the search box sends them while a reader types;
- topic pages (5%) and person pages (5%), the busiest most read.

First every distinct request of the mix is sent once, so that the result cache holds all it
will ever hold of this traffic (up to its budget), as in an API that has run for a while: the
cache filling is growth by design and bounded (RESULT_CACHE_ENTRIES, RESULT_CACHE_BYTES), and
what the soak looks for is growth beyond it. Then the mix runs flat out for
SOAK_CAPACITY_SECONDS (20) to measure the capacity of this process on this machine now; then wrk
sends at half that rate on a fixed schedule for SOAK_SECONDS (600), one wrk run per minute so
that each minute has its own p50 and p99, with the API's resident memory (the process and its
children) read after each. Memory at the start is read after the capacity run; growth past 10%
by the end fails the soak.

This module drives and measures; bench/suite.py starts the servers and writes the results.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import random
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from api.site.routes import contract_query
from models import Article, ArticleTopic, Mention, Person, Section, Topic
from models.article import is_published
from models.session import create_engine
from search import articles as search_articles

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "bench" / "soak.lua"

SOAK_SECONDS = int(os.environ.get("SOAK_SECONDS", "600"))
CAPACITY_SECONDS = int(os.environ.get("SOAK_CAPACITY_SECONDS", "20"))
WARM_UP_SECONDS = 3
SLICE_SECONDS = 60
LOAD_FRACTION = 0.5
# Flat out, as many connections as the suite's scenarios use. Paced, each connection sends about
# every CONNECTION_INTERVAL seconds: enough connections that a slow answer does not hold the next
# requests back from their schedule, yet each busy enough that uvicorn never closes it as idle
# (after 5 s), which wrk would count as a read error although no reader would see one.
CAPACITY_CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "8"))
CONNECTION_INTERVAL = 2.0
MAX_CONNECTIONS = 64
RSS_GROWTH_LIMIT_PCT = 10.0
SEED = 20261125

MIX = {
    "article_page": 0.60,
    "latest_articles": 0.10,
    "site_search": 0.10,
    "search_suggest": 0.10,
    "topic_page": 0.05,
    "person_page": 0.05,
}

console = Console()


@dataclass(frozen=True)
class Request:
    kind: str
    weight: float
    body: dict[str, Any]


def _zipf(count: int) -> list[float]:
    """Shares of `count` items by rank, the first most popular, adding up to 1."""
    weights = [1 / rank for rank in range(1, count + 1)]
    total = sum(weights)
    return [w / total for w in weights]


def _weighted(kind: str, variables: list[dict[str, Any]]) -> list[Request]:
    """The kind's contract query with the variables in order of popularity, sharing the kind's
    part of the traffic."""
    query = contract_query(kind.replace("_", "-"))
    return [
        Request(kind, MIX[kind] * share, {"query": query, "variables": v})
        for share, v in zip(_zipf(len(variables)), variables, strict=True)
    ]


def _typo(rng: random.Random, word: str) -> str:
    cut = rng.randrange(1, len(word) - 1)
    return word[:cut] + word[cut + 1 :]


async def _most_linked(
    conn: AsyncConnection, entity: type[Topic | Person], link: sa.orm.InstrumentedAttribute[int]
) -> list[sa.Row[tuple[str, str]]]:
    """Topics or people by how many stories they are linked to, most first."""
    stories = sa.func.count(link).desc()
    query = (
        sa.select(entity.slug, entity.name)
        .outerjoin(link.class_, link == entity.id)
        .group_by(entity.id)
        .order_by(stories, entity.id)
    )
    return list((await conn.execute(query)).all())


async def reader_mix(database_url: str) -> list[Request]:
    """Every request body of the mix with its share of the traffic, from the corpus' rows."""
    rng = random.Random(SEED)
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            newest = sa.select(Article.slug, Article.title).where(is_published())
            stories = (await conn.execute(newest.order_by(Article.published_at.desc()))).all()
            sections = list((await conn.execute(sa.select(Section.slug))).scalars())
            topics = await _most_linked(conn, Topic, ArticleTopic.topic_id)
            people = await _most_linked(conn, Person, Mention.person_id)
    finally:
        await engine.dispose()

    words = sorted(
        {w for _, title in stories[:2000] for w in search_articles.tokenize(title) if len(w) > 3}
    )
    texts = [" ".join(rng.sample(words, rng.choice([1, 1, 2]))) for _ in range(150)]
    texts += [name for _, name in people[:60]] + [name for _, name in topics[:40]]
    texts += [_typo(rng, w) for w in rng.sample([w for w in words if len(w) > 5], 30)]
    rng.shuffle(texts)
    searches: list[dict[str, Any]] = []
    for n, text in enumerate(texts):
        variables: dict[str, Any] = {"q": text}
        if n % 4 == 1:
            variables["filter"] = {"section": rng.choice(sections)}
        elif n % 8 == 2:
            variables["filter"] = {"topics": [rng.choice(topics[:40]).slug]}
        if n % 8 == 3:
            variables["sort"] = "NEWEST"
        if n % 10 == 4:
            variables["page"] = 2
        searches.append(variables)

    typed = rng.sample(words, 150) + [name.lower() for _, name in people[:50]]
    prefixes = list(dict.fromkeys(t[: rng.randint(2, 6)] for t in typed))
    rng.shuffle(prefixes)

    latest = [{"first": 10}] + [{"first": 10, "filter": {"section": s}} for s in sections]
    latest.append({"first": 30})
    return [
        *_weighted("article_page", [{"slug": s} for s, _ in stories]),
        *_weighted("latest_articles", latest),
        *_weighted("site_search", searches),
        *_weighted("search_suggest", [{"prefix": p} for p in prefixes]),
        *_weighted("topic_page", [{"slug": s} for s, _ in topics]),
        *_weighted("person_page", [{"slug": s} for s, _ in people]),
    ]


def _answers_well(kind: str, answer: dict[str, Any]) -> bool:
    if "errors" in answer:
        return False
    data = answer["data"]
    if kind == "article_page":
        return data["article"] is not None
    if kind == "site_search":
        return not data["search"]["degraded"]
    return True


def check(url: str, mix: list[Request]) -> None:
    """The most read request of each kind, once: a soak of error pages is not a soak."""
    for kind in MIX:
        first = max((r for r in mix if r.kind == kind), key=lambda r: r.weight)
        answer = httpx.post(url, json=first.body, timeout=30)
        if answer.status_code != 200 or not _answers_well(kind, answer.json()):
            raise SystemExit(f"{kind} answered {answer.status_code}: {answer.text[:2000]}")


def fill(url: str, mix: list[Request], connections: int = CAPACITY_CONNECTIONS) -> dict[str, Any]:
    """Every distinct request once, `connections` at a time; how many and how long."""

    async def send_all() -> int:
        pending = iter(mix)
        failed = 0

        async def sender(client: httpx.AsyncClient) -> None:
            nonlocal failed
            for request in pending:
                answer = await client.post(url, json=request.body)
                failed += answer.status_code != 200

        headers = {"Accept-Encoding": "identity"}
        async with httpx.AsyncClient(timeout=30, headers=headers) as client:
            await asyncio.gather(*(sender(client) for _ in range(connections)))
        return failed

    started = time.monotonic()
    failed = asyncio.run(send_all())
    return {"requests": len(mix), "failed": failed, "seconds": round(time.monotonic() - started)}


def resident_mb(pid: int) -> float:
    """Resident memory of the API: the process and any children it started."""
    process = psutil.Process(pid)
    total = process.memory_info().rss
    for child in process.children(recursive=True):
        # A child that exits between the listing and the reading holds no memory any more.
        with contextlib.suppress(psutil.NoSuchProcess):
            total += child.memory_info().rss
    return round(total / 1024 / 1024, 1)


def _wrk(
    url: str, mix_file: Path, *, seconds: int, connections: int, rate: float, seed: int
) -> dict[str, Any]:
    env = {
        **os.environ,
        "BENCH_MIX": str(mix_file),
        "BENCH_RATE": f"{rate:.3f}",
        "BENCH_SEED": str(seed),
    }
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s"]
    run = subprocess.run(
        [*command, "-s", str(SCRIPT), url], env=env, check=True, capture_output=True, text=True
    )
    totals = json.loads(run.stdout.strip().splitlines()[-1])
    seconds_measured = totals["duration_us"] / 1e6
    errors = (
        totals["socket_errors"] + totals["timeouts"] + totals["non_2xx"] + totals["graphql_errors"]
    )
    return {
        "requests": totals["requests"],
        "seconds": round(seconds_measured, 1),
        "rps": round(totals["requests"] / seconds_measured, 1),
        "p50_ms": round(totals["p50_us"] / 1000, 2),
        "p90_ms": round(totals["p90_us"] / 1000, 2),
        "p99_ms": round(totals["p99_us"] / 1000, 2),
        "max_ms": round(totals["max_us"] / 1000, 2),
        "errors": errors,
        "socket_errors": totals["socket_errors"],
        "timeouts": totals["timeouts"],
        "non_2xx": totals["non_2xx"],
        "graphql_errors": totals["graphql_errors"],
        "degraded": totals["degraded"],
        "late": totals["late"],
    }


def run(url: str, pid: int, mix: list[Request], seconds: int = SOAK_SECONDS) -> dict[str, Any]:
    """Measure the capacity with the mix, then soak at half of it; the figures as a dict."""
    check(url, mix)
    started = time.monotonic()
    rss_at_launch = resident_mb(pid)
    console.print(f"soak: filling the result cache with the mix's {len(mix)} distinct requests …")
    filled = fill(url, mix)
    console.print(f"soak: filled in {filled['seconds']} s, RSS {resident_mb(pid):.0f} MB")
    with tempfile.TemporaryDirectory() as scratch:
        mix_file = Path(scratch) / "mix"
        mix_file.write_text(
            "".join(f"{r.weight:.6g}\t{json.dumps(r.body, separators=(',', ':'))}\n" for r in mix)
        )
        flat_out = {"connections": CAPACITY_CONNECTIONS, "rate": 0.0}
        _wrk(url, mix_file, seconds=WARM_UP_SECONDS, seed=1, **flat_out)
        console.print(f"soak: capacity, {CAPACITY_SECONDS}s flat out …")
        capacity = _wrk(url, mix_file, seconds=CAPACITY_SECONDS, seed=2, **flat_out)
        target = capacity["rps"] * LOAD_FRACTION
        console.print(
            f"soak: capacity {capacity['rps']:.0f}/s (p99 {capacity['p99_ms']:.0f} ms); "
            f"{seconds}s at {target:.1f}/s"
        )
        connections = max(2, min(MAX_CONNECTIONS, math.ceil(target * CONNECTION_INTERVAL)))
        rss_start = resident_mb(pid)
        slices = [SLICE_SECONDS] * (seconds // SLICE_SECONDS)
        if seconds % SLICE_SECONDS:
            slices.append(seconds % SLICE_SECONDS)
        minutes = []
        for number, length in enumerate(slices, start=1):
            outcome = _wrk(
                url,
                mix_file,
                seconds=length,
                connections=connections,
                rate=target,
                seed=10 + number,
            )
            outcome = {"minute": number, **outcome, "rss_mb": resident_mb(pid)}
            minutes.append(outcome)
            console.print(
                f"soak: minute {number}: {outcome['rps']:.1f}/s, p50 {outcome['p50_ms']:.1f} ms, "
                f"p99 {outcome['p99_ms']:.1f} ms, errors {outcome['errors']}, "
                f"RSS {outcome['rss_mb']:.0f} MB"
            )
    rss_end = minutes[-1]["rss_mb"]
    growth = (rss_end - rss_start) / rss_start * 100
    requests = sum(m["requests"] for m in minutes)
    soak_seconds = sum(m["seconds"] for m in minutes)
    error_kinds = ("socket_errors", "timeouts", "non_2xx", "graphql_errors")
    results = {
        "mix": MIX,
        "distinct_requests": len(mix),
        "fill": filled,
        "capacity": {
            "seconds": CAPACITY_SECONDS,
            "connections": CAPACITY_CONNECTIONS,
            **capacity,
        },
        "seconds": seconds,
        "connections": connections,
        "target_rps": round(target, 1),
        "achieved_rps": round(requests / soak_seconds, 1),
        "requests": requests,
        "errors": sum(m["errors"] for m in minutes),
        **{kind: sum(m[kind] for m in minutes) for kind in (*error_kinds, "degraded", "late")},
        "p50_ms_range": [min(m["p50_ms"] for m in minutes), max(m["p50_ms"] for m in minutes)],
        "p99_ms_range": [min(m["p99_ms"] for m in minutes), max(m["p99_ms"] for m in minutes)],
        "minutes": minutes,
        "rss_mb": {"launch": rss_at_launch, "start": rss_start, "end": rss_end},
        "rss_growth_pct": round(growth, 1),
        "rss_growth_limit_pct": RSS_GROWTH_LIMIT_PCT,
        "rss_met": growth <= RSS_GROWTH_LIMIT_PCT,
        "wall_seconds": round(time.monotonic() - started, 1),
    }
    report(results)
    return results


def report(results: dict[str, Any]) -> None:
    table = Table(
        title=f"soak: {results['seconds']}s at {results['target_rps']:.1f}/s "
        f"(half of {results['capacity']['rps']:.1f}/s), {results['connections']} connections"
    )
    for column in ("minute", "requests/s", "p50 ms", "p99 ms", "max ms", "errors", "RSS MB"):
        table.add_column(column, justify="right")
    for m in results["minutes"]:
        table.add_row(
            str(m["minute"]),
            f"{m['rps']:.1f}",
            f"{m['p50_ms']:.1f}",
            f"{m['p99_ms']:.1f}",
            f"{m['max_ms']:.0f}",
            str(m["errors"]),
            f"{m['rss_mb']:.0f}",
        )
    console.print(table)
    rss = results["rss_mb"]
    console.print(
        f"soak: {results['requests']} requests, {results['achieved_rps']:.1f}/s for a target of "
        f"{results['target_rps']:.1f}/s; errors {results['errors']} (socket "
        f"{results['socket_errors']}, timeouts {results['timeouts']}, non-2xx "
        f"{results['non_2xx']}, GraphQL {results['graphql_errors']}); degraded searches "
        f"{results['degraded']}; sent over 100 ms late {results['late']}"
    )
    verdict = "pass" if results["rss_met"] else "FAIL"
    console.print(
        f"soak: API RSS {rss['start']:.1f} MB → {rss['end']:.1f} MB "
        f"({results['rss_growth_pct']:+.1f}%, limit {results['rss_growth_limit_pct']:.0f}%): "
        f"{verdict}"
    )
