"""A Meilisearch process of our own, for when no MEILI_URL is given.

It keeps its data, its generated master key and its log under one folder. A second process of
the app (the CLI while the server runs) finds the running instance through `instance.json`
and shares it instead of starting another on the same data.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx2

from search.errors import SearchUnavailable

logger = logging.getLogger("newsroom.search")

START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0

# Meilisearch sizes its indexing buffers from the machine's memory (two thirds of it by
# default) and zeroes them for every batch: on a 24 GiB machine that was 84 % of its CPU time
# (`perf`: the kernel clearing fresh pages), so adding ONE story took 0.25 to 1.8 s. At 256 MiB
# the same one-story task takes 0.05 to 0.2 s and rebuilding the demo index is faster too
# (9 s against 13 s): a newsroom's batches are far smaller than what the default is sized for.
MAX_INDEXING_MEMORY = "256MiB"


def find_binary(explicit: str | None = None) -> str:
    """MEILI_BINARY first, then `meilisearch` on PATH, then the one `make` installed in the venv."""
    candidates = [
        explicit,
        shutil.which("meilisearch"),
        str(Path(sys.executable).parent / "meilisearch"),
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise SearchUnavailable(
        "no Meilisearch binary: run `make install` (it fetches Meilisearch 1.21.0 and checks its "
        "checksum), set MEILI_BINARY, or set MEILI_URL to a running server"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]  # an AF_INET address is (host, port)
        return port


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


@dataclass
class LocalMeilisearch:
    """Start, share and stop a local Meilisearch on a loopback port."""

    folder: Path
    binary: str | None = None
    port: int | None = None
    max_indexing_memory: str = MAX_INDEXING_MEMORY
    url: str = ""
    master_key: str = ""
    _process: asyncio.subprocess.Process | None = None

    @property
    def _key_file(self) -> Path:
        return self.folder / "master-key"

    @property
    def _instance_file(self) -> Path:
        return self.folder / "instance.json"

    def _load_key(self) -> str:
        if not self._key_file.exists():
            self._key_file.write_text(secrets.token_urlsafe(32))
            self._key_file.chmod(0o600)
        return self._key_file.read_text().strip()

    async def start(self) -> None:
        """Use a healthy instance already serving this folder, or start one and wait for it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.master_key = self._load_key()
        if await self._adopt():
            return
        binary = find_binary(self.binary)
        port = self.port or free_port()
        self.url = f"http://127.0.0.1:{port}"
        log = (self.folder / "meilisearch.log").open("ab")
        self._process = await asyncio.create_subprocess_exec(
            binary,
            "--db-path",
            str(self.folder / "data.ms"),
            "--http-addr",
            f"127.0.0.1:{port}",
            # One word: a key may begin with "-", which would read as an option of its own.
            f"--master-key={self.master_key}",
            "--no-analytics",
            "--env",
            "development",
            f"--max-indexing-memory={self.max_indexing_memory}",
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        log.close()
        await self._wait_healthy()
        self._instance_file.write_text(json.dumps({"pid": self._process.pid, "url": self.url}))
        logger.info("started Meilisearch at %s (pid %s)", self.url, self._process.pid)

    async def _adopt(self) -> bool:
        try:
            instance = json.loads(self._instance_file.read_text())
        except (OSError, ValueError):
            return False
        if not _alive(instance.get("pid", -1)):
            return False
        self.url = instance["url"]
        if await self._healthy():
            logger.info("using the Meilisearch already running at %s", self.url)
            return True
        return False

    async def _healthy(self) -> bool:
        try:
            async with httpx2.AsyncClient(timeout=1.0) as client:
                return (await client.get(f"{self.url}/health")).status_code == 200
        except httpx2.HTTPError:
            return False

    async def _wait_healthy(self) -> None:
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT_SECONDS
        while asyncio.get_running_loop().time() < deadline:
            if self._process and self._process.returncode is not None:
                raise SearchUnavailable(
                    f"Meilisearch exited with {self._process.returncode}; see "
                    f"{self.folder / 'meilisearch.log'}"
                )
            if await self._healthy():
                return
            await asyncio.sleep(0.05)
        raise SearchUnavailable(f"Meilisearch did not become healthy in {START_TIMEOUT_SECONDS}s")

    async def stop(self) -> None:
        """Stop the process if this object started it; an adopted one is left running."""
        process, self._process = self._process, None
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_SECONDS)
        except TimeoutError:
            process.kill()
            await process.wait()
        with contextlib.suppress(OSError):
            self._instance_file.unlink()

    def kill(self) -> None:
        """Kill the process at once, as a crash would (for failure tests)."""
        if self._process is not None and self._process.returncode is None:
            self._process.kill()
