"""Related stories, measured (issue 14): quality, and what computing the lists costs.

1. precision@5 by BBC category on the demo corpus: for the same 400 stories bench/search_bench.py
   samples (same seed), the share of the five related stories in the story's own BBC category
   (a list shorter than five counts its missing places as misses). The BBC category is the
   story's section, which ranking reads only as a small prior (similarity.SECTION_WEIGHT): the
   figure is given with it and by content alone. Before issue 14 (a Meilisearch multi-search per
   page view) this was 0.825.
2. the time to compute every list, from a cold start (the job reads the corpus first) and again
   with the corpus held, on the demo corpus and on the 10,000-story benchmark corpus
   (bench/corpus.py, without comments);
3. a single publish on the benchmark corpus: from the editor's commit until its list and the
   lists it now enters are stored, with the job running as it does in the API.

Run with `make bench-related`. Scratch SQLite databases under var/bench-related/;
`--postgres URL` (a server's maintenance database) runs 2 and 3 on a scratch PostgreSQL database
too. Results go to bench/results/related-latest.json and a dated copy.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import random
import re
import resource
import shutil
import statistics
import sys
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from bench.corpus import generate
from models import editing, migrate, similarity
from models.article import Article, Section
from models.importer import import_lines
from models.related import RelatedArticle, related_by_article
from models.related_job import RelatedWorker
from models.related_queue import count_due, request_full_pass
from models.session import create_engine, session_factory

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "bench-related"
RESULTS = ROOT / "bench" / "results"
BBC = ROOT / "demo" / "bbc-news.jsonl"
SEED = 20241125  # bench/search_bench.py's: the same 400 stories
SAMPLE = 400
BEFORE = 0.825  # the Meilisearch multi-search of before issue 14, same measure


async def precision_at_5(engine: AsyncEngine, section_of: dict[str, str]) -> dict[str, Any]:
    """The share of the five related stories in the story's own BBC category, overall and by
    category, for SAMPLE stories drawn as bench/search_bench.py draws them."""
    async with engine.connect() as conn:
        ids = list((await conn.execute(sa.select(Article.id).order_by(Article.id))).scalars())
        sample = random.Random(SEED).sample(ids, min(SAMPLE, len(ids)))
        slug_by_id = dict((await conn.execute(sa.select(Article.id, Article.slug))).all())
        lists = await related_by_article(conn, sample, 5)
    by_category: dict[str, list[float]] = defaultdict(list)
    for story_id in sample:
        category = section_of[slug_by_id[story_id]]
        hits = sum(section_of[row.slug] == category for row in lists[story_id])
        by_category[category].append(hits / 5)
    every = [p for values in by_category.values() for p in values]
    return {
        "overall": statistics.mean(every),
        "by_category": {c: statistics.mean(v) for c, v in sorted(by_category.items())},
        "stories": len(every),
    }


async def compute_all(engine: AsyncEngine) -> dict[str, Any]:
    """Every list from a cold start, then every list again with the corpus held."""
    worker = RelatedWorker(engine, batch_size=500)
    try:
        await request_full_pass(engine)
        cold = await _timed(worker)
        await request_full_pass(engine)
        warm = await _timed(worker)
        return {"stories": len(worker.corpus), "cold": cold, "warm": warm}
    finally:
        worker.close()


async def _timed(worker: RelatedWorker) -> dict[str, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    lists = await worker.drain()
    # process_time counts every thread: ranking runs in the worker's own.
    return {
        "lists": lists,
        "seconds": round(time.perf_counter() - wall, 1),
        "cpu_seconds": round(time.process_time() - cpu, 1),
    }


async def single_publish(engine: AsyncEngine) -> dict[str, Any]:
    """An editor publishes a story on the subject of an existing one while the job runs as in
    the API (woken by the write): seconds until nothing is due and the story has its list."""
    worker = RelatedWorker(engine)  # the API's batch size
    stop = asyncio.Event()
    try:
        await request_full_pass(engine)
        await worker.drain()  # every list computed, the corpus held: the API's steady state
        async with engine.connect() as conn:
            lead = (
                await conn.execute(
                    sa.select(Article.slug, Article.title, Article.body, Article.section_id)
                    .where(Article.status == "published")
                    .order_by(Article.id)
                    .limit(1)
                )
            ).one()
            section = await conn.scalar(
                sa.select(Section.slug).where(Section.id == lead.section_id)
            )
        # Every third sentence of the story: on its subject, and no near-twin of it.
        sentences = re.split(r"(?<=[.!?])\s+", " ".join(b["text"] for b in lead.body))
        draft = editing.ArticleDraft(
            slug=f"follow-up-{uuid.uuid4().hex[:8]}",
            title=f"Follow-up: {lead.title}",
            section=section,
            body=[("paragraph", " ".join(sentences[::3]))],
        )
        computed_before = worker.computed
        running = asyncio.create_task(worker.run(stop))
        started = time.perf_counter()
        async with session_factory(engine).begin() as session:
            await editing.save_article(session, draft, "bench")
            article = await editing.publish(session, draft.slug)
        worker.notify()
        while True:
            await asyncio.sleep(0.05)
            async with engine.connect() as conn:
                mine = (await related_by_article(conn, [article.id], 5))[article.id]
                entered = await conn.scalar(
                    sa.select(sa.func.count()).where(RelatedArticle.related_id == article.id)
                )
            if mine and await count_due(engine) == 0:
                break
            if time.perf_counter() - started > 120:
                raise RuntimeError("the publish was not handled within two minutes")
        seconds = time.perf_counter() - started
        stop.set()
        await running
        return {
            "seconds": round(seconds, 2),
            "lists_computed": worker.computed - computed_before,
            "lists_it_entered": entered,
            "its_first_related": [row.slug for row in mine][:3],
            "follows": lead.slug,
        }
    finally:
        stop.set()
        worker.close()


async def corpus_memory(url: str) -> dict[str, int]:
    """In a process of its own (memory freed earlier would hide what the corpus takes): the
    resident memory an API process gains when its job first reads the corpus and ranks."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.related_bench",
        "--corpus-memory",
        url,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    return json.loads(out)


