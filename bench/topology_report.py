"""The figures of a topology run: totals, per phase around each fault, per kind, over time;
what the logs say, and the machine."""

from __future__ import annotations

import math
import os
import platform
import subprocess
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from bench.topology_load import Outcome
from bench.topology_stack import WORK

RECOVERY_SECONDS = 15.0  # a fault's phase runs until this long after it was recovered from
SAMPLES = 25

console = Console(width=150)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def summary(outcomes: Iterable[Outcome], shed: int = 0) -> dict[str, Any]:
    """Reads (readers' queries, and the writers' reads back) and writes, counted apart."""
    outcomes = list(outcomes)
    reads = [o for o in outcomes if not o.write]
    writes = [o for o in outcomes if o.write]
    latencies = [o.ms for o in reads]
    errors = sum(o.error is not None for o in reads)
    comment_failures = sum(o.kind == "comment" and not o.acknowledged for o in writes)
    return {
        "requests": len(reads) + len(writes),
        "reads": len(reads),
        "errors": errors + comment_failures,
        "read_errors": errors,
        "error_pct": round(100 * (errors + comment_failures) / max(1, len(reads) + len(writes)), 3),
        "stale_answers": sum(o.stale is not None for o in reads),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "max_ms": round(max(latencies, default=0.0), 1),
        "writes_sent": len(writes),
        "writes": sum(o.acknowledged for o in writes),
        "write_failures": sum(not o.acknowledged for o in writes),
        "write_p50_ms": round(percentile([o.ms for o in writes], 50), 1),
        "write_p99_ms": round(percentile([o.ms for o in writes], 99), 1),
        "degraded_searches": sum(o.degraded for o in reads),
        "persisted_query_misses": sum(o.apq_miss for o in reads),
        "shed": shed,
    }


def phases(
    outcomes: list[Outcome], faults: list[dict[str, Any]], seconds: float, shed: list[float]
) -> list[dict[str, Any]]:
    """Before the faults, each fault until RECOVERY_SECONDS after its recovery, the steady time
    between them, and the checks after the run."""
    bounds: list[tuple[str, float]] = [("before the faults", 0.0)]
    for fault in faults:
        bounds.append((fault["fault"], fault["at_s"]))
        bounds.append(
            (f"steady after {fault['fault']}", fault["recovered_at_s"] + RECOVERY_SECONDS)
        )
    bounds.append(("after the run (settled)", seconds))
    rows = []
    for (name, start), (_, end) in zip(bounds, [*bounds[1:], ("", math.inf)], strict=True):
        if end - start < 1.0:
            continue  # a fault that ran late leaves no steady time before the next
        inside = [o for o in outcomes if start <= o.start < end]
        dropped = sum(start <= t < end for t in shed)
        rows.append(
            {"phase": name, "from_s": round(start, 1), "to_s": round(min(end, 1e9), 1)}
            | summary(inside, dropped)
        )
    rows[-1]["to_s"] = None
    return rows


def grouped(outcomes: list[Outcome], key: Callable[[Outcome], str]) -> dict[str, Any]:
    groups: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        groups.setdefault(key(outcome), []).append(outcome)
    figures = {}
    for name, members in sorted(groups.items()):
        s = summary(members)
        if members[0].write:
            figures[name] = {
                "sent": s["writes_sent"],
                "acknowledged": s["writes"],
                "failed": s["write_failures"],
                "p50_ms": s["write_p50_ms"],
                "p99_ms": s["write_p99_ms"],
            }
        else:
            keep = ("reads", "errors", "stale_answers", "p50_ms", "p99_ms", "max_ms")
            figures[name] = {k: s[k] for k in keep}
    return figures


def timeline(outcomes: list[Outcome], seconds: float, step: float = 10.0) -> list[dict[str, Any]]:
    rows = []
    for n in range(math.ceil(seconds / step)):
        inside = [o for o in outcomes if n * step <= o.start < (n + 1) * step]
        s = summary(inside)
        rows.append(
            {"from_s": n * step}
            | {k: s[k] for k in ("requests", "errors", "stale_answers", "p50_ms", "p99_ms")}
            | {"write_failures": s["write_failures"]}
        )
    return rows


