"""The benchmark suite (issue 6): our API next to its raw limit and a compiled GraphQL peer.

`make bench` runs everything on this machine, in one run, side by side:

- PostgreSQL (BENCH_DATABASE_URL, by default a database `newsroom_bench` on 127.0.0.1:5432)
  filled once with a generated corpus (bench/corpus.py: 10,000 stories, 200 topics, 2,000
  people, 200,000 comments), and a Meilisearch of its own under var/bench/;
- each server alone on the machine with one process: our API without and with its result
  cache, the hand-written Starlette endpoint (bench/raw_limit.py), PostGraphile v4
  (bench/postgraphile.py) and Meilisearch itself for the direct searches;
- load from wrk, a separate process, for a fixed time per scenario after a warm-up;
- the soak (bench/soak.py: ten minutes of the mixed reader workload at half the measured
  capacity, on a fresh API process with its result cache) is not part of it: `make bench-soak`
  (`python -m bench.suite soak`) runs it alone, so that `make bench` stays within 15 minutes.

BENCH_SCENARIOS (comma-separated names, e.g. `search_graphql,search_direct`) runs only those
scenarios, with BENCH_SECONDS (15) each: the index is then made complete rather than timed, and
nothing is written to bench/results/ (a partial run must not pass for the full one).

It prints requests/s, p50 and p99 per scenario and the ratios the issue sets targets for, the
API's peak memory, and the reindex rate next to Meilisearch's own ingestion rate; and writes
bench/results/latest.json plus a dated copy. Ratios are what to compare between runs: the
machine is shared and noisy, so absolute numbers move.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import sqlalchemy as sa
from asgi_lifespan import LifespanManager
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

from api.app import create_app
from api.settings import Settings
from bench import corpus, postgraphile, soak
from bench.processes import stop
from bench.rounds import Load, alternate, faster_of, paired_ratio
from models import Article, Section, Topic, migrate
from models.article import is_published
from models.document import published_ids_in_batches, published_sources
from models.related_job import RelatedWorker
from models.session import create_engine
from search import articles as search_articles
from search.client import SearchClient
from search.documents import to_document
from search.indexes import ensure_articles_index
from search.reindex import REBUILD_TASK_TIMEOUT_MS, reindex
from search.server import LocalMeilisearch, free_port

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "bench"
RESULTS = ROOT / "bench" / "results"
CONTRACT = ROOT / "api" / "site" / "contract"
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/newsroom_bench"
)
SECONDS = int(os.environ.get("BENCH_SECONDS", "15"))
WARM_UP_SECONDS = 3
# Each scenario runs SECONDS in all, in ROUNDS turns with the others (bench/rounds.py).
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "8"))
SELECTED = {name for name in os.environ.get("BENCH_SCENARIOS", "").split(",") if name.strip()}
# Search is compared on latency: one request at a time, so that neither side's p50 is a queue.
LATENCY_CONNECTIONS = 1
CACHED_PAGES = 200  # the cached scenario reads the same popular pages, as news traffic does
SEED = 20261125
INDEX_PREFIX = "bench_"

console = Console()


# Preparing the database and the index -----------------------------------------------------------


async def ensure_database(url: str) -> None:
    """Create the benchmark database on first use; PostgreSQL keeps it between runs."""
    target = make_url(url)
    admin = target.set(drivername="postgresql", database="postgres")
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        exists = await conn.fetchval(
            "SELECT 1 FROM pg_database WHERE datname = $1", target.database
        )
        if not exists:
            await conn.execute(f'CREATE DATABASE "{target.database}"')
    finally:
        await conn.close()


async def prepare_corpus(url: str = DATABASE_URL, **sizes: int) -> dict[str, int]:
    await ensure_database(url)
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
        started = time.perf_counter()
        counts = await corpus.generate(engine, seed=SEED, **sizes)
        # Every story's related list, computed ahead as the API's job would (the servers run
        # without the job: its work would be measured with the readers').
        lists = await RelatedWorker(engine).drain()
        console.print(
            f"corpus ready in {time.perf_counter() - started:.1f}s: {counts}, {lists} lists"
        )
        return counts
    finally:
        await engine.dispose()


async def measure_indexing(meili: LocalMeilisearch, url: str = DATABASE_URL) -> dict[str, Any]:
    """Our reindex next to the same documents sent straight to Meilisearch, same batch size."""
    engine = create_engine(url)
    client = SearchClient(meili.url, meili.master_key, prefix=INDEX_PREFIX)
    try:
        started = time.perf_counter()
        ours = await reindex(engine, client)
        ours_seconds = time.perf_counter() - started

        documents: list[dict[str, Any]] = []
        async with engine.connect() as conn:
            async for ids in published_ids_in_batches(conn, 1000):
                sources = await published_sources(conn, ids)
                documents.extend(to_document(source) for source in sources.values())
        direct_index = f"{client.articles}_direct"
        await ensure_articles_index(client, direct_index)
        started = time.perf_counter()
        tasks = [
            await client.put_documents(direct_index, documents[i : i + 1000], wait=False)
            for i in range(0, len(documents), 1000)
        ]
        for task in tasks:
            if task is not None:
                await client.wait(task, timeout_ms=REBUILD_TASK_TIMEOUT_MS)
        direct_seconds = time.perf_counter() - started
        await client.delete_index(direct_index)
    finally:
        await client.aclose()
        await engine.dispose()
    ours_rate, direct_rate = ours / ours_seconds, len(documents) / direct_seconds
    return {
        "documents": ours,
        "reindex_docs_per_s": round(ours_rate, 1),
        "direct_docs_per_s": round(direct_rate, 1),
        "ratio": round(ours_rate / direct_rate, 3),
    }


# Request bodies for each scenario ---------------------------------------------------------------


@dataclass
class Workload:
    slugs: list[str]
    popular: list[str]
    searches: list[tuple[str, search_articles.Where]]


async def workload() -> Workload:
    rng = random.Random(SEED)
    engine = create_engine(DATABASE_URL)
    try:
        async with engine.connect() as conn:
            slugs = list(
                (await conn.execute(sa.select(Article.slug).where(is_published()))).scalars()
            )
            titles = list((await conn.execute(sa.select(Article.title).limit(2000))).scalars())
            sections = list((await conn.execute(sa.select(Section.slug))).scalars())
            topics = list((await conn.execute(sa.select(Topic.slug).limit(40))).scalars())
    finally:
        await engine.dispose()
    rng.shuffle(slugs)
    words = [w for title in titles for w in search_articles.tokenize(title) if len(w) > 3]
    searches: list[tuple[str, search_articles.Where]] = []
    for n in range(300):
        text = " ".join(rng.sample(words, rng.choice([1, 1, 2])))
        if n % 3 == 1:
            where = search_articles.Where(section=rng.choice(sections))
        elif n % 3 == 2:
            where = search_articles.Where(
                topics=[rng.choice(topics)],
                published_after=datetime(2025, 1, 1, tzinfo=UTC),
            )
        else:
            where = search_articles.Where()
        searches.append((text, where))
    return Workload(slugs=slugs, popular=slugs[:CACHED_PAGES], searches=searches)


def graphql_bodies(query: str, variables: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"query": query, "variables": v} for v in variables]


def search_filter(where: search_articles.Where) -> dict[str, Any] | None:
    given = {
        "topics": list(where.topics) or None,
        "section": where.section,
        "publishedAfter": where.published_after.isoformat() if where.published_after else None,
    }
    return {k: v for k, v in given.items() if v is not None} or None


# Servers and load -------------------------------------------------------------------------------


def wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path, probe: Any) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url} exited during start-up:\n{log.read_text()[-3000:]}")
        try:
            if probe(url):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} not ready after 120 s:\n{log.read_text()[-3000:]}")


@contextmanager
def server(name: str, command: list[str], env: dict[str, str], port: int) -> Iterator[int]:
    """Run one server process for the scenarios inside the block; yields its pid."""
    log = WORK / f"{name}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_until_ready(
            f"http://127.0.0.1:{port}",
            process,
            log,
            lambda url: (
                httpx.get(f"{url}/healthz", timeout=1).status_code == 200
                or httpx.get(url, timeout=1).status_code < 500
            ),
        )
        yield process.pid
    finally:
        stop(process)


def uvicorn(app: str, port: int) -> list[str]:
    """A hand-written endpoint served as our API is: one uvicorn process, no access log."""
    command = [sys.executable, "-m", "uvicorn", app, "--port", str(port)]
    return [*command, "--log-level", "warning", "--no-access-log"]


def api_env(meili: LocalMeilisearch, port: int, *, cached: bool) -> dict[str, str]:
    return {
        "DATABASE_URL": DATABASE_URL,
        "MEILI_URL": meili.url,
        "MEILI_MASTER_KEY": meili.master_key,
        "MEILI_INDEX_PREFIX": INDEX_PREFIX,
        "DATA_DIR": str(WORK),
        "PORT": str(port),
        "LOG_LEVEL": "warning",
        "PEOPLE_WORKER": "false",
        "SEARCH_WORKER": "false",
        "RELATED_WORKER": "false",
        "RESULT_CACHE": "true" if cached else "false",
    }


def peak_memory_mb(pid: int) -> dict[str, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = round(int(value.split()[0]) / 1024, 1)
    return {"rss_mb": fields.get("VmRSS", 0.0), "peak_rss_mb": fields.get("VmHWM", 0.0)}


def without_related(query: str) -> str:
    return "\n".join(line for line in query.splitlines() if "related(" not in line)


def has_article(answer: dict[str, Any]) -> bool:
    return "errors" not in answer and answer["data"]["article"] is not None


def same_pages(url: str, query: str, slugs: list[str]) -> None:
    """Refuse to measure a peer at `url` whose page differs from our API's for any of `slugs`
    (compared parsed: the peer's JSON may be spaced differently; our `extensions`, the query's
    cost, is metadata no peer sends)."""
    ours = asyncio.run(our_pages(query, slugs))
    for slug in [*slugs, "no-such-story"]:
        body = {"query": query, "variables": {"slug": slug}}
        theirs = httpx.post(url, json=body, timeout=30).json()
        if "errors" in ours[slug] or theirs != {"data": ours[slug]["data"]}:
            raise SystemExit(f"{url} answers {slug} unlike our API:\n{theirs}\n{ours[slug]}")
    console.print(f"same pages as our API for {len(slugs)} stories")


async def our_pages(query: str, slugs: list[str]) -> dict[str, Any]:
    """Our API's answers for `slugs` (and a missing one), from the app in this process."""
    engine = create_engine(DATABASE_URL)
    app = create_app(Settings(result_cache=False), engine=engine)
    try:
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
                answers = {}
                for slug in [*slugs, "no-such-story"]:
                    body = {"query": query, "variables": {"slug": slug}}
                    answers[slug] = (await http.post("/graphql", json=body)).json()
                return answers
    finally:
        await engine.dispose()


