"""Topics and the read queries over them; no GraphQL here."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from models.article import ArticleTopic
from models.base import AnyRow, Base
from models.lookup import listed_by_article, row_by_slug, rows_by_ids
from models.pagination import Page, PageRequest, fetch_page


class Topic(Base):
    __tablename__ = "topics"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(120), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    description: Mapped[str | None] = mapped_column(sa.Text)


TOPIC_ORDER = (Topic.name, Topic.id)


async def topic_by_slug(conn: AsyncConnection, slug: str) -> AnyRow | None:
    return await row_by_slug(conn, Topic, slug)


async def topics_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, AnyRow]:
    return await rows_by_ids(conn, Topic, ids)


async def topics_by_article(
    conn: AsyncConnection, article_ids: Sequence[int]
) -> dict[int, list[AnyRow]]:
    """Each article's topics in the order the newsroom gave them."""
    return await listed_by_article(
        conn,
        ArticleTopic,
        Topic,
        Topic.id == ArticleTopic.topic_id,
        Topic.__table__.c,
        article_ids,
    )


async def topics(conn: AsyncConnection, page: PageRequest) -> Page:
    """Topics in alphabetical order."""
    return await fetch_page(conn, sa.select(Topic.__table__), TOPIC_ORDER, page)


async def count_topics(conn: AsyncConnection) -> int:
    return (await conn.execute(sa.select(sa.func.count()).select_from(Topic))).scalar_one()