def samples(outcomes: list[Outcome]) -> dict[str, list[dict[str, Any]]]:
    """The first wrong answers of each sort, with the request id the API and nginx logged."""

    def describe(o: Outcome, reason: str | None) -> dict[str, Any]:
        return {
            "t_s": round(o.start, 2),
            "kind": o.kind,
            "method": o.method,
            "status": o.status,
            "ms": round(o.ms),
            "request_id": o.request_id,
            "reason": reason,
        }

    return {
        "errors": [describe(o, o.error) for o in outcomes if o.error and not o.write][:SAMPLES],
        "write_failures": [
            describe(o, o.error) for o in outcomes if o.write and not o.acknowledged
        ][:SAMPLES],
        "stale": [describe(o, o.stale) for o in outcomes if o.stale][:SAMPLES],
    }


def reasons(outcomes: list[Outcome]) -> dict[str, int]:
    """How often each kind of failure came, by its first words."""
    found = Counter(" ".join((o.error or "").split()[:4]) for o in outcomes if o.error is not None)
    return dict(found.most_common())


def print_report(figures: dict[str, Any]) -> None:
    table = Table(title=f"topology run: {figures['settings']['seconds']} s through nginx")
    columns = ("phase", "from s", "reads", "errors", "stale", "p50 ms", "p99 ms", "max ms")
    for column in (*columns, "writes", "failed", "degraded"):
        table.add_column(column, justify="left" if column == "phase" else "right")
    for p in figures["phases"]:
        table.add_row(
            p["phase"],
            f"{p['from_s']:.0f}",
            str(p["reads"]),
            str(p["errors"]),
            str(p["stale_answers"]),
            f"{p['p50_ms']:.0f}",
            f"{p['p99_ms']:.0f}",
            f"{p['max_ms']:.0f}",
            str(p["writes"]),
            str(p["write_failures"]),
            str(p["degraded_searches"]),
        )
    console.print(table)
    keys = ("requests", "errors", "error_pct", "writes", "lost_writes", "stale_answers")
    console.print({k: figures[k] for k in keys})
    for target in figures["targets"]:
        mark = "met" if target["met"] else "MISSED"
        console.print(f"{target['target']}: {target['value']} ({mark})")


def log_findings() -> dict[str, Any]:
    """Warnings and errors the replicas logged, and nginx's complaints about upstreams."""
    found: dict[str, Any] = {}
    for log in sorted(WORK.glob("api-*.log")):
        messages: dict[str, int] = {}
        for line in log.read_text(errors="replace").splitlines():
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(record, dict) and record.get("levelname") in ("WARNING", "ERROR"):
                text = f"{record['levelname']} {record.get('message', '')}"[:160]
                messages[text] = messages.get(text, 0) + 1
        found[log.stem] = dict(sorted(messages.items(), key=lambda kv: -kv[1])[:15])
    nginx: dict[str, int] = {}
    error_log = WORK / "nginx" / "error.log"
    if error_log.exists():
        for line in error_log.read_text(errors="replace").splitlines():
            text = line.split("] ", 1)[-1].split(", client:")[0]
            text = " ".join(w for w in text.split() if not w[:1].isdigit())[:120]
            nginx[text] = nginx.get(text, 0) + 1
    found["nginx"] = dict(sorted(nginx.items(), key=lambda kv: -kv[1])[:15])
    return found


def machine() -> dict[str, Any]:
    def version(*command: str) -> str:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=10)
        except OSError:
            return "not found"
        return (done.stdout or done.stderr).strip().splitlines()[0]

    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "os": platform.platform(),
        "python": platform.python_version(),
        "nginx": version("nginx", "-v"),
        "redis": version("redis-server", "--version"),
        "postgresql": version("psql", "--version"),
    }
