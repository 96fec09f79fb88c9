"""`make bench-topology`: the docker-compose shape run for real on this machine, with faults.

Debian's nginx (the repository's bench/nginx/newsroom.conf) in front of REPLICAS `newsroom serve`
processes of WORKERS_PER_REPLICA workers each, sharing PostgreSQL (a scratch database on
127.0.0.1:5432), a Redis and a Meilisearch of the run's own, everything on loopback
(bench/topology_stack.py). The demo content is loaded with `newsroom demo`, the editor's token
made with `newsroom token create`.

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
import platform
import secrets
import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
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
    phases,
    print_report,
    reasons,
    samples,
    summary,
    timeline,
)
from bench.topology_stack import (
    NEWSROOM,
    POSTGRES_MAX_CONNECTIONS,
    REPLICAS,
    ROOT,
    WORK,
    WORKERS_PER_REPLICA,
    Stack,
    kill_leftovers,
)
from bench.topology_writes import Commenters, Editor
from models import Article
from models.article import is_published
from models.outbox import OutboxEntry
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
SETTLE_LIMIT_SECONDS = 900.0
NEW_STORY_SHARE = 0.15
COMMENT_TARGETS = 20  # the most read demo stories get comments too
SEED = 20261201
RESULTS = ROOT / "bench" / "results"
TARGET_ERROR_PCT = 0.5


async def newsroom(stack: Stack, *args: str) -> tuple[int, str]:
    """Run one `newsroom` command with the run's settings; its exit code and output."""
    process = await asyncio.create_subprocess_exec(
        NEWSROOM,
        *args,
        cwd=ROOT,
        env={**os.environ, **stack.environment()},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode() + err.decode()


async def checked(stack: Stack, *args: str) -> str:
    code, output = await newsroom(stack, *args)
    if code != 0:
        raise RuntimeError(f"newsroom {' '.join(args)} exited {code}:\n{output[-3000:]}")
    return output


async def prepare_database(stack: Stack) -> None:
    """The database (kept between runs); the demo content, its people extracted once (about
    15 minutes on 2 cores the first time, so that no run measures that)."""
    assert stack.database_url is not None
    target = make_url(stack.database_url)
    admin = target.set(drivername="postgresql", database="postgres")
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        name = target.database
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    print("loading the demo content (newsroom demo) …", flush=True)
    await checked(stack, "demo")
    print("finding people in stories not read yet (newsroom people extract) …", flush=True)
    await checked(stack, "people", "extract")


async def ensure_index(stack: Stack) -> None:
    code, _ = await newsroom(stack, "reindex", "--check")
    if code != 0:
        print("the index is not in step with SQL: newsroom reindex …", flush=True)
        await checked(stack, "reindex")


async def editor_token(stack: Stack) -> str:
    await newsroom(stack, "token", "revoke", "bench")  # the last run's, if any
    output = await checked(stack, "token", "create", "--role", "editor", "--name", "bench")
    return next(line for line in reversed(output.splitlines()) if line.startswith("nr_"))


async def pending_outbox(engine: AsyncEngine) -> tuple[int, int]:
    """Outbox rows not applied yet, and how many of them a worker's claim holds for more than a
    minute yet (a dead worker's lease, when it is alive the batch takes a second)."""
    later = datetime.now(UTC) + timedelta(minutes=1)
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                sa.select(
                    sa.func.count(),
                    sa.func.count().filter(OutboxEntry.claimed_until > later),
                ).where(OutboxEntry.processed_at.is_(None))
            )
        ).one()
    return int(row[0]), int(row[1])


async def settle(engine: AsyncEngine, patience: float) -> dict[str, Any]:
    """Wait until the search outbox is empty: `patience` seconds, or while a claim's lease holds
    rows (a killed worker's), until 30 s after it ran out; SETTLE_LIMIT_SECONDS at most."""
    started = time.monotonic()
    pending, leased = await pending_outbox(engine)
    at_start = {"pending": pending, "held_by_a_lease": leased}
    while pending:
        waited = time.monotonic() - started
        lease_ends = await last_lease(engine)
        if waited >= SETTLE_LIMIT_SECONDS or (waited >= patience and lease_ends < -30):
            break
        await asyncio.sleep(1)
        pending, _ = await pending_outbox(engine)
    return {
        "at_end_of_run": at_start,
        "seconds": round(time.monotonic() - started, 1),
        "pending_left": pending,
    }


async def last_lease(engine: AsyncEngine) -> float:
    """Seconds until the last lease on a pending outbox row runs out (negative: it has)."""
    async with engine.connect() as conn:
        until = await conn.scalar(
            sa.select(sa.func.max(OutboxEntry.claimed_until)).where(
                OutboxEntry.processed_at.is_(None)
            )
        )
    return (until - datetime.now(UTC)).total_seconds() if until else -math.inf


async def watch(
    engine: AsyncEngine, database: str, recorder: Recorder, samples: list[dict[str, Any]]
) -> None:
    """Every second: the database's connections (all six workers' pools) and the outbox."""
    connections = sa.text(
        "SELECT count(*), count(*) FILTER (WHERE state = 'active') FROM pg_stat_activity"
        " WHERE datname = :name AND pid <> pg_backend_pid()"
    )
    while True:
        try:
            async with engine.connect() as conn:
                used, active = (await conn.execute(connections, {"name": database})).one()
            pending, _ = await pending_outbox(engine)
            samples.append(
                {"t_s": round(recorder.now(), 1), "db": used, "db_active": active}
                | {"outbox": pending}
            )
        except sa.exc.SQLAlchemyError as exc:
            samples.append({"t_s": round(recorder.now(), 1), "error": str(exc)[:200]})
        await asyncio.sleep(1)


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


def log_findings() -> dict[str, Any]:
    """Warnings and errors the replicas logged, and nginx's complaints about upstreams."""
    found: dict[str, Any] = {}
    for log in sorted(WORK.glob("api-*.log")):
        messages: dict[str, int] = {}
        for line in log.read_text(errors="replace").splitlines():
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(record, dict) and record.get("levelname") in ("WARNING", "ERROR"):
                text = f"{record['levelname']} {record.get('message', '')}"[:160]
                messages[text] = messages.get(text, 0) + 1
        found[log.stem] = dict(sorted(messages.items(), key=lambda kv: -kv[1])[:15])
    nginx: dict[str, int] = {}
    error_log = WORK / "nginx" / "error.log"
    if error_log.exists():
        for line in error_log.read_text(errors="replace").splitlines():
            text = line.split("] ", 1)[-1].split(", client:")[0]
            text = " ".join(w for w in text.split() if not w[:1].isdigit())[:120]
            nginx[text] = nginx.get(text, 0) + 1
    found["nginx"] = dict(sorted(nginx.items(), key=lambda kv: -kv[1])[:15])
    return found


def machine() -> dict[str, Any]:
    def version(*command: str) -> str:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=10)
        except OSError:
            return "not found"
        return (done.stdout or done.stderr).strip().splitlines()[0]

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "os": platform.platform(),
        "python": platform.python_version(),
        "nginx": version("nginx", "-v"),
        "redis": version("redis-server", "--version"),
        "postgresql": version("psql", "--version"),
    }


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
    for signum in (signal.SIGTERM, signal.SIGHUP):
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
    asyncio.run(main())
