"""Query limits: refused before anything runs, with the limit and the measured value."""

from __future__ import annotations

import re

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.api.test_statement_count import count_statements
from tests.conftest import CONTRACT, SAMPLE_SLUG, contract, post

CONTRACT_DOCUMENTS = {path.stem: path.read_text() for path in sorted(CONTRACT.glob("*.graphql"))}

ARTICLE_PAGE = contract("article-page")
COSTLY = """{ articles(first: 100) { nodes { topics { articles(first: 100) {
  nodes { topics { articles(first: 100) { nodes { title } } } } } } } } }"""
DEEP = """{ article(slug: "x") { comments { nodes { article { comments { nodes { article {
  comments { nodes { article { comments { nodes { body } } } } } } } } } } } } }"""
ALIASES = "{ " + " ".join(f"a{n}: sections {{ slug }}" for n in range(31)) + " }"


async def test_every_answer_reports_its_cost(client: httpx.AsyncClient, sample: None) -> None:
    body = await post(client, ARTICLE_PAGE, {"slug": SAMPLE_SLUG})
    assert body["extensions"]["cost"] == {
        "requested": 132,
        "limit": 10_000,
        "depth": 4,
        "fields": 31,
    }


async def test_a_costly_query_is_refused_before_anything_runs(
    client: httpx.AsyncClient, sample: None, db: AsyncEngine
) -> None:
    with count_statements(db) as statements:
        body = await post(client, COSTLY)

    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["extensions"]["limit"] == 10_000
    assert error["extensions"]["measured"] > 10_000
    assert "estimated cost" in error["message"]
    assert statements == []


async def test_a_deep_query_is_refused(client: httpx.AsyncClient) -> None:
    [error] = (await post(client, DEEP))["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_DEEP"
    assert error["extensions"]["limit"] == 10
    assert error["extensions"]["measured"] == 13


async def test_too_many_aliases_are_refused(client: httpx.AsyncClient) -> None:
    [error] = (await post(client, ALIASES))["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert error["extensions"]["measured"] == 31 and "aliases" in error["message"]


@pytest.mark.parametrize("document", CONTRACT_DOCUMENTS.values(), ids=CONTRACT_DOCUMENTS.keys())
async def test_the_contract_queries_fit_with_room_to_spare(
    client: httpx.AsyncClient, document: str
) -> None:
    operations = re.findall(r"^(?:query|mutation) (\w+)", document, re.MULTILINE)
    for operation in operations:
        body = await post(client, document, {"slug": "x"}, operationName=operation)
        cost = body["extensions"]["cost"]
        assert cost["requested"] * 10 <= cost["limit"], operation
        assert cost["depth"] * 1.5 <= 10, operation
