"""Search measurements, side by side in one run (issue 3):

1. latency of site search through GraphQL next to the same searches sent straight to Meilisearch;
2. known-item search: each BBC title with one word misspelt, share whose story ranks first, next
   to a plain SQL full-text baseline (SQLite FTS5, bm25);
3. related stories: precision@5 of sharing the story's BBC category, next to a title-keyword query
   (ours: the lists the related-stories job computed, as `related` serves them; the Meilisearch
   multi-search of before issue 14 beside them; `make bench-related` measures more of it).

Run with `make bench-search`. Everything runs on this machine: a scratch SQLite database, a
Meilisearch of its own and the API with one uvicorn worker, all under var/bench-search/.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import sqlalchemy as sa

from models import migrate
from models.article import Article
from models.document import published_sources
from models.importer import import_lines
from models.related import related_by_article
from models.related_job import RelatedWorker
from models.session import create_engine, session_factory
from search import articles as search_articles
from search.client import SearchClient
from search.indexes import ensure_articles_index
from search.server import LocalMeilisearch, free_port
from search.worker import OutboxWorker

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "bench-search"
RESULTS = ROOT / "bench" / "results"
BBC = ROOT / "demo" / "bbc-news.jsonl"
SITE_SEARCH = (ROOT / "api" / "site" / "contract" / "site-search.graphql").read_text()
SEED = 20241125
LATENCY_ROUNDS = 400
RELATED_SAMPLE = 400


def misspell(word: str, rng: random.Random) -> str:
    """One typo: a swap, a dropped letter, a doubled letter or a replaced letter."""
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(["swap", "drop", "double", "replace"])
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    letters = "abcdefghijklmnopqrstuvwxyz".replace(word[i].lower(), "")
    return word[:i] + rng.choice(letters) + word[i + 1 :]


def typo_queries(records: list[dict], rng: random.Random) -> list[tuple[str, str]]:
    """(title, title with one word of five letters or more misspelt).

    The corpus holds exact duplicates (same title, two files): the known item is found when the
    first hit has its title.
    """
    queries = []
    for record in records:
        words = record["title"].split()
        candidates = [i for i, w in enumerate(words) if len(w) >= 5 and w.isalpha()]
        if not candidates:
            continue
        i = rng.choice(candidates)
        words[i] = misspell(words[i], rng)
        queries.append((record["title"], " ".join(words)))
    return queries


def fts5_baseline(records: list[dict], queries: list[tuple[str, str]]) -> float:
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE docs USING fts5(name UNINDEXED, title, body)")
    db.executemany(
        "INSERT INTO docs VALUES (?, ?, ?)",
        [(r["title"], r["title"], " ".join(b["text"] for b in r["body"])) for r in records],
    )
    first = 0
    for title, query in queries:
        terms = " OR ".join('"' + w.replace('"', "") + '"' for w in query.split() if w.strip('"'))
        row = db.execute(
            "SELECT name FROM docs WHERE docs MATCH ? ORDER BY bm25(docs, 0, 3, 1) LIMIT 1",
            (terms,),
        ).fetchone()
        first += bool(row and row[0] == title)
    return first / len(queries)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main() -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    records = [json.loads(line) for line in BBC.read_text().splitlines()]
    section_of = {r["slug"]: r["section"] for r in records}
    database = f"sqlite:///{WORK / 'bench.db'}"
    engine = create_engine(database)
    await migrate.upgrade(engine)
    await import_lines(session_factory(engine), BBC.read_text().splitlines())
    meili = LocalMeilisearch(WORK / "meilisearch")
    await meili.start()
    client = SearchClient(meili.url, meili.master_key)
    await ensure_articles_index(client)
    await OutboxWorker(engine, client, batch_size=1000).drain()
    rng = random.Random(SEED)

    # 2. Known-item search with a typo.
    queries = typo_queries(records, rng)
    first = 0
    for title, query in queries:
        answer = await client.search(
            client.articles, query, limit=1, attributesToRetrieve=["title"]
        )
        first += bool(answer["hits"]) and answer["hits"][0]["title"] == title
    known_item = first / len(queries)
    known_item_fts = fts5_baseline(records, queries)

    # 3. Related stories, precision@5 by BBC category.
    worker = RelatedWorker(engine, batch_size=500)
    try:
        await worker.drain()
    finally:
        worker.close()
    async with engine.connect() as conn:
        ids = list((await conn.execute(sa.select(Article.id).order_by(Article.id))).scalars())
        sample = random.Random(SEED).sample(ids, min(RELATED_SAMPLE, len(ids)))
        sources = await published_sources(conn, sample)
        slug_by_id = dict((await conn.execute(sa.select(Article.id, Article.slug))).all())
        lists = await related_by_article(conn, sample, 5)
    ours, before, baseline = [], [], []
    for article_id in sample:
        source = sources[article_id]
        category = section_of[source.slug]
        ours.append(sum(section_of[row.slug] == category for row in lists[article_id]) / 5)
        related = await search_articles.related_articles(client, source, 5)
        before.append(sum(section_of[slug_by_id[i]] == category for i in related) / 5)
        plain = await client.search(
            client.articles,
            source.title,
            limit=5,
            filter=[f"id != {article_id}"],
            attributesToRetrieve=["id"],
        )
        baseline.append(
            sum(section_of[slug_by_id[int(h["id"])]] == category for h in plain["hits"]) / 5
        )
    precision, precision_baseline = statistics.mean(ours), statistics.mean(baseline)
    precision_before = statistics.mean(before)

    # 1. Latency: GraphQL through one uvicorn worker, next to the same search sent directly.
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "MEILI_URL": meili.url,
        "MEILI_MASTER_KEY": meili.master_key,
        "SEARCH_WORKER": "false",
        "PORT": str(port),
        "LOG_LEVEL": "warning",
        "DATA_DIR": str(WORK),
    }
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api.cli",
        "serve",
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    words = [q.split()[0] for _, q in queries[:50]] + ["", "election", "mobile phone", "oil price"]
    graphql_ms, direct_ms = [], []
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            for _ in range(100):
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    await asyncio.sleep(0.1)
            for round_ in range(LATENCY_ROUNDS + 20):
                q = words[round_ % len(words)]
                started = time.perf_counter()
                response = await http.post(
                    "/graphql", json={"query": SITE_SEARCH, "variables": {"q": q}}
                )
                elapsed_graphql = (time.perf_counter() - started) * 1000
                assert "errors" not in response.json(), response.text
                started = time.perf_counter()
                # The page's search as one request, as a client of Meilisearch alone sends it
                # (the API sends it as two at once: search/articles.PageSearch).
                request = search_articles.search_request(
                    q,
                    page=1,
                    hits_per_page=10,
                    where=search_articles.Where(),
                    sort=search_articles.Sort.RELEVANCE,
                )
                await client.search(client.articles, request.pop("q"), **request)
                elapsed_direct = (time.perf_counter() - started) * 1000
                if round_ >= 20:  # warm-up
                    graphql_ms.append(elapsed_graphql)
                    direct_ms.append(elapsed_direct)
    finally:
        server.terminate()
        await server.wait()
        await client.aclose()
        await meili.stop()
        await engine.dispose()

    result = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
        },
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "search_latency_ms": {
            "graphql": {"p50": percentile(graphql_ms, 0.5), "p95": percentile(graphql_ms, 0.95)},
            "direct": {"p50": percentile(direct_ms, 0.5), "p95": percentile(direct_ms, 0.95)},
        },
        "known_item_first": {
            "meilisearch": known_item,
            "sqlite_fts5": known_item_fts,
            "queries": len(queries),
        },
        "related_precision_at_5": {
            "ours": precision,
            "meilisearch_multi_search_before_issue_14": precision_before,
            "title_keyword_baseline": precision_baseline,
            "articles": len(sample),
        },
    }
    latency = result["search_latency_ms"]
    print("\nSearch benchmark (BBC corpus, 2,225 stories)\n")
    print(f"{'measure':44} {'ours':>10} {'baseline':>10} {'ratio':>8}")
    for label, key in (
        ("search latency p50 ms (GraphQL vs direct)", "p50"),
        ("search latency p95 ms (GraphQL vs direct)", "p95"),
    ):
        ours_v, base_v = latency["graphql"][key], latency["direct"][key]
        print(f"{label:44} {ours_v:10.2f} {base_v:10.2f} {ours_v / base_v:8.2f}")
    for label, ours_v, base_v in (
        ("known item ranked first, one typo (vs FTS5)", known_item, known_item_fts),
        ("related precision@5 (vs title keywords)", precision, precision_baseline),
        ("  the same, before issue 14 (multi-search)", precision_before, precision_baseline),
    ):
        print(f"{label:44} {ours_v:10.3f} {base_v:10.3f} {ours_v / max(base_v, 1e-9):8.2f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2)
    (RESULTS / "search-latest.json").write_text(text + "\n")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"search-{stamp}.json").write_text(text + "\n")


if __name__ == "__main__":
    asyncio.run(main())
