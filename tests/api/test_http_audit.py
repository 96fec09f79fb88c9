"""GraphQL over HTTP conformance: graphql-http's own audit, run against the real server."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from search.server import free_port
from tests.servers import ROOT, start_api, wait_ready

AUDIT = ROOT / "tests" / "http_audit"


@pytest.fixture
def audit() -> list[str]:
    """The audit's command, checked before any server starts."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("the conformance audit needs Node.js 18+ (`node` on PATH)")
    if not (AUDIT / "node_modules" / "graphql-http").is_dir():
        pytest.fail(f"{AUDIT}/node_modules is missing: run `make install-dev`")
    return [node, str(AUDIT / "audit.mjs")]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """`newsroom serve` on a free port. Its SQLite file stays unmigrated: the audit sends only
    `{ __typename }` and requests that must be refused, none of which reads a table."""
    env = {
        "DATA_DIR": str(tmp_path),
        # Nothing listens there: search is off (degraded), which the audit never notices.
        "MEILI_URL": f"http://127.0.0.1:{free_port()}",
        "SEARCH_WORKER": "false",
        "PEOPLE_WORKER": "false",
        "LOG_LEVEL": "warning",
    }
    port = free_port()
    log = tmp_path / "server.log"
    process = start_api(env, port, log)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, process, log)
        yield f"{url}/graphql"
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_graphql_http_audit_finds_no_must_failure(audit: list[str], server: str) -> None:
    run = subprocess.run(
        [*audit, server],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode in (0, 1), run.stderr
    results = json.loads(run.stdout)
    # The audit has about sixty checks; far fewer means it did not really run.
    assert len(results) > 50, results
    failed = [f"{r['id']} {r['name']}: {r['reason']}" for r in results if r["status"] == "error"]
    assert failed == [], "MUST failures:\n" + "\n".join(failed)
    assert run.returncode == 0