async def _measure_corpus(url: str) -> None:
    engine = create_engine(url)
    worker = RelatedWorker(engine)
    gc.collect()
    before = _resident_mb()
    try:
        await request_full_pass(engine)
        await worker.run_once()  # reads the whole corpus, ranks one batch
        gc.collect()
        print(
            json.dumps(
                {"before_mb": before, "after_mb": _resident_mb(), "stories": len(worker.corpus)}
            )
        )
    finally:
        worker.close()
        await engine.dispose()


def _resident_mb() -> int:
    """This process's resident memory now, from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    return 0


async def bbc(path: Path) -> dict[str, Any]:
    engine = create_engine(f"sqlite:///{path}")
    try:
        await migrate.upgrade(engine)
        lines = BBC.read_text().splitlines()
        section_of = {json.loads(line)["slug"]: json.loads(line)["section"] for line in lines}
        report = await import_lines(session_factory(engine), lines)
        assert report.failed == 0, report.errors
        timing = await compute_all(engine)
        precision = await precision_at_5(engine, section_of)
        # The same by content alone: the section prior is the one input the measure checks.
        prior, similarity.SECTION_WEIGHT = similarity.SECTION_WEIGHT, 0.0
        try:
            await compute_all(engine)
            content_only = await precision_at_5(engine, section_of)
        finally:
            similarity.SECTION_WEIGHT = prior
        return {
            "precision_at_5": precision,
            "precision_at_5_without_section": content_only,
            "section_weight": prior,
            "compute": timing,
        }
    finally:
        await engine.dispose()


async def benchmark_corpus(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
        counts = await generate(engine, articles=10_000, comments=0)
        timing = await compute_all(engine)
        publish = await single_publish(engine)
        memory = await corpus_memory(url)
        return {
            "articles": counts["articles"],
            "compute": timing,
            "single_publish": publish,
            "corpus_memory": memory,
        }
    finally:
        await engine.dispose()


async def _admin(server: str, sql: str) -> None:
    conn = await asyncpg.connect(make_url(server).render_as_string(hide_password=False))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def main(postgres: str | None) -> None:
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    result: dict[str, Any] = {
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average": os.getloadavg(),
        },
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    print("BBC demo corpus: importing, computing every list …", file=sys.stderr)
    result["bbc"] = await bbc(WORK / "bbc.db")
    print("benchmark corpus (10,000 stories) on SQLite …", file=sys.stderr)
    result["benchmark_sqlite"] = await benchmark_corpus(f"sqlite:///{WORK / 'bench.db'}")
    if postgres:
        name = f"newsroom_related_bench_{uuid.uuid4().hex[:8]}"
        await _admin(postgres, f'CREATE DATABASE "{name}"')
        try:
            print("benchmark corpus (10,000 stories) on PostgreSQL …", file=sys.stderr)
            url = make_url(postgres).set(database=name).render_as_string(hide_password=False)
            result["benchmark_postgresql"] = await benchmark_corpus(url)
        finally:
            await _admin(postgres, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    result["machine"]["load_average_after"] = os.getloadavg()
    _report(result)
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result, indent=2)
    (RESULTS / "related-latest.json").write_text(text + "\n")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    (RESULTS / f"related-{stamp}.json").write_text(text + "\n")


def _report(result: dict[str, Any]) -> None:
    precision = result["bbc"]["precision_at_5"]
    print(f"\nRelated stories, precision@5 by BBC category ({precision['stories']} stories)\n")
    alone = result["bbc"]["precision_at_5_without_section"]
    print(f"{'':>14} {'ours':>6} {'content':>8}   (before issue 14: {BEFORE:.3f})")
    print(f"{'overall':>14} {precision['overall']:>6.3f} {alone['overall']:>8.3f}")
    for category, value in precision["by_category"].items():
        print(f"{category:>14} {value:>6.3f} {alone['by_category'][category]:>8.3f}")
    print(f"\n{'corpus':28} {'stories':>8} {'cold s':>8} {'cpu s':>7} {'warm s':>8} {'cpu s':>7}")
    for label, key in (
        ("BBC demo, SQLite", "bbc"),
        ("benchmark, SQLite", "benchmark_sqlite"),
        ("benchmark, PostgreSQL", "benchmark_postgresql"),
    ):
        if key not in result:
            continue
        c = result[key]["compute"]
        print(
            f"{label:28} {c['stories']:>8} {c['cold']['seconds']:>8} "
            f"{c['cold']['cpu_seconds']:>7} {c['warm']['seconds']:>8} {c['warm']['cpu_seconds']:>7}"
        )
    for key in ("benchmark_sqlite", "benchmark_postgresql"):
        if key in result:
            p = result[key]["single_publish"]
            print(
                f"\nsingle publish ({key.split('_')[1]}): {p['seconds']} s, "
                f"{p['lists_computed']} lists computed, it entered {p['lists_it_entered']}"
            )
            m = result[key]["corpus_memory"]
            print(
                f"the job's corpus of {m['stories']} stories: {m['after_mb'] - m['before_mb']} MB "
                f"resident ({m['before_mb']} MB before)"
            )
    print(f"peak resident memory of the process: {result['peak_rss_mb']} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.related_bench", description=__doc__)
    parser.add_argument("--postgres", help="a PostgreSQL server's URL (its maintenance database)")
    parser.add_argument("--corpus-memory", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.corpus_memory:
        asyncio.run(_measure_corpus(args.corpus_memory))
    else:
        asyncio.run(main(args.postgres))
