"""Rows of one table by id or by slug, a story's ordered list of them, and rows grouped under the
ids a loader asked for: the reads every model's loaders share."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from models.base import AnyRow, Base


async def row_by_slug(conn: AsyncConnection, model: type[Base], slug: str) -> AnyRow | None:
    """Every column of the `model` row with this slug, or None."""
    table: Any = model.__table__
    return (await conn.execute(sa.select(table).where(table.c.slug == slug))).first()


async def rows_by_ids(
    conn: AsyncConnection, model: type[Base], ids: Sequence[int]
) -> dict[int, AnyRow]:
    """Every column of the `model` rows with these ids, by id; unknown ids are absent."""
    table: Any = model.__table__
    result = await conn.execute(sa.select(table).where(table.c.id.in_(ids)))
    return {row.id: row for row in result}


async def listed_by_article(
    conn: AsyncConnection,
    link: Any,
    model: type[Base],
    on: sa.ColumnElement[bool],
    columns: Iterable[Any],
    article_ids: Sequence[int],
) -> dict[int, list[AnyRow]]:
    """Each article's `model` rows (their `columns`, with the `article_id`) in the order its
    `link` table keeps them in `position`; `on` joins the two."""
    result = await conn.execute(
        sa.select(link.article_id, *columns)
        .join(model, on)
        .where(link.article_id.in_(article_ids))
        .order_by(link.article_id, link.position)
    )
    return grouped(result, article_ids, "article_id")


def grouped(rows: Iterable[AnyRow], keys: Iterable[int], key: str) -> dict[int, list[AnyRow]]:
    """`rows` under their column `key`, in their order; each of `keys` is present, with an
    empty list where no row has it (a loader answers for every key it was given)."""
    groups: dict[int, list[AnyRow]] = {k: [] for k in keys}
    for row in rows:
        groups[getattr(row, key)].append(row)
    return groups


def counted(rows: Iterable[Any], keys: Iterable[int]) -> dict[int, int]:
    """`(key, count)` rows as a count for each of `keys`, 0 where no row has it."""
    # Not dict(rows): a CursorResult has keys() (its column names), so dict reads it as a mapping.
    counts = {k: n for k, n in rows}
    return {k: counts.get(k, 0) for k in keys}
