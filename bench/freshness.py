"""Editors first (issue 13): how long an editor's publish takes to become searchable, and an
unpublish to disappear from search, while bulk work fills the same queue.

Each scenario starts from a fresh DATA_DIR on the embedded defaults (SQLite and the server's
own Meilisearch), as `make run` does: `newsroom demo`, then `newsroom serve`, and as soon as the
server is ready, an editor saves and publishes a story with a word no other story has, then
unpublishes it, over and over, while the server is still indexing the demo corpus and extracting
its people. Scenarios:

- `run`: only that (WORKERS=1, as `make run`);
- `workers`: the same with WORKERS=2;
- `import`: `newsroom import` of 10,000 stories running beside the server;
- `extract`: three `newsroom people extract --all` running beside the server.

A probe's time runs from the editor's acknowledged publish (or unpublish) to the first site
search through the API that shows the story (or no longer shows it), polled every 50 ms.
Printed per scenario, with the outbox backlog at each probe, and written to
bench/results/freshness-latest.json.

    python -m bench.freshness [run workers import extract]
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console

from bench.suite import wait_until_ready
from search.server import free_port

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
CONTRACT = ROOT / "api" / "site" / "contract"
BBC = ROOT / "demo" / "bbc-news.jsonl"
NEWSROOM = [sys.executable, "-m", "api.cli"]
PROBES = int(os.environ.get("FRESHNESS_PROBES", "8"))
POLL_SECONDS = 0.05
GIVE_UP_SECONDS = 120.0
TARGET_SECONDS = 2.0
IMPORT_STORIES = 10_000

console = Console()

SAVE = (CONTRACT / "editor-save-article.graphql").read_text()
SEARCH = (CONTRACT / "site-search.graphql").read_text()
UNPUBLISH = """
mutation Unpublish($slug: String!) {
  unpublishArticle(slug: $slug) { __typename }
}
"""


def newsroom(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [*NEWSROOM, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def pending(database: Path) -> int:
    """Outbox rows not yet in Meilisearch (read-only; SQLite's WAL lets us read beside it)."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as conn:
        found = conn.execute("SELECT count(*) FROM search_outbox WHERE processed_at IS NULL")
        return int(found.fetchone()[0])


def wire_import(folder: Path) -> Path:
    """10,000 stories in the importer's format: the BBC stories again under new slugs."""
    lines = [json.loads(line) for line in BBC.read_text().splitlines() if line.strip()]
    path = folder / "wire.jsonl"
    with path.open("w") as out:
        for n in range(IMPORT_STORIES):
            story = dict(lines[n % len(lines)])
            story["slug"] = f"wire-{n}-{story['slug']}"[:200]
            out.write(json.dumps(story) + "\n")
    return path


class Editor:
    def __init__(self, client: httpx.AsyncClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}

    async def call(self, query: str, variables: dict[str, Any], name: str | None = None) -> Any:
        body = {"query": query, "variables": variables, "operationName": name}
        answer = (await self.client.post("/graphql", json=body, headers=self.headers)).json()
        if answer.get("errors"):
            raise RuntimeError(answer["errors"])
        return answer["data"]

    async def visible(self, word: str) -> bool:
        variables = {"q": word}
        answer = (
            await self.client.post("/graphql", json={"query": SEARCH, "variables": variables})
        ).json()
        search = answer["data"]["search"]
        if search["degraded"]:
            raise RuntimeError("search is degraded: the probe would measure SQL, not the index")
        return search["totalHits"] > 0

    async def until(self, word: str, shown: bool) -> float:
        started = time.perf_counter()
        while time.perf_counter() - started < GIVE_UP_SECONDS:
            if await self.visible(word) == shown:
                return time.perf_counter() - started
            await asyncio.sleep(POLL_SECONDS)
        return float("inf")

    async def probe(self, n: int) -> tuple[float, float]:
        word = f"zorbleflux{n}q{int(time.time())}"
        slug = f"freshness-{word}"
        story = {
            "slug": slug,
            "title": f"Council approves {word} plan",
            "dek": "An editor's story that must be searchable at once",
            "section": "politics",
            "authors": ["Bench Editor"],
            "topics": [],
            "body": [{"type": "PARAGRAPH", "text": f"The {word} plan was approved today."}],
        }
        saved = await self.call(SAVE, {"input": story}, "SaveArticle")
        assert saved["saveArticle"]["__typename"] == "ArticleSaved", saved
        await self.call(SAVE, {"slug": slug}, "PublishArticle")
        published = await self.until(word, shown=True)
        await self.call(UNPUBLISH, {"slug": slug})
        unpublished = await self.until(word, shown=False)
        return published, unpublished


def start_bulk_work(name: str, env: dict[str, str], folder: Path) -> list[subprocess.Popen[bytes]]:
    """What runs beside the server in this scenario: an import, or three re-extractions."""
    commands: list[list[str]] = []
    if name == "import":
        commands = [[*NEWSROOM, "import", str(wire_import(folder))]]
    elif name == "extract":
        commands = [[*NEWSROOM, "people", "extract", "--all"]] * 3
    quiet = subprocess.DEVNULL
    return [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=quiet, stderr=quiet)
        for command in commands
    ]


