"""Helpers that several test modules share: plain functions, classes and constants, no fixtures
(those live in the conftest.py files). Test modules import from here, never from each other."""

from __future__ import annotations

import glob
import importlib.util
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from models import Person
from search.server import LocalMeilisearch, free_port
from tests.conftest import ROOT, SAMPLE, contract, gql
from tests.servers import start_api, wait_ready

if TYPE_CHECKING:
    from playwright.async_api import Page

# Rows written straight into the database ----------------------------------------------------


async def insert_person(conn: AsyncConnection, **values: object) -> int:
    """A person row with these columns (slug, name, aliases, ...), as extraction would store one;
    answers its id."""
    return (
        await conn.execute(sa.insert(Person).values(**values).returning(Person.id))
    ).scalar_one()


# Editors' stories ---------------------------------------------------------------------------

SAVE_DOCUMENT = contract("editor-save-article")


def article_input(**changes: object) -> dict:
    """A complete `saveArticle` input for a story in `news`, with `changes` applied."""
    base = {
        "slug": "new-story",
        "title": "A new story",
        "dek": "What it is about",
        "section": "news",
        "authors": ["Ada Editor"],
        "topics": ["Elections"],
        "body": [
            {"type": "PARAGRAPH", "text": "First paragraph."},
            {"type": "HEADING", "text": "A subheading"},
            {"type": "PARAGRAPH", "text": "Second paragraph."},
        ],
    }
    return {**base, **changes}


async def save(client: httpx.AsyncClient, headers: dict, **changes: object) -> dict:
    """Save `article_input(**changes)` through the API; answers the `saveArticle` payload."""
    data = await gql(
        client,
        SAVE_DOCUMENT,
        {"input": article_input(**changes)},
        headers,
        operationName="SaveArticle",
    )
    return data["saveArticle"]


PUBLISH = "mutation ($slug: String!) { publishArticle(slug: $slug) { __typename } }"


async def saved_story(
    client: httpx.AsyncClient, editor: dict, slug: str, *, publish: bool = True, **changes: object
) -> None:
    """Save a story in `news` (as `article_input` makes it, titled by its slug unless `title`
    is given), published unless `publish` is false."""
    await save(client, editor, slug=slug, title=changes.pop("title", slug), **changes)
    if publish:
        await gql(client, PUBLISH, {"slug": slug}, editor)


@cache
def _sample_lines() -> tuple[str, ...]:
    return tuple(SAMPLE.read_text().splitlines())


def story(slug: str, *texts: str, title: str = "A story") -> str:
    """An import line: the sample's second story under `slug` and `title`, with `texts` as its
    paragraphs."""
    record = json.loads(_sample_lines()[1])
    record.update(slug=slug, title=title, body=[{"type": "paragraph", "text": t} for t in texts])
    return json.dumps(record)


# SQL ----------------------------------------------------------------------------------------


@contextmanager
def count_statements(engine: AsyncEngine) -> Iterator[list[str]]:
    """Every SQL statement `engine` sends inside the block, in order."""
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    sa.event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa.event.remove(engine.sync_engine, "before_cursor_execute", record)


# Served processes and a PostgreSQL server of a test's own (tests/faults) --------------------


