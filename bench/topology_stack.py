"""The production topology's processes on loopback: Redis, Meilisearch, the API replicas, nginx.

Each process runs in a session of its own, so that it and its children (uvicorn's workers) are
signalled as one process group: a SIGKILL takes the whole replica, as a crash of its container
would. `Stack.close()` stops whatever still runs, on success, failure or Ctrl-C alike; the pids
are also written to var/topology/pids.json, so that a run killed outright is cleaned up by the
next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import json
import os
import pwd
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from search.server import MAX_INDEXING_MEMORY, find_binary, free_port

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "var" / "topology"
PROXY_CONF = ROOT / "bench" / "nginx" / "newsroom.conf"
NEWSROOM = str(Path(sys.executable).parent / "newsroom")
PIDS = WORK / "pids.json"
# As docker-compose's postgres:15 image: PostgreSQL 15 with its default max_connections.
POSTGRES_MAX_CONNECTIONS = int(os.environ.get("TOPOLOGY_PG_MAX_CONNECTIONS", "100"))
READY_TIMEOUT_SECONDS = 180.0
STOP_TIMEOUT_SECONDS = 30.0
REPLICAS = 3
WORKERS_PER_REPLICA = 2

Probe = Callable[[], Awaitable[bool]]


async def http_ok(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2.0) as client:
            return (await client.get(url)).status_code == 200
    except httpx.HTTPError:
        return False


async def redis_pong(port: int) -> bool:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    try:
        writer.write(b"PING\r\n")
        await writer.drain()
        return (await asyncio.wait_for(reader.readline(), 2.0)).startswith(b"+PONG")
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()


async def postgres_accepts(url: str) -> bool:
    try:
        conn = await asyncpg.connect(url, timeout=2)
    except (OSError, TimeoutError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


@dataclass
class Service:
    """One server process (and its children), started, awaited, stopped or killed as a group."""

    name: str
    command: list[str]
    probe: Probe
    env: dict[str, str] = field(default_factory=dict)
    stop_signal: int = signal.SIGTERM
    process: subprocess.Popen[bytes] | None = None

    @property
    def marker(self) -> str:
        """In the environment of this service's processes, and of no one else's."""
        return f"TOPOLOGY_SERVICE={WORK}/{self.name}"

    @property
    def log(self) -> Path:
        return WORK / f"{self.name}.log"

    def start(self) -> None:
        with self.log.open("ab") as out:
            out.write(f"\n--- started {time.strftime('%H:%M:%S')}\n".encode())
            out.flush()
            self.process = subprocess.Popen(
                self.command,
                cwd=ROOT,
                env={**os.environ, **self.env, **dict([self.marker.split("=", 1)])},
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    async def ready(self, patience: float = READY_TIMEOUT_SECONDS) -> float:
        """Seconds until the probe answered; fails with the log's tail if the process exits."""
        started = time.monotonic()
        while time.monotonic() - started < patience:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.tail()}")
            if await self.probe():
                return time.monotonic() - started
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {patience:.0f} s:\n{self.tail()}")

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def _signal_group(self, signum: int) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signum)

    async def kill(self) -> None:
        """SIGKILL to the whole group, as a crash would: nothing is finished or handed back."""
        self._signal_group(signal.SIGKILL)
        if self.process is not None:
            await asyncio.to_thread(self.process.wait)

    async def stop(self, grace: float = STOP_TIMEOUT_SECONDS) -> None:
        """The graceful stop signal, then SIGKILL for whatever is left after `grace` seconds."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self._signal_group(self.stop_signal)
            with contextlib.suppress(subprocess.TimeoutExpired):
                await asyncio.to_thread(self.process.wait, grace)
        # Children (uvicorn's workers) may outlive their parent: the group goes in any case.
        self._signal_group(signal.SIGKILL)
        await asyncio.to_thread(self.process.wait)


class PrivatePostgres:
    """docker-compose's `postgres` service: a PostgreSQL 15 server of the run's own, its data kept
    under var/topology/postgres between runs (as the compose volume keeps it).

    Not the machine's server on 5432: that one is shared with other work and allows 100
    connections in all, and six workers' pools may open up to 240 (models/session.py)."""

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
        if not found:
            raise RuntimeError("no PostgreSQL server binaries: apt-get install postgresql")
        self.bin = Path(found[-1]).parent
        self.folder = WORK / "postgres"
        self.data = self.folder / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/newsroom"
        # initdb and postgres refuse to run as root: the `postgres` account runs them then.
        self.run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def initialise(self) -> None:
        if (self.data / "PG_VERSION").exists():
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.run_as:
            account = pwd.getpwnam("postgres")
            os.chown(self.folder, account.pw_uid, account.pw_gid)
        subprocess.run(
            [
                *(*self.run_as, str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres"),
                *("--auth=trust", "--encoding=UTF8", "--locale=C"),
            ],
            check=True,
            capture_output=True,
        )

    def service(self) -> Service:
        admin = self.url.rsplit("/", 1)[0] + "/postgres"
        return Service(
            "postgres",
            [
                *self.run_as,
                *(str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port)),
                *(
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    f"unix_socket_directories={self.folder}",
                ),
                *("-c", f"max_connections={POSTGRES_MAX_CONNECTIONS}"),
            ],
            lambda: postgres_accepts(admin),
            # SIGINT: PostgreSQL's fast shutdown (SIGTERM would wait for every client to leave).
            stop_signal=signal.SIGINT,
        )


