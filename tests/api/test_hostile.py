"""Hostile requests, one named case each: every one is refused with its own code, in JSON, before
any SQL runs. How fast is the benchmark's business (bench/hostile.py); here, what and how."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import contract
from tests.support import count_statements

POST_COMMENT = contract("post-comment")
LATEST_ARTICLES = contract("latest-articles")
TOPICS = "query ($t: [String!]) { articles(filter: {topics: $t}) { totalCount } }"
ALIASES_30000 = "{ " + " ".join(f"a{n}: __typename" for n in range(30_000)) + " }"
ALIASES_2800 = "{ " + " ".join(f"a{n}: __typename" for n in range(2_800)) + " }"
# Each fragment spreads the next twice: 2^30 selections once expanded, 300 bytes of text.
FRAGMENT_BOMB = "\n".join(
    ["query { ...F0 }"]
    + [f"fragment F{n} on Query {{ ...F{n + 1} ...F{n + 1} }}" for n in range(30)]
    + ["fragment F30 on Query { __typename }"]
)
EMPTY_FRAGMENT_BOMB = FRAGMENT_BOMB.replace("{ __typename }", "{ }")
FRAGMENT_CYCLE = """query { ...A }
fragment A on Query { ...B }
fragment B on Query { ...A }"""
# Over the limits and invalid too: the limits answer, validation never ran.
TOO_MANY_UNKNOWN = "{ " + "nope " * 400 + "}"
SAME_FIELD_300 = "{ " + "__typename " * 300 + "}"
COMMENTS_2100 = "{ __typename }\n" + "#\n" * 2_100
LIST_LITERAL_190 = (
    "{ articles(filter: {topics: " + "[" * 190 + '"x"' + "]" * 190 + "}) { totalCount } }"
)
LIST_LITERAL_250 = LIST_LITERAL_190.replace("[" * 190, "[" * 250).replace("]" * 190, "]" * 250)


def raw_post(client: httpx.AsyncClient, body: bytes, content_type: str = "application/json"):  # type: ignore[no-untyped-def]
    return client.post("/graphql", content=body, headers={"Content-Type": content_type})


def refusal(response: httpx.Response, code: str, status: int = 200) -> dict[str, Any]:
    """The single error of a refused request, once it has the code, status and shape expected."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body.get("data") is None, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == code, error
    return error


async def post(client: httpx.AsyncClient, query: str, variables: Any = None) -> httpx.Response:
    return await client.post("/graphql", json={"query": query, "variables": variables})


# Documents ------------------------------------------------------------------------------------


async def test_a_document_of_30000_aliases_is_refused_by_its_length(
    client: httpx.AsyncClient, db: AsyncEngine
) -> None:
    with count_statements(db) as statements:
        error = refusal(await post(client, ALIASES_30000), "QUERY_TOO_LARGE")
    assert error["extensions"] == {
        "code": "QUERY_TOO_LARGE",
        "limit": 50_000,
        "measured": len(ALIASES_30000),
    }
    assert statements == []


async def test_a_document_of_2800_aliases_is_refused_by_its_tokens(
    client: httpx.AsyncClient, db: AsyncEngine
) -> None:
    assert len(ALIASES_2800) < 50_000
    with count_statements(db) as statements:
        error = refusal(await post(client, ALIASES_2800), "QUERY_TOO_LARGE")
    assert error["extensions"]["limit"] == 1_000
    assert "1000 tokens" in error["message"]
    assert statements == []


async def test_a_run_of_comments_counts_against_the_token_limit(client: httpx.AsyncClient) -> None:
    error = refusal(await post(client, COMMENTS_2100), "QUERY_TOO_LARGE")
    assert error["extensions"]["limit"] == 1_000


async def test_a_fragment_bomb_is_refused_by_its_expanded_size(
    client: httpx.AsyncClient, db: AsyncEngine
) -> None:
    with count_statements(db) as statements:
        error = refusal(await post(client, FRAGMENT_BOMB), "QUERY_TOO_COMPLEX")
    assert "field selections: at least 1000000000" in error["message"]
    assert error["extensions"]["limit"] == 300
    assert statements == []


