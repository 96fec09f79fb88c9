"""`make bench-topology`: the docker-compose shape run for real on this machine, with faults.

Debian's nginx (the repository's bench/nginx/newsroom.conf) in front of REPLICAS `newsroom serve`
processes of WORKERS_PER_REPLICA workers each, sharing a PostgreSQL, a Redis and a Meilisearch of
the run's own, everything on loopback (bench/topology_stack.py). The demo content is loaded with
`newsroom demo`, the editor's token made with `newsroom token create` (bench/topology_setup.py).

Then for TOPOLOGY_SECONDS, through nginx: readers at TOPOLOGY_READ_RATE requests a second
(bench/topology_load.py), an editor saving and publishing and readers commenting
(bench/topology_writes.py). Meanwhile, at 20 %, 50 % and 75 % of the run: one replica's process
group is killed (SIGKILL) and started again, Redis is restarted, Meilisearch is restarted, each
down for TOPOLOGY_DOWN_SECONDS. After the run the search outbox drains, and every acknowledged
write is looked for in SQL and in the index (bench/topology_ledger.py). The figures go to
bench/results/topology-latest.json and a dated copy (docs/topology.md explains them).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import secrets
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from api.site.routes import contract_query
from bench import soak
from bench.topology_ledger import Ledger, Thread, verify
from bench.topology_load import Read, Readers, Recorder, build_mix
from bench.topology_report import (
    RECOVERY_SECONDS,
    grouped,
    log_findings,
    machine,
    phases,
    print_report,
    reasons,
    samples,
    summary,
    timeline,
)
from bench.topology_setup import editor_token, ensure_index, prepare_database, settle, watch
from bench.topology_stack import (
    POSTGRES_MAX_CONNECTIONS,
    REPLICAS,
    ROOT,
    WORKERS_PER_REPLICA,
    Stack,
    kill_leftovers,
)
from bench.topology_writes import Commenters, Editor
from models import Article
from models.article import is_published
from models.session import create_engine

SECONDS = int(os.environ.get("TOPOLOGY_SECONDS", "240"))
READ_RATE = float(os.environ.get("TOPOLOGY_READ_RATE", "12"))
EDIT_INTERVAL = float(os.environ.get("TOPOLOGY_EDIT_INTERVAL", "1.5"))
COMMENT_INTERVAL = float(os.environ.get("TOPOLOGY_COMMENT_INTERVAL", "2"))
WARM_UP_SECONDS = int(os.environ.get("TOPOLOGY_WARM_UP_SECONDS", "60"))
DOWN_SECONDS = float(os.environ.get("TOPOLOGY_DOWN_SECONDS", "3"))
# Unset: a PostgreSQL server of the run's own (bench/topology_stack.py says why). Set it only to
# a server nothing else needs: the six workers' pools may take 240 connections.
DATABASE_URL = os.environ.get("TOPOLOGY_DATABASE_URL") or None
FAULTS_AT = (0.2, 0.5, 0.75)
NEW_STORY_SHARE = 0.15
COMMENT_TARGETS = 20  # the most read demo stories get comments too
SEED = 20261201
RESULTS = ROOT / "bench" / "results"
TARGET_ERROR_PCT = 0.5


async def _until(recorder: Recorder, at: float) -> None:
    await asyncio.sleep(max(0.0, at - recorder.now()))


async def faults(stack: Stack, recorder: Recorder) -> list[dict[str, Any]]:
    """The three faults, each at its point of the run (or RECOVERY_SECONDS after the last one
    was over, if that is later); the load goes on until RECOVERY_SECONDS after the last."""
    done: list[dict[str, Any]] = []
    victim = stack.apis[1]
    plan = [
        ("replica_killed", victim, victim.kill),
        ("redis_restarted", stack.redis, stack.redis.stop),
        ("meilisearch_restarted", stack.meilisearch, stack.meilisearch.stop),
    ]
    earliest = 0.0
    for (name, service, take_down), share in zip(plan, FAULTS_AT, strict=True):
        await _until(recorder, max(share * SECONDS, earliest))
        at = recorder.now()
        await take_down()
        down = recorder.now()
        print(f"{at:6.1f} s  {name}: {service.name} down in {down - at:.1f} s", flush=True)
        await asyncio.sleep(DOWN_SECONDS)
        # nginx is not told: uvicorn's master binds the port at once but its workers listen
        # only when they serve, so until then nginx's connects are refused and go elsewhere.
        restarted = recorder.now()
        service.start()
        stack.remember_pids()
        await service.ready()
        ready = recorder.now()
        print(f"{ready:6.1f} s  {service.name} ready, {ready - restarted:.1f} s after its start")
        earliest = recorder.now() + RECOVERY_SECONDS
        done.append(
            {
                "fault": name,
                "service": service.name,
                "at_s": round(at, 2),
                "stopped_in_s": round(down - at, 2),
                "restarted_at_s": round(restarted, 2),
                "start_to_ready_s": round(ready - restarted, 2),
                "recovered_at_s": round(ready, 2),
            }
        )
    recorder.end = max(SECONDS, earliest)
    return done


async def thread_baselines(readers: Readers, ledger: Ledger, slugs: list[str]) -> None:
    """What readers saw of each target's comments before the run."""
    for slug in slugs:
        answer = await readers.client.post(
            f"{readers.url}/graphql",
            json={"query": contract_query("comments-thread"), "variables": {"slug": slug}},
        )
        article = answer.json()["data"]["article"]
        ledger.threads[slug] = Thread(
            comment_count=article["commentCount"], top_level=article["comments"]["totalCount"]
        )


