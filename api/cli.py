"""`newsroom`, the project's command line: migrations, imports and the server."""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from api.services import local_search, open_search
from api.settings import Settings
from models import migrate
from models.enums import Role
from models.importer import ImportReport, import_lines
from models.session import create_engine, session_factory
from models.token import TokenError, create_token, revoke_token
from search.errors import SearchUnavailable

app = typer.Typer(help="The newsroom content API.", no_args_is_help=True)
db = typer.Typer(help="Database schema migrations.", no_args_is_help=True)
app.add_typer(db, name="db")
token = typer.Typer(help="Bearer tokens for editors and moderators.", no_args_is_help=True)
app.add_typer(token, name="token")
people_cli = typer.Typer(help="People mentioned in stories.", no_args_is_help=True)
app.add_typer(people_cli, name="people")
related_cli = typer.Typer(help="Related stories, computed ahead.", no_args_is_help=True)
app.add_typer(related_cli, name="related")
console = Console(stderr=True)

DEMO_FILES = ("demo/sample-articles.jsonl", "demo/bbc-news.jsonl")
WORKER_HEALTHCHECK_SECONDS = 60
BULK_NICENESS = 10


def _as_bulk_work() -> None:
    """Extraction and rebuilds give way to the server on the same machine: an editor's
    publish and readers' requests go first (see "Editors first" in docs/jobs.md)."""
    with contextlib.suppress(OSError):
        os.nice(BULK_NICENESS)


def _settings() -> Settings:
    settings = Settings()
    settings.ensure_data_dir()
    return settings


