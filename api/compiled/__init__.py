"""Readers' queries compiled to one PostgreSQL statement that builds the answer's JSON.

An anonymous query over the read schema (stories, their sections, bylines, topics, body, people
and comment counts; topics, people, sections and the story lists with their filters, order and
cursors) is answered by one statement whose result is the JSON the resolvers' answer serialises
to, byte for byte: no Python object per field, no round trip per relation. Whatever this module
does not know (search, suggestions, comments threads, `node`, editors' fields, a mutation, any
request with a token, any argument the resolvers would refuse) returns None, and Strawberry's
resolvers answer as they always do; `COMPILED_QUERIES=false` sends every query there (the
reference path). tests/api/test_compiled.py runs both paths over the same data and compares the
bytes.

Arguments are bound parameters, never text in the statement. Cache tags come back from the same
statement (a comma-separated column), so the result cache drops a compiled answer exactly when
it would drop the resolvers' one.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from graphql import GraphQLSchema

from api.compiled.plans import assemble, cost_of, has_nul, plan, valid
from api.compiled.search import SearchPlan
from api.compiled.walker import Compiled
from api.query_limits import Limits, parse_document
from models.session import ReadPool
from search import articles as search_articles
from search.client import SearchClient

logger = logging.getLogger("newsroom.compiled")


async def _searched(
    compiled: Compiled,
    search: SearchPlan,
    params: list[Any],
    pool: ReadPool,
    client: SearchClient,
) -> tuple[bytes, set[str]] | None:
    """Meilisearch's page, then one statement for its hits; None for the resolvers (which
    answer from SQL when the engine fails, and report the database when it fails)."""
    text, page, per_page, where, sort = params[0]
    pending = search_articles.PageSearch(
        client, text, page=page, hits_per_page=per_page, where=where, sort=sort
    )
    try:
        async with pending:
            # The hits' statement runs while Meilisearch is still counting the facets.
            ids = [hit.article_id for hit in await pending.hits()]
            row = await pool.fetchrow(compiled.sql, [ids, *params[1:]], generic=True)
            found = await pending.page()
    except Exception as exc:
        logger.warning("compiled search failed, answering with the resolvers: %s", exc)
        return None
    if row["o"] is None:
        stories: dict[int, str] = {}
    else:
        stories = dict(zip(row["o"], row["j"] or [None] * len(row["o"]), strict=True))
    for n, hit in enumerate(found.hits, 1):
        if n not in stories:
            # The index is behind SQL (the outbox will catch up): never show what SQL hides.
            logger.warning("search hit %s is not a published story; skipped", hit.article_id)
    tags = set(compiled.tags)
    tags.update(t for t in (row["t"] or "").split(",") if t)
    return search.write(found, stories), tags


async def answer(
    schema: Any,
    pool: ReadPool,
    query: str,
    operation_name: str | None,
    variables: dict[str, Any] | None,
    limits: Limits,
    search: SearchClient | None = None,
) -> tuple[bytes, set[str]] | None:
    """The whole response body and its cache tags, or None for the resolvers' path."""
    core: GraphQLSchema = schema._schema
    if "\x00" in query or has_nul(variables):
        return None  # the resolvers refuse it (api/nul_text.py); PostgreSQL text cannot hold it
    try:
        parsed = parse_document(query, limits)
        shape = parsed.shape(operation_name)
    except Exception:  # too large, not GraphQL, over a limit: the resolvers' path refuses it
        return None
    if shape is None or not valid(core, query, limits):
        return None
    cost = cost_of(core, parsed.document, query, operation_name, variables or {})
    if cost is None or cost > limits.max_cost:
        return None
    found = plan(core, query, parsed.document, operation_name, variables)
    if found is None:
        return None
    compiled, params = found
    if compiled.search is not None:
        if search is None:
            return None  # the resolvers answer from SQL, marked degraded
        answered = await _searched(compiled, compiled.search, params, pool, search)
        if answered is None:
            return None
        data, tags = answered
    else:
        try:
            row = await pool.fetchrow(compiled.sql, params, generic=compiled.generic)
        except Exception as exc:  # the database is away, say: the resolvers answer with it
            logger.warning("compiled query failed, answering with the resolvers: %s", exc)
            return None
        data, tags = assemble(compiled, row)
    extensions = orjson.dumps(
        {
            "cost": {
                "requested": cost,
                "limit": limits.max_cost,
                "depth": shape.depth,
                "fields": shape.fields,
            }
        }
    )
    return b'{"data":' + data + b',"extensions":' + extensions + b"}", tags