def start_server(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [*NEWSROOM, "serve"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )


def ready(url: str) -> bool:
    return httpx.get(f"{url}/readyz", timeout=1).status_code == 200


async def scenario(name: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"freshness-{name}-") as tmp, ExitStack() as stack:
        folder = Path(tmp)
        port = free_port()
        env = {
            **os.environ,
            "DATA_DIR": str(folder),
            "PORT": str(port),
            "LOG_LEVEL": "warning",
            "WORKERS": "2" if name == "workers" else "1",
        }
        for key in ("DATABASE_URL", "MEILI_URL", "MEILI_MASTER_KEY", "REDIS_URL"):
            env.pop(key, None)
        console.print(f"[bold]{name}[/]: newsroom demo into {folder}")
        newsroom(env, "demo")
        token = newsroom(env, "token", "create", "--role", "editor", "--name", "bench")
        server = start_server(env, folder / "serve.log")
        stack.callback(stop, server)
        url = f"http://127.0.0.1:{port}"
        wait_until_ready(url, server, folder / "serve.log", ready)
        beside = start_bulk_work(name, env, folder)
        for process in beside:
            stack.callback(stop, process)
        probes = []
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            editor = Editor(client, token.strip().splitlines()[-1])
            for n in range(PROBES):
                backlog = pending(folder / "newsroom.db")
                published, unpublished = await editor.probe(n)
                running = sum(1 for p in beside if p.poll() is None)
                probes.append(
                    {
                        "backlog": backlog,
                        "published_s": round(published, 3),
                        "unpublished_s": round(unpublished, 3),
                        "bulk_processes_running": running,
                    }
                )
                console.print(
                    f"  probe {n}: backlog {backlog:5d} rows, published → searchable "
                    f"{published:6.2f} s, unpublished → gone {unpublished:6.2f} s"
                    + (f", {running} bulk process(es) running" if beside else "")
                )
                await asyncio.sleep(1.0)
        return summarise(name, probes)


def summarise(name: str, probes: list[dict[str, Any]]) -> dict[str, Any]:
    published = [p["published_s"] for p in probes]
    unpublished = [p["unpublished_s"] for p in probes]
    with_backlog = [p for p in probes if p["backlog"] > 0 or p["bulk_processes_running"]]
    return {
        "scenario": name,
        "probes": probes,
        "probes_with_backlog": len(with_backlog),
        "published_max_s": max(published),
        "published_median_s": statistics.median(published),
        "unpublished_max_s": max(unpublished),
        "unpublished_median_s": statistics.median(unpublished),
        "within_target": max(published + unpublished) <= TARGET_SECONDS,
    }


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()


async def main(names: list[str]) -> None:
    results = [await scenario(name) for name in names]
    for result in results:
        console.print(
            f"{result['scenario']:8s} published → searchable max {result['published_max_s']:.2f} s "
            f"(median {result['published_median_s']:.2f}), unpublished → gone max "
            f"{result['unpublished_max_s']:.2f} s (median {result['unpublished_median_s']:.2f}); "
            f"{result['probes_with_backlog']}/{len(result['probes'])} probes with bulk work "
            f"waiting; target {TARGET_SECONDS:g} s: "
            + ("met" if result["within_target"] else "MISSED")
        )
    RESULTS.mkdir(exist_ok=True)
    document = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "scenarios": results,
    }
    (RESULTS / "freshness-latest.json").write_text(json.dumps(document, indent=2) + "\n")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:] or ["run", "workers", "import", "extract"]))
