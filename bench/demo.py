"""A fresh `newsroom demo` served by `newsroom serve` on the embedded defaults (SQLite, its own
Meilisearch), for the benchmarks that measure what a new user runs: hostile requests
(bench/hostile.py) and Lighthouse (bench/lighthouse.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.freshness import ready
from bench.processes import stop
from bench.suite import wait_until_ready

ROOT = Path(__file__).resolve().parent.parent
# What would point the server elsewhere than the embedded defaults.
NOT_EMBEDDED = ("DATABASE_URL", "MEILI_URL", "MEILI_MASTER_KEY", "REDIS_URL", "WORKERS")


def demo_env(data_dir: Path, port: int, **settings: str) -> dict[str, str]:
    """This process's environment on the embedded defaults, in `data_dir`, with `settings`."""
    env = {**os.environ, "DATA_DIR": str(data_dir), "PORT": str(port), "LOG_LEVEL": "warning"}
    for name in NOT_EMBEDDED:
        env.pop(name, None)
    return {**env, **settings}


def load_demo(env: dict[str, str]) -> None:
    demo = [sys.executable, "-m", "api.cli", "demo"]
    subprocess.run(demo, cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)


@contextmanager
def serving(env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """`newsroom serve` with `env`, ready; yields its URL and pid, and stops it after."""
    log = Path(env["DATA_DIR"]) / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{env['PORT']}"
    try:
        wait_until_ready(url, process, log, ready)
        yield url, process.pid
    finally:
        stop(process)
