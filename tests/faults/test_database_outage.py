"""The database goes away under a stream of requests and comes back: answers during the outage
are quick SERVICE_UNAVAILABLE errors, and the same process serves correctly again afterwards."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from search.server import LocalMeilisearch
from tests.conftest import SAMPLE, SAMPLE_SLUG, contract
from tests.support import Api, PrivatePostgres, api_env, article_input, newsroom

ARTICLE_PAGE = contract("article-page")
SAVE = contract("editor-save-article")
SEARCH = contract("site-search")
PAGE = {"query": ARTICLE_PAGE, "variables": {"slug": SAMPLE_SLUG}}
PEOPLE = "query ($slug: String!) { article(slug: $slug) { people { person { name } } } }"
# Far under REQUEST_TIME_LIMIT (10 s): a failure slower than this is a hang, not a fast failure.
FAST = 5.0
RECOVERY = 30.0


@dataclass
class Answer:
    phase: str
    kind: str
    status: int
    seconds: float
    body: dict[str, Any]

    @property
    def codes(self) -> set[str]:
        return {e.get("extensions", {}).get("code", "") for e in self.body.get("errors", [])}


class Stream:
    """Readers asking for an article page and an editor saving a story, without pause, with
    every answer kept in the phase it arrived in."""

    def __init__(self, client: httpx.AsyncClient, editor: dict[str, str]) -> None:
        self.client = client
        self.editor = editor
        self.phase = "before"
        self.answers: list[Answer] = []
        self._stop = asyncio.Event()

    async def _post(self, kind: str, body: dict[str, Any], headers: dict[str, str]) -> Answer:
        started = time.monotonic()
        response = await self.client.post("/graphql", json=body, headers=headers)
        try:
            parsed = response.json()
        except ValueError:
            parsed = {"text": response.text}
        answer = Answer(self.phase, kind, response.status_code, time.monotonic() - started, parsed)
        self.answers.append(answer)
        return answer

    async def _read(self) -> None:
        while not self._stop.is_set():
            await self._post("read", PAGE, {})
            await asyncio.sleep(0.02)

    async def _write(self) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            body = {
                "query": SAVE,
                "operationName": "SaveArticle",
                "variables": {"input": article_input(slug="outage-story", title=f"Version {n}")},
            }
            await self._post("write", body, self.editor)
            await asyncio.sleep(0.1)

    async def run(self, readers: int = 2) -> None:
        await asyncio.gather(*(self._read() for _ in range(readers)), self._write())

    def stop(self) -> None:
        self._stop.set()


async def wait_until(check: Any, seconds: float) -> float:
    """Poll `check` until it is true; answers how long that took."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > seconds:
            pytest.fail(f"{check.__name__}: not so after {seconds:g} s")
        await asyncio.sleep(0.2)
    return time.monotonic() - started


