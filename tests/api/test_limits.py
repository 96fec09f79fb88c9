"""Query limits: refused before anything runs, with the limit and the measured value."""

from __future__ import annotations

import re

import httpx
import hypothesis_graphql
import pytest
from graphql import Source, get_introspection_query
from graphql.language import Lexer, TokenKind
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes
from sqlalchemy.ext.asyncio import AsyncEngine

from api.query_limits import Limits, lexical_tokens, parse_document
from api.settings import Settings
from tests.conftest import CONTRACT, ROOT, SAMPLE_SLUG, contract, post
from tests.support import count_statements

CONTRACT_DOCUMENTS = {path.stem: path.read_text() for path in sorted(CONTRACT.glob("*.graphql"))}
SDL = (ROOT / "schema.graphql").read_text()
# A file is never a literal in a document (it travels in the multipart form): a string stands
# in, so that the generator can write `uploadImage` calls too.
UPLOAD = {"Upload": st.text(max_size=10).map(nodes.String)}

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


async def test_last_costs_what_first_costs(client: httpx.AsyncClient, sample: None) -> None:
    def cost(body: dict) -> int:
        assert "errors" not in body, body
        return body["extensions"]["cost"]["requested"]

    nested = "{ articles(%s: 7) { nodes { topics { articles(%s: 3) { nodes { title } } } } } }"
    assert cost(await post(client, nested % ("last", "last"))) == cost(
        await post(client, nested % ("first", "first"))
    )
    # Without either, the page is `first`'s default, which the schema shows as null.
    assert cost(await post(client, "{ topics { nodes { name } } }")) == cost(
        await post(client, "{ topics(first: 50) { nodes { name } } }")
    )
    costly = COSTLY.replace("first", "last")
    [error] = (await post(client, costly))["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"


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


GRAPHIQL_INTROSPECTION = get_introspection_query(descriptions=True, input_value_deprecation=True)


def tokens(document: str) -> int:
    lexer, count = Lexer(Source(document)), 0
    while lexer.advance().kind is not TokenKind.EOF:
        count += 1
    return count


@pytest.mark.parametrize(
    "document",
    [*CONTRACT_DOCUMENTS.values(), GRAPHIQL_INTROSPECTION],
    ids=[*CONTRACT_DOCUMENTS.keys(), "graphiql-introspection"],
)
def test_every_known_document_fits_the_size_and_shape_limits_with_room(document: str) -> None:
    limits = Limits()
    assert lexical_tokens(document, limits.max_tokens) == (tokens(document), document.count("#"))
    # Tenfold for the contract's documents, fivefold for GraphiQL's introspection (180 tokens).
    assert tokens(document) * (5 if "__schema" in document else 10) <= limits.max_tokens
    assert len(document) * 10 <= limits.max_length
    # Introspection counts its fields like any query, and nests as deep as GraphiQL needs.
    shape = parse_document(document, limits).shape(None)
    assert shape is None or shape.fields * 1.25 <= limits.max_fields


async def test_graphiql_can_introspect(client: httpx.AsyncClient) -> None:
    body = await post(client, GRAPHIQL_INTROSPECTION)
    assert "errors" not in body, body["errors"]
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


def test_the_docs_list_every_size_and_shape_limit_with_its_default() -> None:
    docs = (ROOT / "docs" / "limits.md").read_text()
    for name, field in Settings.model_fields.items():
        if name.startswith("max_"):
            row = re.search(rf"^\|[^|\n]*\| `{name.upper()}` \| ([\d,]+) \|", docs, re.MULTILINE)
            assert row is not None, f"{name.upper()} has no row in docs/limits.md"
            assert int(row.group(1).replace(",", "")) == field.default, name


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(
    document=hypothesis_graphql.queries(SDL, custom_scalars=UPLOAD)
    | hypothesis_graphql.mutations(SDL, custom_scalars=UPLOAD)
)
def test_the_quick_token_count_is_the_lexers(document: str) -> None:
    """Documents over the token limit are counted by a regular expression, not parsed: it must
    count as graphql-core's lexer does, or a document could be refused that the parser takes."""
    assert lexical_tokens(document, 10**6)[0] == tokens(document)
