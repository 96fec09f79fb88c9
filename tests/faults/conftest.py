"""Fault tests: a PostgreSQL server of the test's own, which it may stop and start, and the real
`newsroom serve` process in front of it (the helpers are in tests/support.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import PrivatePostgres


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL server this test owns: stopped and deleted afterwards, whatever happened."""
    server = PrivatePostgres()
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.cleanup()
