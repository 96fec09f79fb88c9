"""A real `newsroom serve` with the demo content, a host page on another port, and Debian's
Chromium driven by Playwright, for tests that use the reader site as a reader would (the plain
helpers they share are in tests/support.py)."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from models.people_queue import PeopleWorker
from models.session import create_engine
from search.server import free_port
from tests.conftest import SAMPLE_SLUG, contract
from tests.support import XSS_BODY, XSS_IMG, XSS_SLUG, XSS_TITLE, Site, graphql

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_MISSING = (
    f"the browser tests need Chromium at {CHROMIUM}: "
    "install Debian's chromium: sudo apt-get install chromium"
)
# Browser downloads are not possible here: Debian's Chromium, quiet on the network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Readers post several comments and corrections from one address during a run.
RATE_LIMITS = {"COMMENT_RATE_LIMIT": "100/minute", "CORRECTION_RATE_LIMIT": "100/minute"}
# Start-up, the demo import and indexing share two cores with everything else on this machine.
READY_SECONDS = 180

SAVE = contract("editor-save-article")
READY = """
query Ready($sample: String!) {
  typo: search(query: "Pistorious") { degraded hits { article { slug } } }
  offered: suggest(prefix: "Pistorious") { articles { slug } }
  probe: search(query: "onerror") { hits { article { slug } } }
  article(slug: $sample) { related(limit: 4) { slug } }
}
"""


@pytest.fixture(scope="session")
def chromium() -> str:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(CHROMIUM_MISSING, pytrace=False)
    return CHROMIUM


async def _run(*args: str, env: dict[str, str]) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "api.cli",
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    if process.returncode != 0:
        pytest.fail(f"newsroom {' '.join(args)} failed:\n{stdout.decode()}{stderr.decode()}")
    return stdout.decode()


async def _extract_sample_people(database_url: str) -> None:
    """The sample and its neighbour come first by id; the API's own worker would spend minutes
    on the other 2,225 demo stories, on the cores the browser needs."""
    engine = create_engine(database_url)
    try:
        await PeopleWorker(engine, batch_size=2).run_once()
    finally:
        await engine.dispose()


async def _seed_payload_story(client: httpx.AsyncClient, editor: dict[str, str]) -> None:
    article = {
        "slug": XSS_SLUG,
        "title": XSS_TITLE,
        "dek": f"A standfirst with {XSS_IMG}.",
        "section": "news",
        "body": [{"type": "PARAGRAPH", "text": text} for text in XSS_BODY],
    }
    saved = await graphql(client, SAVE, {"input": article}, editor, operationName="SaveArticle")
    assert saved["saveArticle"]["__typename"] == "ArticleSaved", saved
    published = await graphql(
        client, SAVE, {"slug": XSS_SLUG}, editor, operationName="PublishArticle"
    )
    assert published["publishArticle"]["__typename"] == "ArticleSaved", published


def _ready(data: dict[str, Any]) -> bool:
    """Search has the sample with its people (suggestions offer it by a name its headline does
    not hold) and the payload story, and the job has related four stories to the sample."""
    if data["typo"]["degraded"]:
        return False
    typo = {hit["article"]["slug"] for hit in data["typo"]["hits"]}
    probe = {hit["article"]["slug"] for hit in data["probe"]["hits"]}
    offered = {story["slug"] for story in data["offered"]["articles"]}
    return (
        SAMPLE_SLUG in typo
        and SAMPLE_SLUG in offered
        and XSS_SLUG in probe
        and len(data["article"]["related"]) == 4
    )


async def _wait_ready(
    client: httpx.AsyncClient, process: asyncio.subprocess.Process, log: Path
) -> None:
    async with asyncio.timeout(READY_SECONDS):
        while True:
            if process.returncode is not None:
                pytest.fail(f"newsroom serve exited:\n{await asyncio.to_thread(log.read_text)}")
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)


@pytest.fixture(scope="session")
async def site(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Site]:
    """`newsroom demo` with the sample's people, an editor token, `newsroom serve` on a free
    port, and a published story whose title and body carry script payloads."""
    data_dir = tmp_path_factory.mktemp("site")
    port = free_port()
    env = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "PORT": str(port),
        "PEOPLE_WORKER": "false",
        "LOG_LEVEL": "warning",
        **RATE_LIMITS,
    }
    for name in ("DATABASE_URL", "MEILI_URL", "MEILI_MASTER_KEY", "REDIS_URL", "WORKERS"):
        env.pop(name, None)
    await _run("demo", env=env)
    log = data_dir / "serve.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "api.cli", "serve", cwd=ROOT, env=env, stdout=out, stderr=out
        )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            # Meilisearch starts and indexes the demo while the token and the people are made.
            printed, _, _ = await asyncio.gather(
                _run("token", "create", "--role", "editor", "--name", "tests", env=env),
                _extract_sample_people(f"sqlite:///{data_dir / 'newsroom.db'}"),
                _wait_ready(client, process, log),
            )
            editor = {"Authorization": f"Bearer {printed.strip().splitlines()[-1]}"}
            await _seed_payload_story(client, editor)
        yield Site(url=url, editor=editor)
    finally:
        if process.returncode is None:
            process.terminate()
        try:
            async with asyncio.timeout(60):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()


@pytest.fixture(scope="session")
async def search_ready(site: Site) -> None:
    """Search holds the sample, the payload story and enough stories to relate four (the
    tests that need no search run while the demo is indexed)."""
    variables = {"sample": SAMPLE_SLUG}
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as client:
        async with asyncio.timeout(READY_SECONDS):
            while True:
                if _ready(await graphql(client, READY, variables)):
                    return
                await asyncio.sleep(0.5)


class _HostPage(BaseHTTPRequestHandler):
    page = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.page)))
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test output is no place for an access log."""


@pytest.fixture(scope="session")
def host_page(site: Site) -> Iterator[str]:
    """Another site's page, on another port, that embeds the related-stories widget."""
    html = (
        "<!doctype html><title>Host</title>"
        "<style>h2{color:rgb(255,0,0);font-family:serif} a{color:rgb(0,128,0)}</style>"
        f'<h2 id=host>Host</h2><script src="{site.url}/widget.js"></script>'
        f'<related-stories slug="{SAMPLE_SLUG}" limit="4"></related-stories>'
    )
    handler = type("HostPage", (_HostPage,), {"page": html.encode()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="session")
async def browser(chromium: str) -> AsyncIterator[Browser]:
    # The async API: the sync one refuses to run inside pytest-asyncio's running loop.
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_ARGS
        )
        expect.set_options(timeout=15_000)
        yield browser
        await browser.close()


@pytest.fixture
async def page(browser: Browser, site: Site) -> AsyncIterator[Page]:
    context = await browser.new_context(base_url=site.url, viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    yield page
    await context.close()