# `fast` ends every session with an error message, as a restart for maintenance does;
# `immediate` is a crash: connections just drop, and the server recovers from its WAL.
@pytest.mark.parametrize("stop", ["fast", "immediate"])
async def test_requests_fail_fast_while_the_database_is_down_and_recover_without_restart(
    private_postgres: PrivatePostgres, meili: LocalMeilisearch, tmp_path: Path, stop: str
) -> None:
    env = api_env(private_postgres.database_url("postgres"), meili, tmp_path)
    newsroom(env, "db", "upgrade")
    newsroom(env, "import", str(SAMPLE))
    token = newsroom(env, "token", "create", "--role", "editor", "--name", "desk").split()[-1]
    editor = {"Authorization": f"Bearer {token}"}
    api = Api(env, tmp_path / "api.log")
    try:
        async with httpx.AsyncClient(base_url=api.url, timeout=30) as client:
            pages: list[dict[str, Any]] = [{}]

            async def settled() -> bool:
                # The page is complete once the workers have found its people and indexed its
                # related story; from then on every correct answer is the same.
                pages.append((await client.post("/graphql", json=PAGE)).json())
                article = pages[-1]["data"]["article"]
                return bool(article["people"] and article["related"]) and pages[-2] == pages[-1]

            await wait_until(settled, RECOVERY)
            expected = pages[-1]

            stream = Stream(client, editor)
            running = asyncio.create_task(stream.run())
            try:
                await asyncio.sleep(1)
                stream.phase = "stopping"
                await asyncio.to_thread(private_postgres.stop, stop)
                stream.phase = "down"
                await asyncio.sleep(3)
                down_ready = await client.get("/readyz")
                stream.phase = "starting"
                await asyncio.to_thread(private_postgres.start)
                stream.phase = "recovering"

                async def correct() -> bool:
                    answers = [a for a in stream.answers[-4:] if a.phase == "recovering"]
                    return len(answers) == 4 and all(
                        a.body == expected if a.kind == "read" else not a.codes for a in answers
                    )

                recovered = await wait_until(correct, RECOVERY)
                stream.phase = "after"
                await asyncio.sleep(1)
            finally:
                stream.stop()
                await running
            up_ready = await client.get("/readyz")
            still_running = api.process.poll() is None

            # After the outage, an editor's save is stored and both background workers, which
            # lived through the outage, pick it up: it reaches search and its people are found.
            title = "Floodgates reopen after the outage"
            text = "German Chancellor Olaf Scholz told reporters on Monday the floodgates reopen."
            story = article_input(slug="after-outage", title=title)
            save = {"input": {**story, "body": [{"type": "PARAGRAPH", "text": text}]}}
            body = {"query": SAVE, "operationName": "SaveArticle", "variables": save}
            saved = (await client.post("/graphql", json=body, headers=editor)).json()
            assert saved["data"]["saveArticle"]["__typename"] == "ArticleSaved", saved
            publish = {"query": SAVE, "operationName": "PublishArticle"}
            publish["variables"] = {"slug": "after-outage"}
            published = (await client.post("/graphql", json=publish, headers=editor)).json()
            assert published["data"]["publishArticle"]["__typename"] == "ArticleSaved", published

            async def found() -> bool:
                search = {"query": SEARCH, "variables": {"q": "floodgates"}}
                answer = (await client.post("/graphql", json=search)).json()["data"]["search"]
                hits = [hit["article"]["slug"] for hit in answer["hits"]]
                return not answer["degraded"] and hits == ["after-outage"]

            indexed = await wait_until(found, RECOVERY)

            async def extracted() -> bool:
                people = {"query": PEOPLE, "variables": {"slug": "after-outage"}}
                answer = (await client.post("/graphql", json=people)).json()["data"]["article"]
                return [p["person"]["name"] for p in answer["people"]] == ["Olaf Scholz"]

            await wait_until(extracted, RECOVERY)
    finally:
        api.stop()

    by_phase: dict[str, list[Answer]] = {}
    for answer in stream.answers:
        by_phase.setdefault(answer.phase, []).append(answer)
    down = by_phase["down"]
    _report(by_phase, recovered, indexed)
    assert len(down) >= 20, "too few requests during the outage to say anything"
    assert all(a.codes == {"SERVICE_UNAVAILABLE"} for a in down), _unexpected(down)
    assert all(a.status in (200, 503) for a in down), _unexpected(down)
    assert {a.kind for a in down} == {"read", "write"}
    # Around the stop and the start, an answer is either right or SERVICE_UNAVAILABLE; never a
    # 500, never another error, never slow.
    for answer in stream.answers:
        assert answer.status in (200, 503), _unexpected([answer])
        if answer.codes:
            assert answer.codes == {"SERVICE_UNAVAILABLE"}, _unexpected([answer])
            assert answer.seconds < FAST, _unexpected([answer])
        elif answer.kind == "read":
            assert answer.body == expected, _unexpected([answer])
        else:
            assert answer.body["data"]["saveArticle"]["__typename"] == "ArticleSaved", answer
    assert [a.kind for a in by_phase["after"] if not a.codes] == [a.kind for a in by_phase["after"]]
    assert "write" in {a.kind for a in by_phase["after"]}
    assert down_ready.status_code == 503 and up_ready.status_code == 200
    assert still_running, "the API process did not survive the outage"


def _unexpected(answers: list[Answer]) -> str:
    return "\n".join(f"{a.kind} {a.status} {a.seconds:.2f}s {a.body}" for a in answers[:5])


def _report(by_phase: dict[str, list[Answer]], recovered: float, indexed: float) -> None:
    for phase, answers in by_phase.items():
        slowest = max(a.seconds for a in answers) * 1000
        median = sorted(a.seconds for a in answers)[len(answers) // 2] * 1000
        statuses = Counter(a.status for a in answers)
        print(
            f"{phase}: {len(answers)} answers {dict(statuses)}, median {median:.0f} ms, "
            f"slowest {slowest:.0f} ms"
        )
    print(f"correct again {recovered:.1f} s after the database accepted connections")
    print(f"a save after the outage searchable in {indexed:.1f} s")