async def measure(stack: Stack, engine: AsyncEngine, token: str) -> dict[str, Any]:
    run = secrets.token_hex(3)
    async with engine.connect() as conn:
        rows = await conn.execute(sa.select(Article.slug, Article.title).where(is_published()))
        titles = {slug: title for slug, title in rows}
    assert stack.database_url is not None
    soak_mix = await soak.reader_mix(stack.database_url)
    reads, cumulative = build_mix(soak_mix)
    ledger, recorder = Ledger(run), Recorder()
    readers = Readers(stack.url, reads, cumulative, titles, ledger, recorder, SEED)
    targets = [r.body["variables"]["slug"] for r in soak_mix if r.kind == "article_page"]
    targets = targets[:COMMENT_TARGETS]
    editor = Editor(stack.url, token, ledger, recorder, readers)
    commenters = Commenters(stack.url, ledger, recorder, readers, targets)
    monitor: list[dict[str, Any]] = []
    try:
        await thread_baselines(readers, ledger, targets)
        print(f"warming up for {WARM_UP_SECONDS} s (not measured) …", flush=True)
        recorder.end = WARM_UP_SECONDS

        async def first_stories() -> None:
            for _ in range(4):  # one editor: one save at a time
                await editor.create()

        await asyncio.gather(readers.run(READ_RATE), first_stories())
        await readers.aclose_in_flight()
        recorder.restart(math.inf)  # until the faults are over and SECONDS have passed
        print(f"run {run}: {SECONDS} s, faults at {[round(s * SECONDS) for s in FAULTS_AT]} s")
        database = str(make_url(stack.database_url).database)
        watcher = asyncio.create_task(watch(engine, database, recorder, monitor))
        # A task that fails stops the others (the faults set the end of the load).
        async with asyncio.TaskGroup() as group:
            fault_task = group.create_task(faults(stack, recorder))
            group.create_task(readers.run(READ_RATE))
            group.create_task(editor.run(EDIT_INTERVAL, NEW_STORY_SHARE, SEED + 1))
            group.create_task(commenters.run(COMMENT_INTERVAL, SEED + 2))
        done = fault_task.result()
        await readers.aclose_in_flight()
        ended = recorder.end
        # A killed worker's claimed outbox rows come back when their lease ends: settle waits.
        print("settling: the search outbox drains …", flush=True)
        settled = await settle(engine, 60)
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        for story in ledger.published():  # every story of the run, read once more
            await readers.read(Read("after_settling", "article-page", {"slug": story.slug}))
        verified = await verify(engine, ledger, stack.meili_url, stack.meili_key, "articles")
        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {stack.meili_key}"}) as c:
            meili_version = (await c.get(f"{stack.meili_url}/version")).json()["pkgVersion"]
    finally:
        await readers.aclose()
        await editor.aclose()
        await commenters.aclose()
    result = figures(recorder, ended, done, settled, verified, monitor, run)
    result["meilisearch"] = meili_version
    return result