@dataclass
class Stack:
    """PostgreSQL, Redis, Meilisearch, REPLICAS times `newsroom serve` (WORKERS_PER_REPLICA
    each) and nginx. With `database_url`, that server is used instead of a private one."""

    database_url: str | None = None
    postgres: Service | None = field(init=False, default=None)
    redis: Service = field(init=False)
    meilisearch: Service = field(init=False)
    apis: list[Service] = field(init=False)
    nginx: Service = field(init=False)
    meili_key: str = field(init=False)
    url: str = field(init=False)

    def __post_init__(self) -> None:
        WORK.mkdir(parents=True, exist_ok=True)
        for log in [*WORK.glob("*.log"), *(WORK / "nginx").glob("*.log")]:
            log.unlink()  # each run's logs are its own (a restart appends to them)
        WORK.chmod(0o755)  # nginx's workers (nobody) and PostgreSQL (postgres) go through it
        if self.database_url is None:
            private = PrivatePostgres()
            private.initialise()
            self.postgres = private.service()
            self.database_url = private.url
        redis_port, meili_port, nginx_port = free_port(), free_port(), free_port()
        # Restarts keep their data, as a container's volume would, and their key.
        key_file = WORK / "meili-master-key"
        if not key_file.exists():
            key_file.write_text(secrets.token_urlsafe(32))
        self.meili_key = key_file.read_text().strip()
        self.meili_url = f"http://127.0.0.1:{meili_port}"
        self.redis_url = f"redis://127.0.0.1:{redis_port}/0"
        self.redis = Service(
            "redis",
            [
                *("redis-server", "--bind", "127.0.0.1", "--port", str(redis_port)),
                # As in docker-compose: nothing kept, so a restart starts with an empty cache.
                *("--save", "", "--appendonly", "no", "--dir", str(WORK)),
            ],
            lambda: redis_pong(redis_port),
        )
        self.meilisearch = Service(
            "meilisearch",
            [
                find_binary(os.environ.get("MEILI_BINARY")),
                *("--db-path", str(WORK / "meilisearch"), "--http-addr", f"127.0.0.1:{meili_port}"),
                *(f"--master-key={self.meili_key}", "--no-analytics", "--env", "production"),
                f"--max-indexing-memory={MAX_INDEXING_MEMORY}",  # as docker-compose sets it
            ],
            lambda: http_ok(f"{self.meili_url}/health"),
        )
        self.apis = [self._api(n, free_port()) for n in range(1, REPLICAS + 1)]
        self.url = f"http://127.0.0.1:{nginx_port}"
        self.nginx = Service(
            "nginx",
            [
                *("nginx", "-p", str(WORK / "nginx"), "-c", str(self._nginx_conf(nginx_port))),
                *("-g", "daemon off;"),
            ],
            lambda: http_ok(f"{self.url}/healthz"),
            # SIGQUIT: nginx finishes the requests it is serving, then exits.
            stop_signal=signal.SIGQUIT,
        )

    def environment(self) -> dict[str, str]:
        """The settings every API process and CLI command of the run gets (docker-compose's)."""
        assert self.database_url is not None
        return {
            "DATABASE_URL": self.database_url,
            "MEILI_URL": self.meili_url,
            "MEILI_MASTER_KEY": self.meili_key,
            "REDIS_URL": self.redis_url,
            "DATA_DIR": str(WORK / "data"),
        }

    def _api(self, number: int, port: int) -> Service:
        env = {
            **self.environment(),
            "WORKERS": str(WORKERS_PER_REPLICA),
            "HOST": "127.0.0.1",
            "PORT": str(port),
            # As in docker-compose: the reader's address comes from nginx's X-Forwarded-For,
            # and the pools fit 3 replicas of 2 workers in PostgreSQL's 100 connections.
            "FORWARDED_ALLOW_IPS": "*",
            "DATABASE_POOL_SIZE": "8",
            "DATABASE_MAX_OVERFLOW": "4",
        }
        ready = f"http://127.0.0.1:{port}/readyz"
        return Service(f"api-{number}", [NEWSROOM, "serve"], lambda: http_ok(ready), env)

    def api_port(self, api: Service) -> int:
        return int(api.env["PORT"])

    def _nginx_conf(self, port: int) -> Path:
        """The main configuration of this run; the proxy itself is bench/nginx/newsroom.conf."""
        folder = WORK / "nginx"
        for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (folder / "temp" / sub).mkdir(parents=True, exist_ok=True)
        # Workers run as `nobody` when nginx starts as root: they must reach their temp folders.
        for path in (folder, folder / "temp"):
            path.chmod(0o755)
        self._write_upstream()
        (folder / "newsroom-listen.conf").write_text(f"listen 127.0.0.1:{port};\n")
        temp = folder / "temp"
        conf = folder / "nginx.conf"
        conf.write_text(
            f"""# Written by bench/topology.py for one run; the proxy is {PROXY_CONF.name}.
worker_processes auto;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    log_format topology '$msec $remote_addr "$request_method $uri" $status $request_time '
                        'upstream=$upstream_addr status=$upstream_status '
                        'time=$upstream_response_time id=$http_x_request_id';
    access_log {folder}/access.log topology;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {PROXY_CONF};
}}
"""
        )
        return conf

    def _write_upstream(self) -> None:
        servers = "".join(
            f"server 127.0.0.1:{self.api_port(api)} max_fails=1 fail_timeout=5s;\n"
            for api in self.apis
        )
        (WORK / "nginx" / "newsroom-upstream.conf").write_text(servers)

    def services(self) -> list[Service]:
        database = [self.postgres] if self.postgres else []
        return [*database, self.redis, self.meilisearch, *self.apis, self.nginx]

    def remember_pids(self) -> None:
        groups = {str(s.process.pid): s.marker for s in self.services() if s.process is not None}
        PIDS.write_text(json.dumps(groups))

    async def start_database(self) -> None:
        if self.postgres is not None:
            self.postgres.start()
            self.remember_pids()
            await self.postgres.ready()

    async def start_backends(self) -> None:
        for service in (self.redis, self.meilisearch):
            service.start()
            self.remember_pids()
            await service.ready()

    async def start_front(self) -> None:
        """The replicas (starting side by side), then nginx once they are all ready."""
        for api in self.apis:
            api.start()
        self.remember_pids()
        for api in self.apis:
            await api.ready()
        self.nginx.start()
        self.remember_pids()
        await self.nginx.ready()

    async def close(self) -> None:
        # Front first: nothing new reaches the replicas, then nothing new reaches the backends.
        for service in reversed(self.services()):
            await service.stop()
        PIDS.unlink(missing_ok=True)


def kill_leftovers() -> list[int]:
    """Kill what an earlier run left behind when it was killed itself: members of the process
    groups it recorded, and only those whose environment still names that run's service (a pid
    may have been reused since by someone else's process)."""
    try:
        groups: dict[str, str] = json.loads(PIDS.read_text())
    except (OSError, ValueError):
        return []
    killed = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            group = (proc / "stat").read_text().rsplit(")", 1)[1].split()[2]
            marker = groups.get(group)
            if marker is None:
                continue
            environment = (proc / "environ").read_bytes().split(b"\0")
        except (OSError, IndexError):
            continue
        if marker.encode() in environment:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(proc.name), signal.SIGKILL)
                killed.append(int(proc.name))
    PIDS.unlink(missing_ok=True)
    return killed
