"""Keyset pagination, forward and backward: one page of rows, or a page per parent row in a
single statement. The one place paging is decided, so that every list pages the same way."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import QueryableAttribute

from models.base import AnyRow, AnySelect


@dataclass(frozen=True, slots=True)
class PageRequest:
    """A page of a list ordered by an ordering key, as Relay's connection arguments ask for it.

    The rows strictly between the keys `after` and `before` (either may be absent), then the
    `first` of them, or the `last` of them: exactly one of the two is given. `descending` is
    the list's order; a page is always returned in it, whichever end it was read from.

    Keyset rather than offset pagination: a page stays correct while stories are published
    ahead of it, and page 500 costs what page 1 costs.
    """

    first: int | None = None
    after: tuple[Any, ...] | None = None
    descending: bool = True
    last: int | None = None
    before: tuple[Any, ...] | None = None

    def __post_init__(self) -> None:
        if (self.first is None) == (self.last is None):
            raise ValueError("a page request takes `first` or `last`, exactly one of them")
        if self.size < 0:
            raise ValueError(f"a page holds 0 rows or more, not {self.size}")

    @property
    def backward(self) -> bool:
        """Read from the end nearest `before` (or the list's end): the request has `last`."""
        return self.last is not None

    @property
    def size(self) -> int:
        """The rows the page holds at most: `last` or `first`, whichever was given."""
        return self.last if self.last is not None else self.first or 0


@dataclass(slots=True)
class Page:
    """Rows in the list's order. `has_next_page` is known only when reading forward and
    `has_previous_page` only when reading backward; the other is False, as Relay's reference
    implementation has it (a client pages on from the cursor to find out)."""

    rows: list[AnyRow] = field(default_factory=list)
    has_next_page: bool = False
    has_previous_page: bool = False


def _between(
    stmt: AnySelect, order: Sequence[sa.SQLColumnExpression[Any]], page: PageRequest
) -> AnySelect:
    key = sa.tuple_(*order)
    if page.after is not None:
        after = sa.tuple_(*page.after)
        stmt = stmt.where(key < after if page.descending else key > after)
    if page.before is not None:
        before = sa.tuple_(*page.before)
        stmt = stmt.where(key > before if page.descending else key < before)
    return stmt


def _reading_order(order: Sequence[sa.SQLColumnExpression[Any]], page: PageRequest) -> list[Any]:
    # Backward, the list is read in reverse from its far end: the LIMIT then keeps the rows
    # nearest `before`, and an index serves either direction.
    descending = page.descending != page.backward
    return [c.desc() if descending else c.asc() for c in order]


def _page(rows: list[AnyRow], page: PageRequest) -> Page:
    """A page from the rows as read (one more than the page size, if there are more)."""
    more = len(rows) > page.size
    del rows[page.size :]
    if page.backward:
        rows.reverse()
        return Page(rows=rows, has_previous_page=more)
    return Page(rows=rows, has_next_page=more)


async def fetch_page(
    conn: AsyncConnection,
    stmt: AnySelect,
    order: Sequence[sa.SQLColumnExpression[Any]],
    page: PageRequest,
) -> Page:
    """Run `stmt` for one page; one extra row is read to know whether another page follows
    (or, backward, precedes)."""
    stmt = _between(stmt, order, page).order_by(*_reading_order(order, page))
    return _page(list(await conn.execute(stmt.limit(page.size + 1))), page)


async def fetch_pages_by_parent(
    conn: AsyncConnection,
    stmt: AnySelect,
    parent: sa.ColumnElement[Any] | QueryableAttribute[Any],
    parent_ids: Sequence[Any],
    order: Sequence[sa.SQLColumnExpression[Any]],
    page: PageRequest,
) -> dict[Any, Page]:
    """The same page of children for every parent, in one statement.

    A window function numbers each parent's children so that the statement count stays one
    whatever the number of parents. Rows carry the parent key as `page_parent`.
    """
    numbered = (
        _between(stmt, order, page)
        .where(parent.in_(parent_ids))
        .add_columns(
            parent.label("page_parent"),
            sa.func.row_number()
            .over(partition_by=parent, order_by=_reading_order(order, page))
            .label("row_number"),
        )
    )
    inner = numbered.subquery()
    outer = (
        sa.select(inner)
        .where(inner.c.row_number <= page.size + 1)
        .order_by(inner.c.page_parent, inner.c.row_number)
    )
    read: dict[Any, list[AnyRow]] = {parent_id: [] for parent_id in parent_ids}
    for row in await conn.execute(outer):
        read[row.page_parent].append(row)
    return {parent_id: _page(rows, page) for parent_id, rows in read.items()}