def figures(
    recorder: Recorder,
    ended: float,
    done: list[dict[str, Any]],
    settled: dict[str, Any],
    verified: dict[str, Any],
    monitor: list[dict[str, Any]],
    run: str,
) -> dict[str, Any]:
    outcomes = recorder.outcomes
    total = summary(outcomes, len(recorder.shed))
    names = {f["fault"] for f in done}
    lost = verified["lost"]
    result = {
        "run": run,
        "requests": total["requests"],
        "errors": total["errors"],
        "error_pct": total["error_pct"],
        "writes": total["writes"],
        "lost_writes": len(lost),
        "stale_answers": total["stale_answers"],
        "replica_killed": "replica_killed" in names,
        "redis_restarted": "redis_restarted" in names,
        "meilisearch_restarted": "meilisearch_restarted" in names,
        "totals": total,
        "faults": done,
        "seconds": round(ended, 1),
        "phases": phases(outcomes, done, ended, recorder.shed),
        "by_kind": grouped(outcomes, lambda o: o.kind),
        "reads_by_method": grouped([o for o in outcomes if not o.write], lambda o: o.method),
        "error_reasons": reasons(outcomes),
        "samples": samples(outcomes),
        "lost": lost,
        "verified": verified["checked"],
        "settle": settled,
        "database_connections_peak": max((m.get("db", 0) for m in monitor), default=0),
        "database_connections_active_peak": max(
            (m.get("db_active", 0) for m in monitor), default=0
        ),
        "outbox_pending_peak": max((m.get("outbox", 0) for m in monitor), default=0),
        "timeline": timeline(outcomes, ended),
        "monitor": monitor,
        "logs": log_findings(),
    }
    result["targets"] = [
        {
            "target": f"reader errors at most {TARGET_ERROR_PCT} % of requests",
            "value": f"{total['error_pct']} %",
            "met": total["error_pct"] <= TARGET_ERROR_PCT,
        },
        {"target": "0 lost writes", "value": len(lost), "met": not lost},
        {
            "target": "0 stale answers",
            "value": total["stale_answers"],
            "met": not total["stale_answers"],
        },
    ]
    return result


def write(result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    text = orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n"
    (RESULTS / "topology-latest.json").write_text(text)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    dated = RESULTS / f"topology-{stamp}.json"
    dated.write_text(text)
    return dated


async def main() -> None:
    if left := kill_leftovers():
        print(f"killed {len(left)} processes an earlier, interrupted run left behind")
    main_task = asyncio.current_task()
    assert main_task is not None
    loop = asyncio.get_running_loop()
    # Ctrl-C too: a shell may start the run with SIGINT ignored (a background job).
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(signum, main_task.cancel)
    started = datetime.now(UTC)
    load_before = machine()["load_average"]
    stack = Stack(DATABASE_URL)
    assert stack.database_url is not None
    engine = create_engine(stack.database_url, pool_size=2, max_overflow=2)
    try:
        print("starting PostgreSQL …" if stack.postgres else "using TOPOLOGY_DATABASE_URL")
        await stack.start_database()
        await prepare_database(stack)
        print("starting Redis and Meilisearch …", flush=True)
        await stack.start_backends()
        await ensure_index(stack)
        token = await editor_token(stack)
        print(f"starting {REPLICAS} replicas of {WORKERS_PER_REPLICA} workers, then nginx …")
        await stack.start_front()
        await settle(engine, 300)
        result = await measure(stack, engine, token)
    finally:
        print("stopping every process of the run …", flush=True)
        await stack.close()
        await engine.dispose()
    result["run_at"] = started.isoformat(timespec="seconds")
    result["machine"] = machine() | {
        "load_average_before": load_before,
        "meilisearch": result.pop("meilisearch"),
    }
    result["settings"] = {
        "seconds": SECONDS,
        "read_rate": READ_RATE,
        "edit_interval_s": EDIT_INTERVAL,
        "comment_interval_s": COMMENT_INTERVAL,
        "warm_up_s": WARM_UP_SECONDS,
        "down_s": DOWN_SECONDS,
        "postgres_max_connections": POSTGRES_MAX_CONNECTIONS if stack.postgres else None,
        "replicas": REPLICAS,
        "workers_per_replica": WORKERS_PER_REPLICA,
        "database": "private PostgreSQL (max_connections 100)"
        if stack.postgres
        else make_url(stack.database_url).render_as_string(hide_password=True),
    }
    print_report(result)
    print(f"written to {RESULTS / 'topology-latest.json'} and {write(result).name}")


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except asyncio.CancelledError:
        raise SystemExit("interrupted: every process of the run stopped, nothing written") from None
