"""The readers of the topology run: the contract's queries through nginx, every answer checked.

The mix is the soak's (bench/soak.py: article pages over every story, the newest most read,
lists, searches, suggestions, topic and person pages, in its shares) with what else a reader's
browser sends: the comments thread, the related-stories widget (its script, and its persisted
query over GET, as widget.js sends it), and the stories the editors are changing right now.
Queries go as GET, which nginx may retry on another replica, except POST_SHARE of them sent as
POST exactly as the site's pages send them today, so that both are measured.

An answer is an error when it is not a 2xx, carries GraphQL `errors`, or shows wrong content: an
unknown story for a published slug, another title than SQL holds, a list out of order. It is
stale when it shows less than a write acknowledged before the read began (bench/topology_ledger).
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import json
import random
import time
from dataclasses import dataclass
from datetime import datetime
from itertools import accumulate
from typing import Any

import httpx

from api.operations import query_hash
from api.site.routes import contract_query
from bench import soak
from bench.topology_ledger import Ledger

# Shares of the reads; the soak's own kinds keep their relative weights inside theirs.
SHARES = {
    "article_page": 0.40,
    "latest_articles": 0.08,
    "site_search": 0.08,
    "search_suggest": 0.07,
    "topic_page": 0.04,
    "person_page": 0.03,
    "comments_thread": 0.08,
    "widget_query": 0.10,
    "widget_js": 0.04,
    "edited_story": 0.08,
}
POST_SHARE = 0.3
TIMEOUT_SECONDS = 30.0  # a reader gives up after this; REQUEST_TIME_LIMIT is 10 s
MAX_IN_FLIGHT = 200  # past this the driver is the bottleneck: requests are counted as shed
WIDGET = "related-widget"


@dataclass(frozen=True, slots=True)
class Read:
    kind: str
    operation: str  # the contract document's file name
    variables: dict[str, Any]


@dataclass(slots=True)
class Outcome:
    """One request through nginx, as the figures need it."""

    kind: str
    method: str
    start: float  # seconds since the run began
    ms: float
    status: int
    request_id: str
    error: str | None = None
    stale: str | None = None
    write: bool = False
    acknowledged: bool = False
    degraded: bool = False
    apq_miss: bool = False


class Recorder:
    def __init__(self) -> None:
        self.outcomes: list[Outcome] = []
        self.shed: list[float] = []
        self.began = time.monotonic()
        self.recording = False
        # When the load stops (seconds since `began`); the faults push it back if they run late.
        self.end = 0.0
        self._ids = itertools.count(1)

    def now(self) -> float:
        return time.monotonic() - self.began

    def restart(self, seconds: float) -> None:
        """The measured run begins: time counts from now, every outcome is kept until `end`."""
        self.outcomes, self.shed = [], []
        self.began = time.monotonic()
        self.end = seconds
        self.recording = True

    def running(self) -> bool:
        return self.now() < self.end

    def request_id(self, kind: str) -> str:
        return f"topology-{kind}-{next(self._ids)}"

    def add(self, outcome: Outcome) -> None:
        if self.recording:
            self.outcomes.append(outcome)


def build_mix(soak_mix: list[soak.Request]) -> tuple[list[Read], list[float]]:
    """Every distinct read with its weight, as cumulative weights for drawing."""
    reads: list[tuple[float, Read]] = []
    for request in soak_mix:
        share = SHARES[request.kind] / soak.MIX[request.kind]
        operation = request.kind.replace("_", "-")
        reads.append(
            (request.weight * share, Read(request.kind, operation, request.body["variables"]))
        )
    pages = [(w, r) for w, r in reads if r.kind == "article_page"]
    total = sum(w for w, _ in pages)
    for kind, operation in (("comments_thread", "comments-thread"), ("widget_query", WIDGET)):
        for weight, page in pages:
            variables = {"slug": page.variables["slug"]}
            if kind == "widget_query":
                variables["limit"] = 4
            reads.append((SHARES[kind] * weight / total, Read(kind, operation, variables)))
    reads.append((SHARES["widget_js"], Read("widget_js", "", {})))
    reads.append((SHARES["edited_story"], Read("edited_story", "article-page", {})))
    return [r for _, r in reads], list(accumulate(w for w, _ in reads))


class Readers:
    """Sends reads at a steady rate and checks each answer."""

    def __init__(
        self,
        url: str,
        reads: list[Read],
        cumulative: list[float],
        titles: dict[str, str],
        ledger: Ledger,
        recorder: Recorder,
        seed: int,
    ) -> None:
        self.url = url
        self.reads = reads
        self.cumulative = cumulative
        self.titles = titles
        self.ledger = ledger
        self.recorder = recorder
        self.rng = random.Random(seed)
        self.client = httpx.AsyncClient(
            timeout=TIMEOUT_SECONDS,
            limits=httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=64),
            headers={"Accept": "application/json", "Accept-Encoding": "identity"},
        )
        self.in_flight: set[asyncio.Task[None]] = set()

    async def aclose_in_flight(self) -> None:
        """Wait for the reads still under way."""
        if self.in_flight:
            await asyncio.wait(set(self.in_flight))

    async def aclose(self) -> None:
        await self.aclose_in_flight()
        await self.client.aclose()

    def draw(self) -> Read:
        point = self.rng.random() * self.cumulative[-1]
        read = self.reads[bisect.bisect(self.cumulative, point)]
        if read.kind == "edited_story":
            slug = self.ledger.published_slug(self.rng)
            if slug is None:
                return self.draw()
            return Read("edited_story", "article-page", {"slug": slug})
        return read

    async def run(self, rate: float) -> None:
        """Open loop: arrivals at `rate` per second (Poisson), whatever the answers' latency,
        until the recorder's end."""
        while self.recorder.running():
            await asyncio.sleep(self.rng.expovariate(rate))
            if len(self.in_flight) >= MAX_IN_FLIGHT:
                self.recorder.shed.append(self.recorder.now())
                continue
            method = "POST" if self.rng.random() < POST_SHARE else "GET"
            task = asyncio.create_task(self.read(self.draw(), method))
            self.in_flight.add(task)
            task.add_done_callback(self.in_flight.discard)

    async def read(self, read: Read, method: str = "GET") -> Outcome:
        """Send one read, check its answer, record it and hand it back."""
        expected = self.ledger.expectation(read.operation, read.variables)
        request_id = self.recorder.request_id(read.kind)
        start = self.recorder.now()
        outcome = Outcome(read.kind, method, start, 0.0, 0, request_id)
        try:
            if read.kind == "widget_js":
                outcome.error = await self._widget_js(outcome)
            else:
                answer = await self._graphql(read, method, outcome)
                if answer is not None:
                    outcome.error = wrong(read, answer, self.titles)
                    outcome.degraded = _degraded(answer)
                    if outcome.error is None:
                        outcome.stale = self.ledger.stale(read.operation, answer, expected)
        except httpx.HTTPError as exc:
            outcome.error = f"{type(exc).__name__}: {exc}"[:300]
        outcome.ms = (self.recorder.now() - start) * 1000
        self.recorder.add(outcome)
        return outcome

    async def _widget_js(self, outcome: Outcome) -> str | None:
        answer = await self.client.get(
            f"{self.url}/widget.js", headers={"X-Request-ID": outcome.request_id}
        )
        outcome.status = answer.status_code
        if answer.status_code != 200:
            return f"HTTP {answer.status_code}"
        if "related-stories" not in answer.text:
            return "widget.js without the element"
        return None

    async def _graphql(self, read: Read, method: str, outcome: Outcome) -> dict[str, Any] | None:
        query = contract_query(read.operation)
        headers = {"X-Request-ID": outcome.request_id}
        if read.kind == "widget_query":
            # widget.js: the hash first, the text only when the server asks for it.
            extensions = json.dumps(
                {"persistedQuery": {"version": 1, "sha256Hash": query_hash(query)}}
            )
            params = {
                "operationName": "RelatedWidget",
                "variables": json.dumps(read.variables),
                "extensions": extensions,
            }
            answer = await self.client.get(f"{self.url}/graphql", params=params, headers=headers)
            body = _json(answer)
            if body is not None and _codes(body) == ["PERSISTED_QUERY_NOT_FOUND"]:
                outcome.apq_miss = True
                params["query"] = query
                answer = await self.client.get(
                    f"{self.url}/graphql", params=params, headers=headers
                )
        elif method == "GET":
            params = {"query": query, "variables": json.dumps(read.variables)}
            answer = await self.client.get(f"{self.url}/graphql", params=params, headers=headers)
        else:
            payload = {"query": query, "variables": read.variables}
            answer = await self.client.post(f"{self.url}/graphql", json=payload, headers=headers)
        outcome.status = answer.status_code
        body = _json(answer)
        if answer.status_code // 100 != 2 or body is None:
            outcome.error = f"HTTP {answer.status_code}: {answer.text[:200]}"
            return None
        return body


