"""The reader site's pages get their data from the GraphQL schema, in-process, through the same
documents the browser sends (api/site/queries): one answer for both, the same visibility rules,
the same cache tags, and nothing the API would refuse.

A query runs as an anonymous reader's would: the compiled statement when it covers the document
(PostgreSQL), else Strawberry's resolvers. The tags each read records land in the page's own set
(api/site/caching.py), so the page is dropped exactly when its queries' answers are.
"""

from __future__ import annotations

from functools import cache as memoised
from pathlib import Path
from typing import Any

import orjson
from starlette.requests import Request

from api import cache, compiled
from api.context import Context
from api.services import Services

QUERIES = Path(__file__).resolve().parent / "queries"
# The contract as the frontend teams wrote it; the site's documents start from it.
CONTRACT = Path(__file__).resolve().parent / "contract"


class QueryFailed(Exception):
    """A page's query answered with errors: a defect or an outage, never the reader's input
    (the pages pass only values the schema accepts)."""


@memoised
def document(name: str) -> str:
    """One of the site's GraphQL documents, as the browser's scripts send it too: its own where
    the site needs more than the contract's (queries/), else the contract's, unchanged."""
    own = QUERIES / f"{name}.graphql"
    return (own if own.exists() else CONTRACT / f"{name}.graphql").read_text(encoding="utf-8")


async def run(
    request: Request, name: str, variables: dict[str, Any], base_url: str
) -> dict[str, Any]:
    """The `data` of the site's document `name` for these variables; `base_url` is the site's
    public address (`Article.url`)."""
    app = request.app
    services: Services = app.state.services
    query = document(name)
    search = services.search.client if services.search is not None else None
    pool = app.state.read_pool
    if pool is not None:
        answer = await compiled.answer(
            app.state.schema, pool, query, None, variables, app.state.limits, search
        )
        if answer is not None:
            body, tags = answer
            cache.read(*tags)
            data: dict[str, Any] = orjson.loads(body)["data"]
            return data
    context = Context.create(app.state.engine, search)
    context.services = services
    context.base_url = base_url
    result = await app.state.schema.execute(query, variables, context_value=context)
    if result.errors:
        raise QueryFailed(f"{name}: {result.errors[0].message}")
    return dict(result.data or {})
