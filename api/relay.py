"""Global object IDs, opaque cursors and the generic connection types built on them."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

import strawberry

from api.errors import BadUserInput, require_between
from models.pagination import Page, PageRequest

MAX_PAGE_SIZE = 100
MAX_KEY = 2**31 - 1
# The longest cursor issued is a topic's name (200 characters, JSON-escaped) and an id.
MAX_CURSOR_LENGTH = 2_048

T = TypeVar("T")


def to_global_id(type_name: str, pk: int) -> strawberry.ID:
    return strawberry.ID(base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode())


def from_global_id(global_id: str, argument: str = "id") -> tuple[str, int]:
    """Split a global ID into its type name and primary key; BAD_USER_INPUT if malformed."""
    try:
        type_name, _, pk = base64.urlsafe_b64decode(global_id.encode()).decode().partition(":")
        if not (pk.isascii() and pk.isdigit() and _is_key(int(pk))):
            raise ValueError
        return type_name, int(pk)
    except (binascii.Error, UnicodeError, ValueError):
        raise BadUserInput(argument, f"{global_id!r} is not an ID issued by this API") from None


def _is_key(value: int) -> bool:
    # Keys are SQL INTEGER columns: a larger number was never issued, and the database would
    # refuse it as a parameter rather than find nothing.
    return 1 <= value <= MAX_KEY


def in_utc_range(value: datetime) -> datetime:
    """`value`, if it is a time the databases can store: one with a time zone must still be
    within years 1 to 9999 once in UTC (ValueError otherwise)."""
    if value.tzinfo is not None:
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise ValueError(f"{value.isoformat()} is out of range in UTC") from None
    return value


def encode_cursor(values: Sequence[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.urlsafe_b64encode(json.dumps(plain, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str, kinds: Sequence[type], argument: str = "after") -> tuple[Any, ...]:
    """Read back a cursor made by encode_cursor for keys of the given types."""
    try:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if not isinstance(values, list) or len(values) != len(kinds):
            raise ValueError
        decoded = []
        for kind, value in zip(kinds, values, strict=True):
            if kind is datetime:
                decoded.append(in_utc_range(datetime.fromisoformat(value)))
            elif _fits(kind, value):
                decoded.append(value)
            else:
                raise ValueError
        return tuple(decoded)
    except (binascii.Error, UnicodeError, ValueError, TypeError, RecursionError):
        raise BadUserInput(argument, "not a cursor issued by this connection") from None


def _fits(kind: type, value: object) -> bool:
    """A key value as we issue them: an id in range, or a name the databases can hold."""
    if not isinstance(value, kind) or isinstance(value, bool):
        return False
    if isinstance(value, int):
        return _is_key(value)
    return not isinstance(value, str) or "\x00" not in value


# The key, in each connection's `first` argument, of the page size used when neither `first`
# nor `last` is given: read by the resolvers and by the query cost estimate (api/query_limits.py).
DEFAULT_PAGE_SIZE = "newsroom.default_page_size"


def first_argument(default: int) -> Any:
    """A connection's `first`: nullable, so that `last` can be given alone, with its default
    kept where the cost estimate finds it."""
    return strawberry.argument(
        description=f"The first items (after `after`, if given), 0 to {MAX_PAGE_SIZE}; "
        f"{default} when neither `first` nor `last` is given.",
        metadata={DEFAULT_PAGE_SIZE: default},
    )


After = Annotated[
    str | None,
    strawberry.argument(description="Read the items after this cursor of the connection."),
]
Last = Annotated[
    int | None,
    strawberry.argument(
        description=f"The last items (before `before`, if given), 0 to {MAX_PAGE_SIZE}, "
        "still in the list's order; not together with `first`."
    ),
]
Before = Annotated[
    str | None,
    strawberry.argument(description="Read the items before this cursor of the connection."),
]


def page_request(
    info: Any,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    kinds: Sequence[type],
    *,
    descending: bool,
) -> PageRequest:
    """Check connection arguments the same way everywhere: no silent caps, clear errors."""
    if first is not None and last is not None:
        raise BadUserInput("last", "give `first` to page forward or `last` to page back, not both")
    if first is None and last is None:
        first = info.get_argument_definition("first").metadata[DEFAULT_PAGE_SIZE]
    for argument, size in (("first", first), ("last", last)):
        if size is not None:
            require_between(argument, size, 0, MAX_PAGE_SIZE)
    return PageRequest(
        first=first,
        after=decode_cursor(after, kinds, "after") if after is not None else None,
        last=last,
        before=decode_cursor(before, kinds, "before") if before is not None else None,
        descending=descending,
    )


@strawberry.type(
    description="Where a page sits in its list. Each flag is known only in the direction "
    "paged: forward with `first`, backward with `last`."
)
class PageInfo:
    has_previous_page: bool = strawberry.field(
        description="With `last`: whether more items come before this page. With `first`: "
        "false, even after a cursor (page back from `startCursor` with `last` to find out)."
    )
    has_next_page: bool = strawberry.field(
        description="With `first`: whether more items follow this page. With `last`: false, "
        "even before a cursor (page on from `endCursor` with `first` to find out)."
    )
    start_cursor: str | None = strawberry.field(
        description="Pass as `before` to read the previous page; null on an empty page."
    )
    end_cursor: str | None = strawberry.field(
        description="Pass as `after` to read the next page; null on an empty page."
    )


@strawberry.type(
    description="An item with its cursor: pass it as `after` to read on from the item, or as "
    "`before` to read back from it."
)
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type(description="A page of a list, with its total size.")
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    _total_count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="Items in the whole list, not just this page.")
    async def total_count(self) -> int:
        return await self._total_count()

    @strawberry.field(description="The items of this page, when cursors are not needed.")
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]


def build_connection(
    page: Page,
    to_node: Callable[[Any], T],
    key: Callable[[Any], Sequence[Any]],
    total_count: Callable[[], Awaitable[int]],
) -> Connection[T]:
    edges = [Edge(cursor=encode_cursor(key(row)), node=to_node(row)) for row in page.rows]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_previous_page=page.has_previous_page,
            has_next_page=page.has_next_page,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        _total_count=total_count,
    )


async def paged(
    loader: Any,
    count_loader: Any,
    parent: Any,
    request: PageRequest,
    to_node: Callable[[Any], T],
    key: Callable[[Any], Sequence[Any]],
) -> Connection[T]:
    """A parent's list (a story's comments, a topic's stories): one page through the paged
    loader, keyed by (parent, request); the total through the count loader, read only when
    `totalCount` is asked for."""
    page = await loader.load((parent, request))

    async def total() -> int:
        return await count_loader.load(parent) or 0

    return build_connection(page, to_node, key, total)


async def read_page(
    engine: Any,
    fetch: Callable[..., Awaitable[Any]],
    count: Callable[..., Awaitable[int]],
    request: PageRequest,
    to_node: Callable[[Any], T],
    key: Callable[[Any], Sequence[Any]],
    *args: Any,
) -> Connection[T]:
    """A root list: one page read on its own connection, `fetch(conn, *args, request)`; the
    total, `count(conn, *args)`, read only when `totalCount` is asked for."""
    from api.loaders import read

    page = await read(engine, fetch, *args, request)

    async def total() -> int:
        return await read(engine, count, *args)

    return build_connection(page, to_node, key, total)


NAME_KEY = (str, int)