@db.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: the latest)."""

    async def run() -> None:
        engine = create_engine(_settings().resolved_database_url)
        try:
            await migrate.upgrade(engine, revision)
            console.print(f"database at revision {await migrate.current_revision(engine)}")
        finally:
            await engine.dispose()

    asyncio.run(run())


@db.command("revision")
def db_revision(message: Annotated[str, typer.Option("--message", "-m")]) -> None:
    """Autogenerate a migration from the models against the current database."""

    async def run() -> None:
        engine = create_engine(_settings().resolved_database_url)
        try:
            await migrate.revision(engine, message)
        finally:
            await engine.dispose()

    asyncio.run(run())


@token.command("create")
def token_create(
    role: Annotated[Role, typer.Option(help="What the token may do.")],
    name: Annotated[str, typer.Option(help="Who or what holds it, e.g. a person's name.")],
) -> None:
    """Create a token; it is printed once, alone on the last line, and stored only hashed."""

    async def run() -> str:
        engine = create_engine(_settings().resolved_database_url)
        try:
            async with session_factory(engine).begin() as session:
                return await create_token(session, name, role)
        finally:
            await engine.dispose()

    try:
        secret = asyncio.run(run())
    except TokenError as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(code=1) from None
    console.print(f"{role} token for {name!r} (shown once; keep it secret):")
    print(secret)


@token.command("revoke")
def token_revoke(name: Annotated[str, typer.Argument(help="The token's name.")]) -> None:
    """Revoke a token at once; requests with it are refused from then on."""

    async def run() -> bool:
        engine = create_engine(_settings().resolved_database_url)
        try:
            async with session_factory(engine).begin() as session:
                return await revoke_token(session, name)
        finally:
            await engine.dispose()

    if not asyncio.run(run()):
        console.print(f"[red]no active token named {name!r}")
        raise typer.Exit(code=1)
    console.print(f"revoked {name!r}")


@app.command()
def schema(
    check: Annotated[
        Path | None,
        typer.Option(help="Report breaking changes against this SDL file (e.g. the last release)."),
    ] = None,
) -> None:
    """Print the GraphQL schema (SDL); with --check, list breaking changes against a file."""
    from graphql import build_schema, find_breaking_changes

    from api.schema import schema as current

    if check is None:
        print(current.as_str())
        return
    changes = find_breaking_changes(build_schema(check.read_text()), current._schema)
    for change in changes:
        console.print(f"[red]{change.type.name}: {change.description}")
    console.print(f"{len(changes)} breaking change(s) against {check}")
    raise typer.Exit(code=1 if changes else 0)


@people_cli.command("extract")
def people_extract(
    all_: Annotated[
        bool, typer.Option("--all", help="Extract from every story again, not only changed ones.")
    ] = False,
) -> None:
    """Extract people from the stories whose text changed since their last extraction.

    Resumable: each story is marked done as it is stored, so an interrupted run goes on where
    it stopped. Safe beside other runs and the API's worker: each story is claimed by one of
    them, and `--all` while a full pass runs joins that pass instead of starting another.
    """
    from models.people import PeopleWorker, count_pending, request_full_pass

    _as_bulk_work()

    async def run() -> None:
        engine = create_engine(_settings().resolved_database_url)
        try:
            if all_ and not await request_full_pass(engine):
                console.print("a full pass is under way: joining it")
            total = await count_pending(engine)
            worker = PeopleWorker(engine, batch_size=32)
            started = time.perf_counter()
            with _progress() as progress:
                task = progress.add_task("people", total=total)
                await worker.drain(lambda n: progress.advance(task, n))
            # One line a test or an operator can add up over every process of a pass.
            console.print(
                f"extracted people from {worker.extracted} stories ({worker.failed} failed) "
                f"in {time.perf_counter() - started:.1f}s",
                soft_wrap=True,
            )
        finally:
            await engine.dispose()

    asyncio.run(run())


@related_cli.command("refresh")
def related_refresh(
    all_: Annotated[
        bool, typer.Option("--all", help="Compute every story's list again, not only due ones.")
    ] = False,
) -> None:
    """Compute the related lists that are due: changed stories, the lists around them, and
    lists a day old.

    Safe beside other runs and the API's workers: each story is claimed by one of them.
    Interrupted, it hands back what it had not stored; a run goes on until nothing is due.
    """
    from models import related_queue
    from models.related_job import RelatedWorker

    _as_bulk_work()

    async def run() -> None:
        engine = create_engine(_settings().resolved_database_url)
        worker = RelatedWorker(engine, batch_size=500)
        try:
            if all_:
                await related_queue.request_full_pass(engine)
            await related_queue.take_changes(engine)
            await related_queue.mark_unlisted(engine)
            started = time.perf_counter()
            with _progress() as progress:
                task = progress.add_task("related", total=await related_queue.count_due(engine))
                await worker.drain(lambda n: progress.advance(task, n))
            console.print(
                f"computed related stories for {worker.computed} stories ({worker.failed} "
                f"failed) in {time.perf_counter() - started:.1f}s",
                soft_wrap=True,
            )
        finally:
            worker.close()
            await engine.dispose()

    asyncio.run(run())


@people_cli.command("evaluate")
def people_evaluate(
    labels: Path = Path("tests/people/labelled-bbc.jsonl"),
    corpus: Path = Path("demo/bbc-news.jsonl"),
) -> None:
    """Precision and recall per story and overall against the hand-labelled stories."""
    from models.evaluation import evaluate

    result = evaluate(labels, corpus)
    for story in result.stories:
        missing = ", ".join(sorted(story.expected - story.found)) or "-"
        extra = ", ".join(sorted(story.found - story.expected)) or "-"
        print(
            f"{story.precision:5.2f} {story.recall:5.2f}  {story.slug}"
            f"  missing: {missing}  extra: {extra}"
        )
    print(
        f"overall: precision {result.precision:.3f} recall {result.recall:.3f} "
        f"({len(result.stories)} stories; target 0.95 / 0.90); "
        f"{result.words / result.seconds:.0f} words/s"
    )


@app.command("import")
def import_(
    paths: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False, readable=True)],
) -> None:
    """Load stories from JSON Lines files; re-importing is safe (idempotent by slug).

    A bad line is reported with its number and skipped; the rest still loads.
    """
    # Not niced: on SQLite the import holds the write lock in turns with the server, and a
    # niced holder on a busy machine would keep the server's writers waiting (models/importer).
    failed = asyncio.run(_import(paths))
    raise typer.Exit(code=1 if failed else 0)


async def _import(paths: list[Path]) -> int:
    engine = create_engine(_settings().resolved_database_url)
    failed = 0
    try:
        sessions = session_factory(engine)
        for path in paths:
            lines = path.read_text(encoding="utf-8").splitlines()
            with _progress() as progress:
                task = progress.add_task(path.name, total=sum(1 for ln in lines if ln.strip()))
                report = await import_lines(
                    sessions, lines, lambda n, task=task: progress.advance(task, n)
                )
            _print_report(path, report)
            failed += report.failed
    finally:
        await engine.dispose()
    return failed


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _print_report(path: Path, report: ImportReport) -> None:
    for number, reason in report.errors:
        console.print(f"[red]{path}:{number}: skipped: {reason}")
    console.print(
        f"{path}: {report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.failed} failed"
    )


@app.command()
def demo() -> None:
    """Migrate the database and load the demo content (safe to repeat)."""
    db_upgrade()
    failed = asyncio.run(_import([Path(p) for p in DEMO_FILES]))
    if failed:
        raise typer.Exit(code=1)


@app.command()
def reindex(
    check: Annotated[
        bool, typer.Option("--check", help="Only compare the index with SQL; change nothing.")
    ] = False,
) -> None:
    """Rebuild the search index into a new index and swap it in atomically.

    One rebuild at a time: while one runs, another refuses at once (exit code 1).
    """
    from search import reindex as rebuild

    if not check:
        _as_bulk_work()

    async def run() -> int:
        settings = _settings()
        engine = create_engine(settings.resolved_database_url)
        service = await open_search(settings, engine)
        try:
            if check:
                result = await rebuild.check(engine, service.client)
                console.print(
                    f"{len(result.missing)} missing from the index, {len(result.extra)} extra"
                )
                for label, ids in (("missing", result.missing), ("extra", result.extra)):
                    if ids:
                        console.print(f"{label}: {', '.join(map(str, ids[:50]))}")
                return 0 if result.in_step else 1
            async with rebuild.running_alone(engine) as alone:
                if not alone:
                    console.print("[red]another reindex of this database is running; not started")
                    return 1
                total = await rebuild.count_documents_to_index(engine)
                started = time.perf_counter()
                with _progress() as progress:
                    task = progress.add_task("reindex", total=total)
                    done = await rebuild.reindex(
                        engine, service.client, lambda n: progress.advance(task, n)
                    )
            elapsed = time.perf_counter() - started
            console.print(
                f"indexed {done} stories in {elapsed:.1f}s ({done / max(elapsed, 1e-9):.0f}/s)"
            )
            return 0
        finally:
            await service.close()
            await engine.dispose()

    raise typer.Exit(code=asyncio.run(run()))


@app.command()
def worker() -> None:
    """Drain the search outbox into Meilisearch until interrupted (SEARCH_WORKER=false on the
    API processes then leaves the draining to this one)."""

    async def run() -> None:
        settings = _settings()
        engine = create_engine(settings.resolved_database_url)
        service = await open_search(settings, engine)
        await service.prepare()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        console.print(f"draining the search outbox into {service.client.url}")
        try:
            await service.worker.run(stop)
        finally:
            await service.close()
            await engine.dispose()

    asyncio.run(run())


@contextmanager
def _shared_search(settings: Settings) -> Iterator[None]:
    """With several workers and no MEILI_URL, one local Meilisearch for all of them.

    Started here, before uvicorn starts the workers, and handed to them as MEILI_URL (they read
    their settings from the environment): each worker starting its own on the same data would
    race for the folder. Stopped when the server stops.
    """
    if settings.workers == 1 or settings.meili_url:
        yield
        return
    local = local_search(settings)
    with asyncio.Runner() as runner:
        try:
            runner.run(local.start())
        except SearchUnavailable as exc:
            # As with one worker: the API runs without search, its answers marked degraded.
            console.print(f"[yellow]search is off: {exc}")
            yield
            return
        os.environ["MEILI_URL"], os.environ["MEILI_MASTER_KEY"] = local.url, local.master_key
        try:
            yield
        finally:
            runner.run(local.stop())


@app.command()
def serve(
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
) -> None:
    """Serve the API with uvicorn on HOST:PORT."""
    from api.observability import configure_logging

    settings = _settings()
    configure_logging(settings.log_level)
    if settings.workers > 1 and not settings.redis_url:
        # Exact without Redis too (api/cache.py), but each worker counts its own rate limits.
        console.print(
            f"{settings.workers} workers without REDIS_URL: each keeps its own result cache and "
            "rate-limit counts (set REDIS_URL to share them)"
        )
    base = f"http://{settings.host}:{settings.port}"
    console.print(
        f"Reader site at {base}/, GraphQL API and GraphiQL at {base}/graphql", soft_wrap=True
    )
    # Once its graceful shutdown is over, uvicorn raises the signal that stopped it again, and
    # the default handler would report the process killed; a stop asked for and done is exit 0.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with _shared_search(settings):
        _run_uvicorn(settings, reload)


def _run_uvicorn(settings: Settings, reload: bool) -> None:
    import uvicorn

    from api.transport import CoalescingHttpToolsProtocol

    uvicorn.run(
        "api.app:create_app",
        factory=True,
        http=CoalescingHttpToolsProtocol,
        host=settings.host,
        port=settings.port,
        reload=reload,
        workers=settings.workers,
        log_level=settings.log_level,
        # Our JSON logging stays in place, and our access line (api/observability.py) replaces
        # uvicorn's, which would log query strings.
        log_config=None,
        access_log=False,
        # Requests in flight end within REQUEST_TIME_LIMIT; SIGTERM waits that long and a little
        # more (for a client still sending its body), then stops anyway.
        timeout_graceful_shutdown=math.ceil(settings.request_time_limit) + 5,
        # uvicorn kills a worker that does not answer its health check in time (5 s by
        # default), and a worker importing spaCy and loading its models on two busy cores
        # took longer: WORKERS=2 lost a worker at every start.
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
    )


if __name__ == "__main__":
    app()