async def test_a_bomb_of_empty_fragments_is_refused_by_its_spreads(
    client: httpx.AsyncClient,
) -> None:
    error = refusal(await post(client, EMPTY_FRAGMENT_BOMB), "QUERY_TOO_COMPLEX")
    assert "fragment spreads" in error["message"]


async def test_a_fragment_cycle_is_a_validation_error_not_a_hang(
    client: httpx.AsyncClient,
) -> None:
    body = (await post(client, FRAGMENT_CYCLE)).json()
    codes = {e["extensions"]["code"] for e in body["errors"]}
    assert codes == {"GRAPHQL_VALIDATION_FAILED"}
    assert any("cycle" in e["message"] or "itself" in e["message"] for e in body["errors"])


async def test_the_shape_is_refused_before_validation_reads_the_document(
    client: httpx.AsyncClient,
) -> None:
    error = refusal(await post(client, TOO_MANY_UNKNOWN), "QUERY_TOO_COMPLEX")
    assert error["extensions"]["measured"] == 400
    assert "nope" not in error["message"]


async def test_the_same_field_300_times_is_refused_by_its_shape(
    client: httpx.AsyncClient,
) -> None:
    # Before validation, which would compare them pairwise until its budget ran out.
    error = refusal(await post(client, SAME_FIELD_300), "QUERY_TOO_COMPLEX")
    assert "repetitions of one field: 300, over the limit of 100" in error["message"]
    assert error["extensions"]["limit"] == 100


async def test_the_same_field_100_times_is_answered(client: httpx.AsyncClient) -> None:
    answer = (await post(client, "{ " + "__typename " * 100 + "}")).json()
    assert answer["data"] == {"__typename": "Query"}


async def test_a_huge_string_literal_is_refused_by_the_document_length(
    client: httpx.AsyncClient, db: AsyncEngine
) -> None:
    query = '{ article(slug: "' + "x" * 900_000 + '") { title } }'
    with count_statements(db) as statements:
        refusal(await post(client, query), "QUERY_TOO_LARGE")
    assert statements == []


async def test_a_long_string_literal_within_the_length_is_answered(
    client: httpx.AsyncClient,
) -> None:
    query = '{ article(slug: "' + "x" * 40_000 + '") { title } }'
    assert (await post(client, query)).json()["data"] == {"article": None}


async def test_a_list_literal_nested_190_deep_gets_a_short_message(
    client: httpx.AsyncClient,
) -> None:
    error = refusal(await post(client, LIST_LITERAL_190), "GRAPHQL_VALIDATION_FAILED")
    assert len(error["message"]) <= 1_001


async def test_a_list_literal_nested_250_deep_does_not_parse(client: httpx.AsyncClient) -> None:
    error = refusal(await post(client, LIST_LITERAL_250), "GRAPHQL_PARSE_FAILED")
    assert "nested too deeply" in error["message"]


# Variables ------------------------------------------------------------------------------------


async def test_a_variable_of_450000_items_is_refused_by_its_count(
    client: httpx.AsyncClient, db: AsyncEngine
) -> None:
    variables = {"t": [0] * 450_000}
    body = json.dumps({"query": TOPICS, "variables": variables}, separators=(",", ":")).encode()
    assert len(body) < 1_000_000
    with count_statements(db) as statements:
        error = refusal(await raw_post(client, body), "QUERY_TOO_LARGE")
    assert error["extensions"] == {"code": "QUERY_TOO_LARGE", "limit": 5_000}
    assert statements == []


async def test_variables_nested_17_deep_are_refused(client: httpx.AsyncClient) -> None:
    nested: Any = "x"
    for _ in range(17):
        nested = [nested]
    error = refusal(await post(client, TOPICS, {"t": nested}), "QUERY_TOO_LARGE")
    assert error["extensions"]["limit"] == 16


async def test_variables_nested_1100_deep_are_not_json_we_read(client: httpx.AsyncClient) -> None:
    body = b'{"query": "{ __typename }", "variables": {"t": ' + b"[" * 1100 + b"]" * 1100 + b"}}"
    refusal(await raw_post(client, body), "BAD_REQUEST", 400)


