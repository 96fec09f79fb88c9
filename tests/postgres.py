"""A PostgreSQL server for the tests: the one at TEST_DATABASE_URL, or one started here.

Tests never skip PostgreSQL. When nothing answers at the configured URL, a private server is
started from the `pgserver` wheel (PostgreSQL binaries on PyPI) in a temporary directory.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
from sqlalchemy.engine import make_url

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


async def _answers(url: str) -> bool:
    try:
        conn = await asyncpg.connect(url, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    await conn.close()
    return True


@contextmanager
def server_url() -> Iterator[str]:
    """Yield the URL of a reachable PostgreSQL server (its maintenance database)."""
    url = os.environ.get("TEST_DATABASE_URL", DEFAULT_URL)
    if asyncio.run(_answers(url)):
        yield url
        return
    with warnings.catch_warnings():
        # pgserver warns about XDG_RUNTIME_DIR on machines without a login session.
        warnings.simplefilter("ignore")
        import pgserver

    with tempfile.TemporaryDirectory(prefix="newsroom-pg-") as data_dir, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = pgserver.get_server(data_dir, cleanup_mode="stop")
        try:
            yield server.get_uri()
        finally:
            server.cleanup()


@contextmanager
def scratch_database(server: str) -> Iterator[str]:
    """Create a database of our own on `server` for this test run and drop it afterwards."""
    name = f"newsroom_test_{uuid.uuid4().hex[:10]}"
    admin = make_url(server)

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
