"""Root fields that topics and people declare alike: one by its slug, and all of them by name;
no SQL here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import strawberry

from api import cache
from api.context import Info
from api.loaders import read
from api.relay import (
    NAME_KEY,
    After,
    Before,
    Connection,
    Last,
    first_argument,
    page_request,
    read_page,
)

Fetch = Callable[..., Awaitable[Any]]


def _name_key(row: Any) -> tuple[Any, ...]:
    return (row.name, row.id)


def by_slug(fetch: Fetch, node_type: type, to_node: Callable[[Any], Any], description: str) -> Any:
    """`topic(slug:)`, `person(slug:)`: the row `fetch` reads as `node_type`, or null."""

    async def resolve(root: Any, info: Info, slug: str) -> Any:
        row = await read(info.context.engine, fetch, slug)
        if row is None:
            cache.read(cache.LIST)  # creating one with this slug must end the "not found"
            return None
        return to_node(row)

    return strawberry.field(
        resolver=resolve, graphql_type=node_type | None, description=description
    )


def by_name(
    fetch: Fetch,
    count: Callable[..., Awaitable[int]],
    node_type: type,
    to_node: Callable[[Any], Any],
    description: str,
) -> Any:
    """`topics`, `people`: a connection over every row, by name then id."""

    async def resolve(
        root: Any,
        info: Info,
        first: Annotated[int | None, first_argument(50)] = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Any:
        request = page_request(info, first, after, last, before, NAME_KEY, descending=False)
        cache.read(cache.LIST)  # a new topic or person may join the list
        return await read_page(info.context.engine, fetch, count, request, to_node, _name_key)

    # The GraphQL type is named here, not by the resolver's annotation: the node type is this
    # call's argument, a value to mypy.
    connection = Connection[node_type]  # type: ignore[valid-type]
    return strawberry.field(resolver=resolve, graphql_type=connection, description=description)