async def test_a_900_kb_comment_is_refused_before_screening_and_storing(
    client: httpx.AsyncClient, sample: None, db: AsyncEngine
) -> None:
    comment = {"articleSlug": "anything", "authorName": "R", "body": "y" * 900_000}
    with count_statements(db) as statements:
        response = await post(client, POST_COMMENT, {"input": comment})
    assert response.json()["data"]["postComment"] == {
        "__typename": "ValidationError",
        "field": "body",
        "message": "write 1 to 5000 characters",
    }
    assert statements == []


async def test_a_900_kb_comment_written_in_the_document_is_too_large(
    client: httpx.AsyncClient, db: AsyncEngine
) -> None:
    query = (
        'mutation { postComment(input: {articleSlug: "a", authorName: "R", body: "'
        + "y" * 900_000
        + '"}) { __typename } }'
    )
    with count_statements(db) as statements:
        refusal(await post(client, query), "QUERY_TOO_LARGE")
    assert statements == []


@pytest.mark.parametrize(
    "cursor",
    [
        base64.urlsafe_b64encode(b"[" * 1_536).decode(),
        base64.urlsafe_b64encode(b"[" * 100_000).decode(),
    ],
    ids=["nested", "long"],
)
async def test_a_hostile_cursor_is_bad_input(client: httpx.AsyncClient, cursor: str) -> None:
    error = refusal(await post(client, LATEST_ARTICLES, {"after": cursor}), "BAD_USER_INPUT")
    assert '"after"' in error["message"]


# Persisted queries ------------------------------------------------------------------------------


async def test_a_persisted_query_over_the_length_is_not_stored(
    client: httpx.AsyncClient,
) -> None:
    query = "{ __typename }" + " " * 60_000
    digest = hashlib.sha256(query.encode()).hexdigest()
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    sent = await client.post("/graphql", json={"query": query, "extensions": extensions})
    refusal(sent, "QUERY_TOO_LARGE")
    asked = await client.post("/graphql", json={"extensions": extensions})
    refusal(asked, "PERSISTED_QUERY_NOT_FOUND")


# Bytes and headers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"query": "{ __typename \xff }"}',
        b'{"query": "{ __typename } \xed\xa0\x80"}',
        b'{"query": "{ __typename } \\ud800"}',
        b'{"query": "{ __typename }", "variables": {"a": "\\udc00"}}',
        b'{"query": "{ __typename }\x00"}',
        b'{"query": "{ __typename }"}\x00',
        bytes(range(256)),
        b"\xef\xbb\xbf{}",
        b"",
    ],
    ids=[
        "invalid-utf8",
        "raw-surrogate",
        "escaped-surrogate",
        "escaped-surrogate-in-variables",
        "nul-in-string",
        "nul-after-json",
        "binary",
        "byte-order-mark",
        "empty",
    ],
)
async def test_bytes_that_are_not_a_json_object_are_a_bad_request(
    client: httpx.AsyncClient, db: AsyncEngine, body: bytes
) -> None:
    with count_statements(db) as statements:
        refusal(await raw_post(client, body), "BAD_REQUEST", 400)
    assert statements == []


@pytest.mark.parametrize(
    "query",
    ['{ article(slug: "\\ud800") { title } }', '{ article(slug: "\\u0000") { title } }', "\x00"],
    ids=["lone-surrogate-escape", "nul-escape", "nul"],
)
async def test_escapes_graphql_cannot_hold_do_not_parse(
    client: httpx.AsyncClient, query: str
) -> None:
    body = (await post(client, query)).json()
    [error] = body["errors"]
    assert error["extensions"]["code"] in {"GRAPHQL_PARSE_FAILED", "BAD_USER_INPUT"}


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/octet-stream", "multipart/form-data; boundary=x", "", "\xff"],
)
async def test_other_content_types_are_a_bad_request(
    client: httpx.AsyncClient, content_type: str
) -> None:
    headers = {"Content-Type": content_type.encode("latin-1")}
    response = await client.post(
        "/graphql", content=b'{"query": "{ __typename }"}', headers=headers
    )
    refusal(response, "BAD_REQUEST", 400)


