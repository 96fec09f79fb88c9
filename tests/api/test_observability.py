"""What an operator sees: a JSON-ready log record per request and Prometheus metrics."""

from __future__ import annotations

import logging

import httpx
import pytest

from tests.conftest import SAMPLE_SLUG, contract

POST_COMMENT = contract("post-comment")


def metric(text: str, name: str) -> float:
    """The value of one sample line of the Prometheus text format (0 when absent)."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_metrics_count_requests_cache_outcomes_and_errors(
    client: httpx.AsyncClient, sample: None
) -> None:
    before = (await client.get("/metrics")).text
    query = {"query": "query Page { sections { slug } }", "operationName": "Page"}
    for _ in range(2):
        await client.post("/graphql", json=query)
    await client.post("/graphql", json={"query": "{ articles(first: 500) { totalCount } }"})
    after = await client.get("/metrics")

    assert after.status_code == 200
    text = after.text
    requests = 'newsroom_graphql_requests_total{operation="Page",status="200"}'
    assert metric(text, requests) == metric(before, requests) + 2
    hits = 'newsroom_result_cache_total{outcome="hit"}'
    assert metric(text, hits) == metric(before, hits) + 1
    bad = 'newsroom_graphql_errors_total{code="BAD_USER_INPUT"}'
    assert metric(text, bad) == metric(before, bad) + 1
    assert metric(text, "newsroom_outbox_pending") >= 0
    assert metric(text, "newsroom_search_up") == 0  # this app runs without Meilisearch
    assert "newsroom_graphql_request_seconds_bucket" in text


async def test_one_log_record_per_request_without_tokens_or_comment_text(
    client: httpx.AsyncClient, sample: None, editor: dict, caplog: pytest.LogCaptureFixture
) -> None:
    body = "A private thought no log should hold"
    variables = {"input": {"articleSlug": SAMPLE_SLUG, "authorName": "Ann", "body": body}}
    with caplog.at_level(logging.INFO, logger="newsroom.access"):
        response = await client.post(
            "/graphql",
            json={"query": POST_COMMENT, "variables": variables, "operationName": "PostComment"},
            headers=editor,
        )
    records = [r for r in caplog.records if r.name == "newsroom.access"]
    assert len(records) == 1
    record = records[0]
    assert record.request_id == response.headers["x-request-id"]
    assert record.operation == "PostComment"
    assert record.status == 200
    assert record.cache == "bypass"
    assert record.duration_ms > 0
    token = editor["Authorization"].split()[1]
    assert body not in caplog.text and token not in caplog.text


def test_operation_names_cannot_grow_the_metrics_without_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Clients name their operations: past the first few dozen, new names share one series."""
    from api import observability

    monkeypatch.setattr(observability, "_operation_labels", set())
    names = [f"Probe{n}" for n in range(observability.MAX_OPERATION_LABELS + 50)]
    labels = {observability.operation_label(name) for name in names}
    assert len(labels) <= observability.MAX_OPERATION_LABELS + 1
    assert "other" in labels
    assert observability.operation_label("not a name; DROP") == "other"
    assert observability.operation_label(None) == "-"
