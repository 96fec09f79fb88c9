"""Scenarios measured in alternating rounds, so that a ratio compares like with like.

This machine's speed drifts within minutes (the same server measured 7,600 to 12,200 requests/s
in back-to-back 10 s rounds), so one scenario measured for 15 s and its peer for 15 s a few
minutes later gave ratios a quarter apart between two runs of the same code. Here every server
runs for the whole measurement, each scenario is warmed up once, and then the scenarios take
turns: round 1 runs each of them for its share of the time, round 2 again, and so on, each round
after a short warm-up of its own. A
scenario's figures are its rounds together (requests over time; the median round's p50 and p99),
and a ratio is the median of the ratios of the same round. The scenarios keep one order in every
round, so the two sides of a ratio are at most one round apart (about 90 s for twelve
scenarios), and drift within a round always falls on the same side of each pair.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
# Before each round of each scenario (see Load.run).
ROUND_WARM_UP_SECONDS = 2


@dataclass
class Outcome:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "rps": round(self.rps, 1),
            "p50_ms": round(self.p50_ms, 2),
            "p99_ms": round(self.p99_ms, 2),
            "requests": self.requests,
            "errors": self.errors,
        }


@dataclass
class Load:
    """One scenario's load: wrk POSTing `bodies` to `url`, or GETting `paths` below it. `check`
    validates one answer first, so a benchmark of error pages cannot pass for a fast one."""

    url: str
    bodies: list[dict[str, Any]]
    paths: list[str] | None = None
    headers: dict[str, str] | None = None
    connections: int = 8
    check: Callable[[Any], bool] | None = None
    rounds: list[Outcome] = field(default_factory=list)
    _env: dict[str, str] = field(default_factory=dict)

    def prepare(self, scratch: Path, warm_up_seconds: int) -> None:
        """Check one answer, write wrk's inputs under `scratch` and warm the server up."""
        scratch.mkdir(parents=True, exist_ok=True)
        body_file, header_file = scratch / "bodies", scratch / "headers"
        body_file.write_text("\n".join(json.dumps(b, separators=(",", ":")) for b in self.bodies))
        header_file.write_text("".join(f"{k}: {v}\n" for k, v in (self.headers or {}).items()))
        self._env = {
            **os.environ,
            "BENCH_BODIES": str(body_file),
            "BENCH_HEADERS": str(header_file),
        }
        if self.paths:
            path_file = scratch / "paths"
            path_file.write_text("\n".join(self.paths))
            self._env["BENCH_PATHS"] = str(path_file)
            answer = httpx.get(self.url + self.paths[0], headers=self.headers, timeout=30)
            ok = answer.status_code == 200 and (self.check is None or self.check(answer.text))
        else:
            answer = httpx.post(self.url, json=self.bodies[0], headers=self.headers, timeout=30)
            ok = answer.status_code == 200 and (self.check is None or self.check(answer.json()))
        if not ok:
            raise SystemExit(f"{self.url} answered {answer.status_code}: {answer.text[:2000]}")
        self._wrk(warm_up_seconds)

    def run(self, seconds: int, warm_up_seconds: int = 0) -> Outcome:
        """One measured round, after a warm-up of its own: between two rounds a server sat
        idle for a minute, and a pool may have closed its idle connections meanwhile
        (node-postgres after 10 s), whose successors start with cold caches."""
        if warm_up_seconds:
            self._wrk(warm_up_seconds)
        totals = self._wrk(seconds)
        outcome = Outcome(
            rps=totals["requests"] / (totals["duration_us"] / 1e6),
            p50_ms=totals["p50_us"] / 1000,
            p99_ms=totals["p99_us"] / 1000,
            requests=totals["requests"],
            errors=totals["errors"] + totals["non_2xx"],
        )
        self.rounds.append(outcome)
        return outcome

    def _wrk(self, seconds: int) -> dict[str, Any]:
        script = str(ROOT / "bench" / "wrk.lua")
        command = ["wrk", "-t1", f"-c{self.connections}", "--timeout", "10s", "-s", script]
        run = subprocess.run(
            [*command, f"-d{seconds}s", self.url],
            env=self._env,
            check=True,
            capture_output=True,
            text=True,
        )
        totals: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
        return totals

    def outcome(self) -> dict[str, Any]:
        """The rounds together, and each round's own figures."""
        seconds = sum(r.requests / r.rps for r in self.rounds if r.rps)
        requests = sum(r.requests for r in self.rounds)
        total = Outcome(
            rps=requests / seconds if seconds else 0.0,
            p50_ms=statistics.median(r.p50_ms for r in self.rounds),
            p99_ms=statistics.median(r.p99_ms for r in self.rounds),
            requests=requests,
            errors=sum(r.errors for r in self.rounds),
        )
        return {**total.as_dict(), "rounds": [r.as_dict() for r in self.rounds]}


def alternate(
    loads: dict[str, Load],
    rounds: int,
    seconds: int,
    warm_up_seconds: int,
    say: Callable[[str], Any],
) -> dict[str, dict[str, Any]]:
    """Warm every scenario up, then run them in turn `rounds` times for `seconds` each."""
    with tempfile.TemporaryDirectory() as scratch:
        for name, load in loads.items():
            say(f"{name}: checked, warming up …")
            load.prepare(Path(scratch) / name, warm_up_seconds)
        for n in range(1, rounds + 1):
            for name, load in loads.items():
                outcome = load.run(seconds, ROUND_WARM_UP_SECONDS)
                say(f"round {n}/{rounds} {name}: {outcome.rps:,.0f}/s, p50 {outcome.p50_ms:.2f} ms")
    return {name: load.outcome() for name, load in loads.items()}


def paired_ratio(
    top: dict[str, Any], bottom: dict[str, Any], measure: str
) -> tuple[float, list[float]]:
    """The median of the rounds' own ratios (the totals' ratio when a side has no rounds), and
    the rounds' ratios."""
    tops, bottoms = top.get("rounds"), bottom.get("rounds")
    if not tops or not bottoms or len(tops) != len(bottoms):
        return top[measure] / bottom[measure], []
    each = [t[measure] / b[measure] for t, b in zip(tops, bottoms, strict=True)]
    return statistics.median(each), each


def faster_of(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """The faster peer, round by round (the totals of the faster one overall)."""
    faster = max((first, second), key=lambda outcome: outcome["rps"])
    rounds = first.get("rounds"), second.get("rounds")
    if not rounds[0] or not rounds[1] or len(rounds[0]) != len(rounds[1]):
        return faster
    best = [max(a, b, key=lambda r: r["rps"]) for a, b in zip(*rounds, strict=True)]
    return {**faster, "rounds": best}
