"""Root fields declared alike: a topic or person by its slug, and a whole list as a connection
(topics and people by name, editors' drafts, the moderation queue); no SQL here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
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
    return root_list(
        fetch,
        count,
        node_type,
        to_node,
        _name_key,
        NAME_KEY,
        page_size=50,
        descending=False,
        description=description,
        check=lambda info: cache.read(cache.LIST),  # a new topic or person may join the list
    )


def root_list(
    fetch: Fetch,
    count: Callable[..., Awaitable[int]],
    node_type: type,
    to_node: Callable[[Any], Any],
    key: Callable[[Any], Sequence[Any]],
    kinds: Sequence[type],
    *,
    page_size: int,
    descending: bool,
    description: str,
    check: Callable[[Info], object],
) -> Any:
    """A root connection over every row `fetch` pages (`count` counts them), keyed by `key`,
    its cursors of `kinds`; `check(info)` runs first (a role, say) and `page_size` is the page
    when neither `first` nor `last` is given."""

    async def resolve(
        root: Any,
        info: Info,
        first: int | None = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Any:
        check(info)
        request = page_request(info, first, after, last, before, kinds, descending=descending)
        return await read_page(info.context.engine, fetch, count, request, to_node, key)

    # The page size and the node type are this call's arguments: values the resolver's
    # annotations (strings, read in this module's namespace) cannot name, so they are set here.
    resolve.__annotations__["first"] = Annotated[int | None, first_argument(page_size)]
    connection = Connection[node_type]  # type: ignore[valid-type]
    return strawberry.field(resolver=resolve, graphql_type=connection, description=description)
