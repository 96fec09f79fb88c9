"""Hostile traffic (issue 13): what ~700 KB hostile requests cost the API, and its readers.

`make bench-hostile` starts `newsroom serve` (one process, SQLite with the demo content from
`newsroom demo` in a temporary DATA_DIR, result cache off so that every read runs SQL and
Strawberry), then measures, one after another:

- the reader alone: `articles(first: 3)` back to back, for BENCH_SECONDS (20);
- each hostile kind alone: HOSTILE_SOLO (20) distinct requests one at a time;
- the attack: ATTACKERS (3) clients sending distinct hostile requests back to back while the
  reader reads, for BENCH_SECONDS; each client in a process of its own.

Every hostile request is distinct (no cache can answer it) and must be refused with a 4xx or an
error code (or, for the comment, a ValidationError): anything else, or any 5xx, is counted. Times
are the client's, from the first byte sent to the last received, over loopback. Writes
bench/results/hostile-latest.json. Targets: reader p99 under 300 ms, each refusal under 100 ms.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.demo import demo_env, load_demo, serving
from search.server import free_port

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SECONDS = int(os.environ.get("BENCH_SECONDS", "20"))
SOLO = int(os.environ.get("HOSTILE_SOLO", "20"))
ATTACKERS = int(os.environ.get("ATTACKERS", "3"))
SIZE = 700_000
READER = {"query": "{ articles(first: 3) { nodes { slug title } } }"}
TOPICS = "query ($t: [String!]) { articles(filter: {topics: $t}) { totalCount } }"
POST_COMMENT = (
    "mutation ($input: PostCommentInput!) { postComment(input: $input) "
    "{ __typename ... on ValidationError { field } } }"
)


def _json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


# Every hostile document carries this comment, replaced by a serial number as it is sent: each
# request is distinct, so no cache of parsed (or refused) documents can answer it.
MARK = "#~~~~~~~~~"


def fresh(body: bytes, serial: int) -> bytes:
    return body.replace(MARK.encode(), f"#{serial:09d}".encode(), 1)


def _padded(query: str, variables: dict[str, Any] | None = None) -> bytes:
    # A small document in a ~700 KB body: the padding is a variable no operation declares.
    body = {"query": f"{MARK}\n{query}", "variables": {**(variables or {}), "pad": ""}}
    body["variables"]["pad"] = "x" * (SIZE - len(_json(body)))
    return _json(body)


def _aliases() -> bytes:
    aliases = " ".join(f"a{i}: __typename" for i in range(SIZE // 18))
    return _json({"query": f"{MARK}\n{{ {aliases} }}"})


def _tokens() -> bytes:
    # Under the length limit, over the token limit: the parser's own work is what is bounded.
    return _padded("{ " + " ".join(f"a{i}: __typename" for i in range(2_600)) + " }")


def _fragment_bomb() -> bytes:
    fragments = [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(40)]
    return _padded("\n".join(["{ ...F0 }", *fragments, "fragment F40 on Query { __typename }"]))


def _same_field() -> bytes:
    return _padded("{ " + "__typename " * 300 + "}")


def _string_literal() -> bytes:
    return _json({"query": f'{MARK}\n{{ article(slug: "' + "x" * SIZE + '") { title } }'})


def _many_values() -> bytes:
    return _json({"query": f"{MARK}\n{TOPICS}", "variables": {"t": [0] * (SIZE // 2)}})


def _deep_variables() -> bytes:
    nested: Any = "x"
    for _ in range(40):
        nested = [nested]
    return _padded(TOPICS, {"t": nested})


def _deep_json() -> bytes:
    head = _json({"query": f"{MARK}\n{TOPICS}"})[:-1] + b',"variables":{"t":'
    depth = (SIZE - len(head)) // 2
    return head + b"[" * depth + b"]" * depth + b"}}"


def _long_comment() -> bytes:
    comment = {"articleSlug": "x", "authorName": "R", "body": "y" * (SIZE - 300)}
    return _json({"query": f"{MARK}\n{POST_COMMENT}", "variables": {"input": comment}})


def _invalid_utf8() -> bytes:
    return _json({"query": f"{MARK}\n{{ __typename }}"})[:-2] + b"\xff" * SIZE + b'"}'


KINDS: dict[str, Callable[[], bytes]] = {
    "30k_aliases": _aliases,
    "token_bomb": _tokens,
    "fragment_bomb": _fragment_bomb,
    "same_field_300": _same_field,
    "string_literal": _string_literal,
    "350k_values": _many_values,
    "deep_variables": _deep_variables,
    "deep_json": _deep_json,
    "long_comment": _long_comment,
    "invalid_utf8": _invalid_utf8,
}


def refused(response: httpx.Response) -> bool:
    """A 4xx, or an answer whose every error has a code, or the comment's ValidationError."""
    if 400 <= response.status_code < 500:
        return True
    if response.status_code != 200:
        return False
    body = response.json()
    if body.get("errors"):
        return all((e.get("extensions") or {}).get("code") for e in body["errors"])
    return (body.get("data") or {}).get("postComment", {}).get("__typename") == "ValidationError"


