"""Keyset pagination: one page of rows, or a page per parent row in a single statement."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True, slots=True)
class PageRequest:
    """`first` rows after the row whose ordering key is `after`.

    Keyset rather than offset pagination: a page stays correct while stories are published
    ahead of it, and page 500 costs what page 1 costs.
    """

    first: int
    after: tuple[Any, ...] | None = None
    descending: bool = True


@dataclass(slots=True)
class Page:
    rows: list[sa.Row[Any]] = field(default_factory=list)
    has_next_page: bool = False


def _after(order: Sequence[sa.ColumnElement[Any]], page: PageRequest) -> sa.ColumnElement[bool]:
    key = sa.tuple_(*order)
    return key < sa.tuple_(*page.after) if page.descending else key > sa.tuple_(*page.after)


def _order_by(order: Sequence[sa.ColumnElement[Any]], descending: bool) -> list[Any]:
    return [c.desc() if descending else c.asc() for c in order]


async def fetch_page(
    conn: AsyncConnection,
    stmt: sa.Select[Any],
    order: Sequence[sa.ColumnElement[Any]],
    page: PageRequest,
) -> Page:
    """Run `stmt` for one page; one extra row is read to know whether another page follows."""
    if page.after is not None:
        stmt = stmt.where(_after(order, page))
    stmt = stmt.order_by(*_order_by(order, page.descending)).limit(page.first + 1)
    rows = list(await conn.execute(stmt))
    return Page(rows=rows[: page.first], has_next_page=len(rows) > page.first)


async def fetch_pages_by_parent(
    conn: AsyncConnection,
    stmt: sa.Select[Any],
    parent: sa.ColumnElement[Any],
    parent_ids: Sequence[Any],
    order: Sequence[sa.ColumnElement[Any]],
    page: PageRequest,
) -> dict[Any, Page]:
    """The same page of children for every parent, in one statement.

    A window function numbers each parent's children so that the statement count stays one
    whatever the number of parents. Rows carry the parent key as `page_parent`.
    """
    if page.after is not None:
        stmt = stmt.where(_after(order, page))
    numbered = stmt.where(parent.in_(parent_ids)).add_columns(
        parent.label("page_parent"),
        sa.func.row_number()
        .over(partition_by=parent, order_by=_order_by(order, page.descending))
        .label("row_number"),
    )
    inner = numbered.subquery()
    outer = (
        sa.select(inner)
        .where(inner.c.row_number <= page.first + 1)
        .order_by(inner.c.page_parent, inner.c.row_number)
    )
    pages = {parent_id: Page() for parent_id in parent_ids}
    for row in await conn.execute(outer):
        target = pages[row.page_parent]
        if len(target.rows) < page.first:
            target.rows.append(row)
        else:
            target.has_next_page = True
    return pages