# The run ----------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    memory_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )

    def version(*command: str) -> str:
        try:
            out = subprocess.run(command, capture_output=True, text=True, timeout=10)
        except OSError:
            return "not found"
        return (out.stdout or out.stderr).strip().splitlines()[0]

    return {
        "host": platform.node(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "wrk": version("wrk", "--version"),
        "node": version("node", "--version"),
    }


def wanted(*names: str) -> bool:
    """Whether BENCH_SCENARIOS asks for any of these scenarios (all of them when unset)."""
    return not SELECTED or bool(SELECTED.intersection(names))


async def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed for the load: `apt-get install wrk` (make bench does it)")
    unknown = SELECTED - set(SCENARIOS)
    if unknown:
        known = ", ".join(SCENARIOS)
        raise SystemExit(f"unknown BENCH_SCENARIOS {sorted(unknown)}; known: {known}")
    WORK.mkdir(parents=True, exist_ok=True)
    postgraphile.install()
    counts = await prepare_corpus()
    meili = LocalMeilisearch(WORK / "meilisearch")
    await meili.start()
    try:
        if SELECTED:
            await ensure_index(meili)
        else:
            indexing = await measure_indexing(meili)
            console.print(f"indexing: {indexing}")
        jobs = await workload()
        results = await asyncio.to_thread(run_scenarios, meili, jobs)
        async with httpx.AsyncClient() as http:
            answer = await http.get(
                f"{meili.url}/version", headers={"Authorization": f"Bearer {meili.master_key}"}
            )
        meili_version = answer.json()["pkgVersion"]
    finally:
        await meili.stop()
    if SELECTED:
        report_selected(results)
        return
    results["indexing"] = indexing
    results["corpus"] = counts
    results["machine"] = {**machine(), "meilisearch": meili_version}
    report(results)


SCENARIOS = (
    "article_page_uncached",
    "latest_articles_50",
    "search_graphql",
    "article_page_uncached_without_related",
    "article_page_cached",
    "site_article_page_cached",
    "raw_limit",
    "one_statement_limit",
    "postgraphile",
    "postgraphile_latest_50",
    "postgraphile_v5",
    "search_direct",
)
SAME_PAGE_SAMPLE = 50  # stories whose one-statement page is compared with ours before the run


def run_scenarios(meili: LocalMeilisearch, jobs: Workload) -> dict[str, Any]:
    """Every server up at once, every scenario in alternating rounds (bench/rounds.py)."""
    page_query = (CONTRACT / "article-page.graphql").read_text()
    latest_query = (CONTRACT / "latest-articles.graphql").read_text()
    search_query = (CONTRACT / "site-search.graphql").read_text()
    pages = graphql_bodies(page_query, [{"slug": s} for s in jobs.slugs])
    popular = graphql_bodies(page_query, [{"slug": s} for s in jobs.popular])
    # PostGraphile's page has no related stories (no search engine behind it), nor do the
    # one-statement limit's: the same page without them compares like with like.
    page_without_related = without_related(page_query)
    pages_without_related = graphql_bodies(page_without_related, [{"slug": s} for s in jobs.slugs])
    loads: dict[str, Load] = {}
    memory: dict[str, Any] = {}
    api = [sys.executable, "-m", "api.cli", "serve"]
    pids: dict[str, int] = {}

    def scenario(name: str, url: str, bodies: list[dict[str, Any]], **options: Any) -> None:
        if wanted(name):
            loads[name] = Load(url, bodies, **{"connections": CONNECTIONS, **options})

    with ExitStack() as running:
        uncached = (
            "article_page_uncached",
            "latest_articles_50",
            "search_graphql",
            "article_page_uncached_without_related",
        )
        if wanted(*uncached):
            port = free_port()
            url = f"http://127.0.0.1:{port}/graphql"
            env = api_env(meili, port, cached=False)
            pids["uncached"] = running.enter_context(server("api-uncached", api, env, port))
            memory["api_uncached_start"] = peak_memory_mb(pids["uncached"])
            scenario("article_page_uncached", url, pages, check=has_article)
            scenario(
                "latest_articles_50",
                url,
                graphql_bodies(latest_query, [{"first": 50}]),
                check=lambda a: "errors" not in a,
            )
            searches = graphql_bodies(
                search_query, [{"q": q, "filter": search_filter(w)} for q, w in jobs.searches]
            )
            scenario(
                "search_graphql",
                url,
                searches,
                connections=LATENCY_CONNECTIONS,
                check=lambda a: "errors" not in a and not a["data"]["search"]["degraded"],
            )
            scenario(
                "article_page_uncached_without_related",
                url,
                pages_without_related,
                check=has_article,
            )

        if wanted("article_page_cached"):
            port = free_port()
            url = f"http://127.0.0.1:{port}/graphql"
            env = api_env(meili, port, cached=True)
            pids["cached"] = running.enter_context(server("api-cached", api, env, port))
            for body in popular:  # fill the cache, as the first readers of each page would
                httpx.post(url, json=body, timeout=30)
            scenario("article_page_cached", url, popular, check=has_article)
        if wanted("site_article_page_cached"):
            # The reader site's article page, rendered on the server and cached the same way,
            # by a process of its own: the cached API's memory is then that of the answers the
            # issue measured it with (the 200 pages' HTML and its gzip are held beside them).
            port = free_port()
            env = api_env(meili, port, cached=True)
            pids["site"] = running.enter_context(server("api-site", api, env, port))
            site, page_paths = f"http://127.0.0.1:{port}", [f"/articles/{s}" for s in jobs.popular]
            for path in page_paths:
                httpx.get(site + path, timeout=30)
            scenario(
                "site_article_page_cached",
                site,
                [],
                paths=page_paths,
                check=lambda text: '<h1 id="story-title">' in text,
            )

        if wanted("raw_limit"):
            port = free_port()
            env = api_env(meili, port, cached=False)
            raw = uvicorn("bench.raw_limit:app", port)
            running.enter_context(server("raw-limit", raw, env, port))
            scenario("raw_limit", f"http://127.0.0.1:{port}/article", pages, check=has_article)

        if wanted("one_statement_limit"):
            port = free_port()
            env = api_env(meili, port, cached=False)
            one = uvicorn("bench.one_statement:app", port)
            running.enter_context(server("one-statement-limit", one, env, port))
            url = f"http://127.0.0.1:{port}/article"
            same_pages(url, page_without_related, jobs.slugs[:SAME_PAGE_SAMPLE])
            scenario("one_statement_limit", url, pages_without_related, check=has_article)

        if wanted("postgraphile", "postgraphile_latest_50"):
            port = free_port()
            running.callback(postgraphile.stop, postgraphile.start(DATABASE_URL, port))
            url = f"http://127.0.0.1:{port}/graphql"
            scenario(
                "postgraphile",
                url,
                graphql_bodies(postgraphile.query(), [{"slug": s} for s in jobs.slugs]),
                check=has_article,
            )
            scenario(
                "postgraphile_latest_50",
                url,
                graphql_bodies(postgraphile.latest_query(), [{"first": 50}]),
                check=lambda a: "errors" not in a and len(a["data"]["articles"]["nodes"]) == 50,
            )

        if wanted("postgraphile_v5"):
            port = free_port()
            running.callback(postgraphile.stop, postgraphile.start(DATABASE_URL, port, version=5))
            scenario(
                "postgraphile_v5",
                f"http://127.0.0.1:{port}/graphql",
                graphql_bodies(postgraphile.query(5), [{"slug": s} for s in jobs.slugs]),
                check=has_article,
            )

        direct = [
            search_articles.search_request(
                q, page=1, hits_per_page=10, where=w, sort=search_articles.Sort.RELEVANCE
            )
            for q, w in jobs.searches
        ]
        scenario(
            "search_direct",
            f"{meili.url}/indexes/{INDEX_PREFIX}articles/search",
            direct,
            headers={"Authorization": f"Bearer {meili.master_key}", "Accept-Encoding": "identity"},
            connections=LATENCY_CONNECTIONS,
            check=lambda a: "hits" in a,
        )
        per_round = max(1, SECONDS // ROUNDS)
        scenarios = alternate(loads, ROUNDS, per_round, WARM_UP_SECONDS, console.print)
        if "uncached" in pids:
            memory["api_uncached_end"] = peak_memory_mb(pids["uncached"])
        if "cached" in pids:
            memory["api_cached_end"] = peak_memory_mb(pids["cached"])
        if "site" in pids:
            memory["api_site_end"] = peak_memory_mb(pids["site"])
    return {"scenarios": scenarios, "memory": memory}


def run_soak(meili: LocalMeilisearch, mix: list[soak.Request]) -> dict[str, Any]:
    port = free_port()
    api = [sys.executable, "-m", "api.cli", "serve"]
    with server("api-soak", api, api_env(meili, port, cached=True), port) as pid:
        return soak.run(f"http://127.0.0.1:{port}/graphql", pid, mix)


# The faster of PostGraphile v4 and v5 in this run (issue 14 holds the page to the faster peer).
FASTER_PEER = "faster_postgraphile"
TARGETS = [
    # (label, numerator, denominator, measure, target, higher is better)
    (
        "article page uncached / faster PostGraphile",
        "article_page_uncached",
        FASTER_PEER,
        "rps",
        1.2,
        True,
    ),
    (
        "article page uncached / one-statement limit",
        "article_page_uncached",
        "one_statement_limit",
        "rps",
        0.6,
        True,
    ),
    (
        "latest 50 uncached / PostGraphile v4",
        "latest_articles_50",
        "postgraphile_latest_50",
        "rps",
        1.2,
        True,
    ),
    ("search p50 GraphQL / direct", "search_graphql", "search_direct", "p50_ms", 1.2, False),
    (
        "article page cached / faster PostGraphile",
        "article_page_cached",
        FASTER_PEER,
        "rps",
        9.0,
        True,
    ),
]
# Ratios the issue sets no target for, shown beside the targets: requests/s, one over the other.
COMPARISONS = [
    ("article page uncached / raw limit", "article_page_uncached", "raw_limit"),
    (
        "page without related, uncached / one-statement limit",
        "article_page_uncached_without_related",
        "one_statement_limit",
    ),
    ("PostGraphile v4 page / one-statement limit", "postgraphile", "one_statement_limit"),
    ("PostGraphile v5 page / v4 page", "postgraphile_v5", "postgraphile"),
]


def with_faster_peer(scenarios: dict[str, Any]) -> dict[str, Any]:
    """The scenarios, and the faster PostGraphile's figures under FASTER_PEER when both ran
    (round by round: the faster of the two in each round)."""
    if "postgraphile" not in scenarios or "postgraphile_v5" not in scenarios:
        return scenarios
    peer = faster_of(scenarios["postgraphile"], scenarios["postgraphile_v5"])
    return {**scenarios, FASTER_PEER: peer}


def target_rows(scenarios: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target whose both sides ran: the median of its rounds' ratios, and each round's."""
    measured = with_faster_peer(scenarios)
    rows = []
    for label, top, bottom, measure, target, higher in TARGETS:
        if top not in measured or bottom not in measured:
            continue
        value, each = paired_ratio(measured[top], measured[bottom], measure)
        rows.append(
            {
                "ratio": label,
                "value": round(value, 3),
                "rounds": [round(v, 3) for v in each],
                "target": target,
                "met": value >= target if higher else value <= target,
                "target_kind": "at least" if higher else "at most",
            }
        )
    return rows


def markdown(results: dict[str, Any]) -> str:
    """The run's tables as docs/performance.md shows them."""
    lines = ["| scenario | requests/s | p50 ms | p99 ms |", "| --- | ---: | ---: | ---: |"]
    for name, outcome in results["scenarios"].items():
        rps, p50, p99 = outcome["rps"], outcome["p50_ms"], outcome["p99_ms"]
        lines.append(f"| {name} | {rps:,.0f} | {p50:.2f} | {p99:.2f} |")
    lines += [
        "",
        "| ratio | value | each round | target | met |",
        "| --- | ---: | --- | --- | --- |",
    ]
    for row in results["ratios"]:
        met = "yes" if row["met"] else "**no**"
        target = f"{row['target_kind']} {row['target']}"
        each = ", ".join(f"{v:.2f}" for v in row.get("rounds", []))
        lines.append(f"| {row['ratio']} | {row['value']:.2f} | {each} | {target} | {met} |")
    lines += ["", "| comparison | value |", "| --- | ---: |"]
    lines += [f"| {row['ratio']} | {row['value']:.2f} |" for row in results["comparisons"]]
    memory = ", ".join(f"{k} {v['rss_mb']} MB" for k, v in results["memory"].items())
    return "\n".join([*lines, "", f"API memory (RSS): {memory}.", ""])


def comparisons(scenarios: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "ratio": label,
            "value": round(paired_ratio(scenarios[top], scenarios[bottom], "rps")[0], 3),
        }
        for label, top, bottom in COMPARISONS
        if top in scenarios and bottom in scenarios
    ]


def report(results: dict[str, Any]) -> None:
    scenarios = results["scenarios"]
    title = (
        f"one process each, {CONNECTIONS} connections ({LATENCY_CONNECTIONS} for "
        f"search), {SECONDS}s per scenario in {ROUNDS} alternating rounds"
    )
    print_scenarios(title, scenarios)

    ratios = target_rows(scenarios)
    indexing = results["indexing"]
    ratios.append(
        {
            "ratio": "reindex / Meilisearch direct ingestion",
            "value": indexing["ratio"],
            "target": 0.8,
            "met": indexing["ratio"] >= 0.8,
            "target_kind": "at least",
        }
    )
    checks = Table(title="targets")
    for column in ("ratio", "value", "target", "met"):
        checks.add_column(column)
    for row in ratios:
        checks.add_row(
            row["ratio"],
            f"{row['value']:.2f}",
            f"{row['target_kind']} {row['target']}",
            "yes" if row["met"] else "NO",
        )
    console.print(checks)
    results["comparisons"] = comparisons(scenarios)
    for row in results["comparisons"]:
        console.print(f"{row['ratio']}: {row['value']:.2f}")
    console.print(f"API memory: {results['memory']}")
    results["ratios"] = ratios
    results["run_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    results["settings"] = {
        "seconds": SECONDS,
        "connections": CONNECTIONS,
        "cached_pages": CACHED_PAGES,
        "database": make_url(DATABASE_URL).render_as_string(hide_password=True),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    latest = RESULTS / "latest.json"
    if latest.exists() and "soak" not in results:
        # The soak runs on its own (`make bench-soak`): its last figures stay beside these.
        previous = json.loads(latest.read_text())
        if "soak" in previous:
            results["soak"] = previous["soak"]
    text = json.dumps(results, indent=2) + "\n"
    latest.write_text(text)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"bench-{stamp}.json").write_text(text)
    (RESULTS / "latest.md").write_text(markdown(results))
    console.print(f"written to {RESULTS / 'latest.json'}, latest.md and bench-{stamp}.json")


def print_scenarios(title: str, scenarios: dict[str, Any]) -> None:
    table = Table(title=title)
    for column in ("scenario", "requests/s", "p50 ms", "p99 ms", "errors"):
        table.add_column(column, justify="left" if column == "scenario" else "right")
    for name, outcome in scenarios.items():
        table.add_row(
            name,
            f"{outcome['rps']:.0f}",
            f"{outcome['p50_ms']:.2f}",
            f"{outcome['p99_ms']:.2f}",
            str(outcome["errors"]),
        )
    console.print(table)


def report_selected(results: dict[str, Any]) -> None:
    """A BENCH_SCENARIOS run: its table, and the targets whose both sides were measured."""
    scenarios = results["scenarios"]
    title = f"selected scenarios, {SECONDS}s each in {ROUNDS} rounds (not written to results)"
    print_scenarios(title, scenarios)
    for row in target_rows(scenarios):
        rounds = ", ".join(f"{v:.2f}" for v in row["rounds"])
        met = "yes" if row["met"] else "NO"
        console.print(
            f"{row['ratio']}: {row['value']:.2f} (rounds {rounds}; "
            f"{row['target_kind']} {row['target']}: {met})"
        )
    for row in comparisons(scenarios):
        console.print(f"{row['ratio']}: {row['value']:.2f}")


async def ensure_index(meili: LocalMeilisearch) -> None:
    """Index the corpus unless Meilisearch already holds every published story of it."""
    engine = create_engine(DATABASE_URL)
    client = SearchClient(meili.url, meili.master_key, prefix=INDEX_PREFIX)
    try:
        published: set[int] = set()
        async with engine.connect() as conn:
            async for ids in published_ids_in_batches(conn, 1000):
                published.update(ids)
        indexed = (
            await client.document_ids(client.articles)
            if await client.index_exists(client.articles)
            else set()
        )
        if indexed != published:
            console.print(f"indexing {len(published)} stories …")
            await reindex(engine, client)
    finally:
        await client.aclose()
        await engine.dispose()


async def main_soak() -> None:
    """`make bench-soak`: the soak alone, merged into bench/results/latest.json (the other
    scenarios' figures stay), and written on its own to a dated soak-….json."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed for the load: `apt-get install wrk` (make bench does it)")
    WORK.mkdir(parents=True, exist_ok=True)
    await prepare_corpus()
    meili = LocalMeilisearch(WORK / "meilisearch")
    await meili.start()
    try:
        await ensure_index(meili)
        mix = await soak.reader_mix(DATABASE_URL)
        figures = await asyncio.to_thread(run_soak, meili, mix)
    finally:
        await meili.stop()
    figures["run_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    figures["machine"] = machine()
    RESULTS.mkdir(parents=True, exist_ok=True)
    latest = RESULTS / "latest.json"
    results = json.loads(latest.read_text()) if latest.exists() else {}
    results["soak"] = figures
    latest.write_text(json.dumps(results, indent=2) + "\n")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"soak-{stamp}.json").write_text(json.dumps(figures, indent=2) + "\n")
    console.print(f"written to {latest} (soak) and soak-{stamp}.json")


async def main_reindex() -> None:
    """`make bench-reindex`: the reindex at scale (BENCH_REINDEX_ARTICLES, default 100,000
    stories, in a database of its own), next to Meilisearch's rate for the same documents."""
    articles = int(os.environ.get("BENCH_REINDEX_ARTICLES", "100000"))
    url = make_url(DATABASE_URL).set(database="newsroom_bench_reindex").render_as_string(False)
    counts = await prepare_corpus(url, articles=articles, comments=0)
    # A fresh Meilisearch: an interrupted run leaves its queued tasks behind, and they would be
    # processed during this one.
    shutil.rmtree(WORK / "meilisearch-reindex", ignore_errors=True)
    meili = LocalMeilisearch(WORK / "meilisearch-reindex")
    await meili.start()
    try:
        indexing = await measure_indexing(meili, url)
    finally:
        await meili.stop()
    console.print(
        f"reindex of {indexing['documents']} stories: {indexing['reindex_docs_per_s']:.0f}/s; "
        f"Meilisearch direct: {indexing['direct_docs_per_s']:.0f}/s; "
        f"ratio {indexing['ratio']:.2f} (target at least 0.8)"
    )
    results = {
        "run_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "corpus": counts,
        "indexing": indexing,
        "machine": machine(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "reindex-latest.json").write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    commands = {"reindex": main_reindex, "soak": main_soak}
    if sys.argv[1:] and sys.argv[1] not in commands:
        raise SystemExit(f"usage: python -m bench.suite [{' | '.join(commands)}]")
    asyncio.run(commands[sys.argv[1]]() if sys.argv[1:] else main())
