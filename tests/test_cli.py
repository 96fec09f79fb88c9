"""The `newsroom` console script, run as a user would run it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import SAMPLE

NEWSROOM = [sys.executable, "-m", "api.cli"]


def run(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATA_DIR": str(tmp_path), "COLUMNS": "200"}
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [*NEWSROOM, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_help_lists_the_commands(tmp_path: Path) -> None:
    result = run("--help", tmp_path=tmp_path)
    assert result.returncode == 0
    for command in ("import", "serve", "demo", "db"):
        assert command in result.stdout


def test_the_server_process_loads_no_migration_tooling() -> None:
    """`newsroom serve` runs the API in the command line's process: Alembic and Mako, 8 MB of a
    server's memory, are loaded by the commands that migrate, not by importing the CLI."""
    probe = "import sys, api.cli, api.app; print(sorted({'alembic', 'mako'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr


def test_import_reports_bad_lines_and_loads_the_rest(tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    lines = SAMPLE.read_text().splitlines()
    feed.write_text("\n".join([lines[0], "{oops", lines[1]]) + "\n")
    # The sample story's lead image is a path beside its feed.
    shutil.copytree(SAMPLE.parent / "images", tmp_path / "images")

    assert run("db", "upgrade", tmp_path=tmp_path).returncode == 0
    result = run("import", str(feed), tmp_path=tmp_path)

    assert result.returncode == 1
    assert f"{feed}:2: skipped: not valid JSON" in result.stderr
    assert "2 created, 0 updated, 0 unchanged, 1 failed" in result.stderr
    again = run("import", str(feed), tmp_path=tmp_path)
    assert "0 created, 0 updated, 2 unchanged, 1 failed" in again.stderr
    assert (tmp_path / "newsroom.db").exists()