@pytest.mark.parametrize("length", ["abc", "-1", "9" * 5_000, "1e9"])
async def test_a_content_length_that_is_not_a_number_is_a_bad_request(
    client: httpx.AsyncClient, length: str
) -> None:
    headers = {"Content-Type": "application/json", "Content-Length": length}
    response = await client.post(
        "/graphql", content=b'{"query": "{ __typename }"}', headers=headers
    )
    refusal(response, "BAD_REQUEST", 400)


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Big": "a" * 100_000},
        {f"X-H{n}": "v" for n in range(1_000)},
        {"X-Name": b"\xff\xfe\x80"},
        {"Accept": b"\x7f;;;q=abc,,*/*;q=2"},
        {"Authorization": b"Bearer \xc3\xa9" * 1_000},
        {"X-Request-ID": "\x01" * 100},
        {"Origin": b"\xff\xfe"},
        {"If-None-Match": b',,,W/"\xff' * 1_000},
    ],
    ids=["huge", "many", "non-ascii", "accept", "authorization", "request-id", "origin", "etag"],
)
async def test_absurd_headers_get_a_json_answer(
    client: httpx.AsyncClient, headers: dict[str, Any]
) -> None:
    response = await client.post(
        "/graphql",
        content=b'{"query": "{ __typename }"}',
        headers={"Content-Type": "application/json", **headers},
    )
    assert response.status_code < 500
    body = response.json()
    assert body.get("data") == {"__typename": "Query"} or body["errors"][0]["extensions"]["code"]


@pytest.mark.parametrize(
    "query_string",
    [
        "query=%FF%FE",
        "query=%ED%A0%80",
        "query=%00",
        "query={__typename}&variables=%FF",
        "query={__typename}&variables=" + "[" * 2_000,
        "query={__typename}&operationName=%FF",
        "=&&&=",
        "%zz=%zz",
        "query=" + "a" * 60_000,
    ],
    ids=[
        "invalid-utf8",
        "surrogate",
        "nul",
        "variables-invalid-utf8",
        "variables-deep",
        "operation-name",
        "empty-pairs",
        "bad-escapes",
        "long",
    ],
)
async def test_a_bad_query_string_gets_a_json_error(
    client: httpx.AsyncClient, db: AsyncEngine, query_string: str
) -> None:
    with count_statements(db) as statements:
        response = await client.get(
            f"/graphql?{query_string}", headers={"Accept": "application/json"}
        )
    assert response.status_code in (200, 400)
    [error] = response.json()["errors"]
    assert error["extensions"]["code"] in {"BAD_REQUEST", "GRAPHQL_PARSE_FAILED", "QUERY_TOO_LARGE"}
    assert statements == []


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "HEAD"])
async def test_other_methods_are_refused_in_json(client: httpx.AsyncClient, method: str) -> None:
    response = await client.request(method, "/graphql")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    if method != "HEAD":
        refusal(response, "BAD_REQUEST", 405)


async def test_a_refused_size_is_a_400_for_graphql_over_http(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        json={"query": TOPICS, "variables": {"t": ["x"] * 6_000}},
        headers={"Accept": "application/graphql-response+json"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "QUERY_TOO_LARGE"


# Cross-origin ----------------------------------------------------------------------------------


async def test_a_foreign_mutation_behind_a_second_operation_is_still_refused(
    client: httpx.AsyncClient, sample: None, db: AsyncEngine
) -> None:
    """Without an operation name Strawberry runs the first operation: the cross-origin check
    must look at that one, not give up on a document of two."""
    query = (
        'mutation Post { postComment(input: {articleSlug: "x", authorName: "X", body: "Hi"}) '
        "{ __typename } } query Other { __typename }"
    )
    with count_statements(db) as statements:
        response = await client.post(
            "/graphql", json={"query": query}, headers={"Origin": "https://blog.example"}
        )
    refusal(response, "FORBIDDEN", 403)
    assert statements == []