def cpu_seconds(pid: int) -> float:
    """The server's user and system CPU time so far (the client's own work is not in it)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summary(times: list[float]) -> dict[str, float]:
    if not times:
        return {"count": 0}
    ordered = sorted(times)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {"count": len(ordered), "p50_ms": at(0.5), "p99_ms": at(0.99), "max_ms": at(1.0)}


class Tally:
    def __init__(self) -> None:
        self.times: list[float] = []
        self.server_errors = 0
        self.not_refused = 0
        self.other_errors = 0

    async def send(self, client: httpx.AsyncClient, body: bytes, *, hostile: bool) -> None:
        started = time.perf_counter()
        try:
            response = await client.post(
                "/graphql", content=body, headers={"Content-Type": "application/json"}
            )
        except httpx.HTTPError:
            self.other_errors += 1
            return
        self.times.append(time.perf_counter() - started)
        if response.status_code >= 500:
            self.server_errors += 1
        elif hostile and not refused(response):
            self.not_refused += 1
        elif not hostile and (response.status_code != 200 or "errors" in response.json()):
            self.other_errors += 1

    def report(self) -> dict[str, Any]:
        counts = {
            "5xx": self.server_errors,
            "not_refused": self.not_refused,
            "other_errors": self.other_errors,
        }
        return {**summary(self.times), **counts}


async def reader(url: str, tally: Tally, until: float) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        while time.monotonic() < until:
            await tally.send(client, _json(READER), hostile=False)


async def attacker(
    url: str, bodies: list[bytes], serials: Iterator[int], tally: Tally, until: float
) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        while time.monotonic() < until:
            serial = next(serials)
            await tally.send(client, fresh(bodies[serial % len(bodies)], serial), hostile=True)


def client_process(url: str, number: int, start_at: float) -> Tally:
    """One client of the attack, in a process of its own, so that no client's work delays
    another's timings: number 0 reads, the others attack."""
    tally = Tally()
    # Each attacker sends every kind in turn, with serial numbers no other attacker uses.
    bodies = [make() for make in KINDS.values()]
    serials = itertools.count(10**8 * (number + 1))
    time.sleep(max(0.0, start_at - time.time()))
    until = time.monotonic() + SECONDS
    if number == 0:
        asyncio.run(reader(url, tally, until))
    else:
        asyncio.run(attacker(url, bodies, serials, tally, until))
    return tally


def merged(tallies: list[Tally]) -> Tally:
    total = Tally()
    for tally in tallies:
        total.times += tally.times
        total.server_errors += tally.server_errors
        total.not_refused += tally.not_refused
        total.other_errors += tally.other_errors
    return total


