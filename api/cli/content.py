"""Commands over the content: imports and the demo, and the work derived from stories (people
extraction, related stories, the search index), run beside the server as bulk work."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Annotated, Any, Protocol, TypeVar

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from api.cli.admin import db_upgrade
from api.cli.app import app, console, load_settings, people_cli, related_cli
from api.cli.images import feed_images
from models.importer import ImportReport, import_lines
from models.session import create_engine, session_factory

T = TypeVar("T")

DEMO_FILES = ("demo/sample-articles.jsonl", "demo/bbc-news.jsonl")
BULK_NICENESS = 10


def _as_bulk_work() -> None:
    """Extraction and rebuilds give way to the server on the same machine: an editor's
    publish and readers' requests go first (see "Editors first" in docs/jobs.md)."""
    with contextlib.suppress(OSError):
        os.nice(BULK_NICENESS)


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
    from models.people_queue import PeopleWorker, count_pending, request_full_pass

    _as_bulk_work()

    async def run() -> None:
        engine = create_engine(load_settings().resolved_database_url)
        try:
            if all_ and not await request_full_pass(engine):
                console.print("a full pass is under way: joining it")
            total = await count_pending(engine)
            worker = PeopleWorker(engine, batch_size=32)
            await _drain(
                worker, "people", total, lambda: f"extracted people from {worker.extracted}"
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
        engine = create_engine(load_settings().resolved_database_url)
        worker = RelatedWorker(engine, batch_size=500)
        try:
            if all_:
                await related_queue.request_full_pass(engine)
            await related_queue.take_changes(engine)
            await related_queue.mark_unlisted(engine)
            total = await related_queue.count_due(engine)
            await _drain(
                worker, "related", total, lambda: f"computed related stories for {worker.computed}"
            )
        finally:
            worker.close()
            await engine.dispose()

    asyncio.run(run())


LABELLED_SETS = (
    "tests/people/labelled-bbc.jsonl",
    "tests/people/labelled-bbc-session.jsonl",
    "tests/people/labelled-bbc-dev.jsonl",
    "tests/people/labelled-bbc-dev2.jsonl",
    "tests/people/labelled-bbc-dev3.jsonl",
    "tests/people/labelled-bbc-dev4.jsonl",
    "tests/people/labelled-bbc-dev5.jsonl",
    "tests/people/labelled-bbc-fresh.jsonl",
    "tests/people/labelled-bbc-fresh2.jsonl",
    "tests/people/labelled-bbc-fresh3.jsonl",
    "tests/people/labelled-bbc-fresh4.jsonl",
)


@people_cli.command("evaluate")
def people_evaluate(
    labels: Annotated[
        list[Path] | None,
        typer.Argument(help="Labelled sets (JSON Lines); by default every set in tests/people."),
    ] = None,
    corpus: Path = Path("demo/bbc-news.jsonl"),
    stories: Annotated[
        bool, typer.Option("--stories", help="Also print each story's misses and extras.")
    ] = False,
) -> None:
    """Precision, recall and words per second on each hand-labelled set.

    Per-story output is off by default: the fresh set is never looked at story by story, or it
    would end up tuned on (tests/people/README.md)."""
    from models.evaluation import evaluate

    paths = labels or [Path(name) for name in LABELLED_SETS if Path(name).exists()]
    for path in paths:
        result = evaluate(path, corpus)
        if stories:
            for story in result.stories:
                missing = ", ".join(sorted(story.expected - story.found)) or "-"
                extra = ", ".join(sorted(story.found - story.expected)) or "-"
                print(
                    f"{story.precision:5.2f} {story.recall:5.2f}  {story.slug}"
                    f"  missing: {missing}  extra: {extra}"
                )
        expected = sum(len(s.expected) for s in result.stories)
        print(
            f"{path.name}: precision {result.precision:.3f} recall {result.recall:.3f} "
            f"({len(result.stories)} stories, {expected} people; target 0.95 / 0.90); "
            f"{result.words_per_second:.0f} words/s"
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
    settings = load_settings()
    engine = create_engine(settings.resolved_database_url)
    failed = 0
    try:
        sessions = session_factory(engine)
        for path in paths:
            lines = path.read_text(encoding="utf-8").splitlines()
            with _progress() as progress:
                task = progress.add_task(path.name, total=sum(1 for ln in lines if ln.strip()))
                report = await import_lines(
                    sessions,
                    lines,
                    partial(progress.advance, task),
                    feed_images(settings, path),
                )
            _print_report(path, report)
            failed += report.failed
    finally:
        await engine.dispose()
    return failed


class _BulkWorker(Protocol):
    failed: int

    async def drain(self, on_progress: Callable[[int], Any] | None = None) -> int: ...


async def _drain(worker: _BulkWorker, label: str, total: int, done: Callable[[], str]) -> None:
    """Run a bulk worker until nothing is left, then print one line a test or an operator can
    add up over every process of a pass: `done()` stories, how many failed, how long it took."""
    _, seconds = await _with_progress(label, total, worker.drain)
    console.print(f"{done()} stories ({worker.failed} failed) in {seconds:.1f}s", soft_wrap=True)


async def _with_progress(
    label: str, total: int, work: Callable[[Callable[[int], object]], Awaitable[T]]
) -> tuple[T, float]:
    """What `work` returns and the seconds it took, with a progress bar it advances by the
    number of items each call reports done."""
    started = time.perf_counter()
    with _progress() as progress:
        task = progress.add_task(label, total=total)
        result = await work(lambda n: progress.advance(task, n))
    return result, time.perf_counter() - started


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
    from api.services import open_search
    from search import reindex as rebuild

    if not check:
        _as_bulk_work()

    async def run() -> int:
        settings = load_settings()
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
                done, elapsed = await _with_progress(
                    "reindex", total, partial(rebuild.reindex, engine, service.client)
                )
            console.print(
                f"indexed {done} stories in {elapsed:.1f}s ({done / max(elapsed, 1e-9):.0f}/s)"
            )
            return 0
        finally:
            await service.close()
            await engine.dispose()

    raise typer.Exit(code=asyncio.run(run()))