def _json(answer: httpx.Response) -> dict[str, Any] | None:
    try:
        body = answer.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _codes(answer: dict[str, Any]) -> list[str]:
    return [str((e.get("extensions") or {}).get("code")) for e in answer.get("errors") or []]


def _degraded(answer: dict[str, Any]) -> bool:
    search = (answer.get("data") or {}).get("search")
    return bool(search and search.get("degraded"))


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def wrong(read: Read, answer: dict[str, Any], titles: dict[str, str]) -> str | None:
    """Why this answer is not a correct one in any state of the run, or None. Stories of the
    run's own (not in `titles`) are the ledger's to check."""
    if answer.get("errors"):
        return f"GraphQL errors {_codes(answer)}: {answer['errors'][0].get('message', '')[:200]}"
    data = answer.get("data")
    if not isinstance(data, dict):
        return "no data"
    slug = read.variables.get("slug")
    if read.operation in ("article-page", "comments-thread", WIDGET):
        article = data.get("article")
        if article is None:
            return f"no article for {slug!r}" if slug in titles else None
        if "title" in article and slug in titles and article["title"] != titles[slug]:
            return f"title {article['title']!r}, SQL has {titles[slug]!r}"
        if read.operation == WIDGET and not isinstance(article.get("related"), list):
            return "no related list"
    elif read.operation == "latest-articles":
        nodes = data["articles"]["nodes"]
        wanted = min(read.variables.get("first", 10), data["articles"]["totalCount"])
        if len(nodes) != wanted:
            return f"{len(nodes)} stories, expected {wanted}"
        times = [_time(n["publishedAt"]) for n in nodes]
        if times != sorted(times, reverse=True):
            return "not newest first"
    elif read.operation == "site-search":
        if data.get("search") is None or len(data["search"]["hits"]) > 10:
            return "no search answer"
    elif read.operation in ("topic-page", "person-page"):
        field = read.operation.removesuffix("-page")
        if data.get(field) is None:
            return f"no {field} {slug!r}"
    elif read.operation == "search-suggest" and data.get("suggest") is None:
        return "no suggestions answer"
    return None