def cpu_per_request(pid: int, before: float, *tallies: Tally) -> float:
    requests = sum(len(tally.times) for tally in tallies)
    return round((cpu_seconds(pid) - before) * 1000 / max(requests, 1), 2)


async def measure_alone(url: str, pid: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    alone = Tally()
    before = cpu_seconds(pid)
    await reader(url, alone, time.monotonic() + SECONDS)
    results["reader_alone"] = {
        **alone.report(),
        "server_cpu_ms_per_request": cpu_per_request(pid, before, alone),
    }
    print("reader alone:", results["reader_alone"], flush=True)

    bodies = {kind: make() for kind, make in KINDS.items()}
    serials = itertools.count()
    results["hostile_alone"] = {}
    for kind, body in bodies.items():
        tally = Tally()
        before = cpu_seconds(pid)
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            for _ in range(SOLO):
                await tally.send(client, fresh(body, next(serials)), hostile=True)
        results["hostile_alone"][kind] = {
            "body_kb": len(body) // 1000,
            **tally.report(),
            "server_cpu_ms_per_request": cpu_per_request(pid, before, tally),
        }
        print(f"{kind:15}", results["hostile_alone"][kind], flush=True)

    return results


def measure_attack(url: str, pid: int) -> dict[str, Any]:
    start_at = time.time() + 15  # each client makes its bodies first
    with ProcessPoolExecutor(ATTACKERS + 1) as pool:
        futures = [pool.submit(client_process, url, n, start_at) for n in range(ATTACKERS + 1)]
        time.sleep(max(0.0, start_at - time.time()))
        before = cpu_seconds(pid)
        tallies = [future.result() for future in futures]
        cpu = cpu_seconds(pid) - before
    during, hostile = tallies[0], merged(tallies[1:])
    mean_size = sum(len(make()) for make in KINDS.values()) / len(KINDS)
    requests = len(during.times) + len(hostile.times)
    attack = {
        "attackers": ATTACKERS,
        "reader": during.report(),
        "hostile": hostile.report(),
        "hostile_requests_per_second": round(len(hostile.times) / SECONDS, 1),
        "hostile_megabytes_per_second": round(len(hostile.times) * mean_size / SECONDS / 1e6, 1),
        "server_cpu_ms_per_request": round(cpu * 1000 / max(requests, 1), 2),
        "server_cpu_share": round(cpu / SECONDS, 2),
    }
    print("attack:", json.dumps(attack), flush=True)
    return attack


@contextmanager
def served(data_dir: Path) -> Iterator[tuple[str, int]]:
    env = demo_env(
        data_dir,
        free_port(),
        PEOPLE_WORKER="false",
        SEARCH_WORKER="false",
        RESULT_CACHE="false",
    )
    load_demo(env)
    with serving(env) as (url, pid):
        yield url, pid


def main() -> None:
    with (
        tempfile.TemporaryDirectory(prefix="bench-hostile-") as scratch,
        served(Path(scratch)) as (url, pid),
    ):
        results = asyncio.run(measure_alone(url, pid))
        results["attack"] = measure_attack(url, pid)
    attack = results["attack"]
    solo_max = max(kind["max_ms"] for kind in results["hostile_alone"].values())
    results["targets"] = {
        "reader_p99_under_300_ms": attack["reader"]["p99_ms"] < 300,
        "refusal_under_100_ms_alone": solo_max < 100,
        "refusal_p99_under_100_ms_under_attack": attack["hostile"]["p99_ms"] < 100,
        "no_5xx": attack["hostile"]["5xx"] == attack["reader"]["5xx"] == 0,
    }
    results["machine"] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "database": "SQLite, newsroom demo content",
        "result_cache": False,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "hostile-latest.json").write_text(json.dumps(results, indent=2) + "\n")
    print("targets:", results["targets"])


if __name__ == "__main__":
    main()