def _bin_dir() -> Path:
    """The newest PostgreSQL server binaries on the machine (Debian keeps them off PATH), else
    those on PATH, else those of the `pgserver` wheel the test extra installs."""
    found = sorted(
        (Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1]
    if initdb := shutil.which("initdb"):
        return Path(initdb).parent
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.origin is not None:
        wheel = Path(spec.origin).parent / "pginstall" / "bin"
        if (wheel / "initdb").exists():
            return wheel
    pytest.fail(
        "the fault tests start a PostgreSQL server of their own and need its binaries (initdb, "
        "pg_ctl): apt-get install postgresql, or make install-dev for the pgserver wheel"
    )


class PrivatePostgres:
    """A throwaway PostgreSQL server on a free loopback port, trust auth, in a temporary
    directory; `stop()` and `start()` make a database outage on demand."""

    def __init__(self) -> None:
        self.bin = _bin_dir()
        self.port = free_port()
        # initdb and postgres refuse to run as root; the `postgres` account runs them then.
        self._as: list[str] = []
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError:
                pytest.fail("running as root, the fault tests need a `postgres` OS user")
            self._as = ["runuser", "-u", "postgres", "--"]
        # Not under pytest's tmp_path: that is private to root, and the server needs its own.
        self.root = Path(tempfile.mkdtemp(prefix="newsroom-pgfault-"))
        if self._as:
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        done = subprocess.run(
            [*self._as, str(self.bin / command[0]), *command[1:]],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            pytest.fail(f"{' '.join(command)} failed:\n{done.stdout}{done.stderr}\n{log}")

    def init(self) -> None:
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "--encoding=UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60",
            "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: `fast` ends every session at once, `immediate` is a crash."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def cleanup(self) -> None:
        pid_file = self.data / "postmaster.pid"
        if pid_file.exists():
            subprocess.run(
                [*self._as, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                 "-w", "stop"],
                capture_output=True,
                check=False,
            )  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)

    def database_url(self, name: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"


def newsroom(env: dict[str, str], *args: str) -> str:
    """Run the `newsroom` command as an operator would; answers its standard output."""
    done = subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"newsroom {' '.join(args)}:\n{done.stdout}{done.stderr}"
    return done.stdout


class Api:
    """`newsroom serve` in a process of its own, on a free port."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.process = start_api(env, self.port, log)
        wait_ready(self.url, self.process, log)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def served_env(
    database_url: str, meili: LocalMeilisearch, data_dir: Path, prefix: str, **settings: str
) -> dict[str, str]:
    """Settings for a served API on `database_url`, with indexes of its own (named from
    `prefix`) and warnings-only logs; `settings` on top."""
    return {
        "DATABASE_URL": database_url,
        "MEILI_URL": meili.url,
        "MEILI_MASTER_KEY": meili.master_key,
        "MEILI_INDEX_PREFIX": f"{prefix}{uuid.uuid4().hex[:8]}_",
        "DATA_DIR": str(data_dir),
        "LOG_LEVEL": "warning",
        **settings,
    }


def api_env(database_url: str, meili: LocalMeilisearch, data_dir: Path) -> dict[str, str]:
    """Settings for a served API on `database_url` that really asks the database each time."""
    # A cached answer would hide the outage from the reader, which is good in production and
    # useless here.
    return served_env(
        database_url, meili, data_dir, "f", RESULT_CACHE="false", REQUEST_TIME_LIMIT="10"
    )


# Background jobs -------------------------------------------------------------------------------


class Interrupted(BaseException):
    """Stands for a cancellation or Ctrl-C in a job's work: no `except Exception` catches it."""


def interrupt(*_: object) -> None:
    """Put in place of a job's work to interrupt its batch half-way."""
    raise Interrupted


# The reader site (tests/api/test_site_pages.py, tests/browser) --------------------------------

# The people the sample story (SAMPLE_SLUG) mentions, first-mentioned first, with their roles.
SAMPLE_PEOPLE = {
    "Dmitry Peskov": "Kremlin spokesman",
    "Alexander Graf Lambsdorff": "German ambassador to Russia",
    "Vladimir Putin": "Russian President",
    "Boris Pistorius": "German Defence Minister",
    "Olaf Scholz": "Chancellor",
}

ARTEFACTS = ROOT / "tests" / "artefacts"
XSS_SLUG = "payload-probe"
XSS_IMG = '<img src=x onerror="window.__xss=1">'
XSS_SCRIPT = "<script>window.__xss=1</script>"
XSS_TITLE = f"Payload probe {XSS_IMG} and {XSS_SCRIPT} in a headline"
XSS_BODY = [
    f"A paragraph that carries {XSS_IMG} in the middle of its text.",
    f"Another that carries {XSS_SCRIPT} in the middle of its text.",
]


@dataclass(frozen=True)
class Site:
    url: str
    editor: dict[str, str]


async def graphql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any],
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The answer's data, failing on any error."""
    body = {"query": query, "variables": variables, **extra}
    response = await client.post("/graphql", json=body, headers=headers)
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


async def screenshot(page: Page, name: str) -> None:
    """Every test leaves a picture of what the reader saw in tests/artefacts/."""
    ARTEFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=ARTEFACTS / f"{name}.png")
