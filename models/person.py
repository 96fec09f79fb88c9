"""People mentioned in stories and their mentions; the read queries over them; no GraphQL here."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from models.base import AnyRow, Base
from models.lookup import grouped, row_by_slug, rows_by_ids
from models.pagination import Page, PageRequest, fetch_page


class Person(Base):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(200), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    aliases: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    description: Mapped[str | None] = mapped_column(sa.Text)


class Mention(Base):
    """A person named in an article, with the role that article gives them."""

    __tablename__ = "mentions"

    article_id: Mapped[int] = mapped_column(
        sa.ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    # RESTRICT: a person with mentions is merged into another, never deleted from under them.
    person_id: Mapped[int] = mapped_column(
        sa.ForeignKey("people.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
    role: Mapped[str | None] = mapped_column(sa.String(200))
    mention_count: Mapped[int] = mapped_column(default=1)
    position: Mapped[int] = mapped_column(default=0)
    # Editors' decisions, which re-extraction never undoes: a pinned person stays on the story,
    # a suppressed one is kept as a tombstone so that extraction does not add them back.
    pinned: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    suppressed: Mapped[bool] = mapped_column(default=False, server_default=sa.false())


class Quote(Base):
    """Words a person said, quoted directly in a story."""

    __tablename__ = "quotes"
    __table_args__ = (sa.Index("ix_quotes_person_id_article_id", "person_id", "article_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(
        sa.ForeignKey("articles.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int] = mapped_column(sa.ForeignKey("people.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(sa.Text)
    position: Mapped[int] = mapped_column(default=0)


PERSON_ORDER = (Person.name, Person.id)


async def person_by_slug(conn: AsyncConnection, slug: str) -> AnyRow | None:
    return await row_by_slug(conn, Person, slug)


async def people_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, AnyRow]:
    return await rows_by_ids(conn, Person, ids)


async def mentions_by_article(
    conn: AsyncConnection, article_ids: Sequence[int]
) -> dict[int, list[AnyRow]]:
    """Each article's mentions, first-mentioned first, with the person's columns alongside."""
    result = await conn.execute(
        sa.select(
            Mention.article_id,
            Mention.role,
            Mention.mention_count,
            Person.id.label("person_id"),
            Person.slug,
            Person.name,
            Person.aliases,
            Person.description,
        )
        .join(Person, Person.id == Mention.person_id)
        .where(Mention.article_id.in_(article_ids), Mention.suppressed.is_(False))
        .order_by(Mention.article_id, Mention.position, Person.name)
    )
    return grouped(result, article_ids, "article_id")


async def people(conn: AsyncConnection, page: PageRequest) -> Page:
    """People in alphabetical order."""
    return await fetch_page(conn, sa.select(Person.__table__), PERSON_ORDER, page)


async def count_people(conn: AsyncConnection) -> int:
    return (await conn.execute(sa.select(sa.func.count()).select_from(Person))).scalar_one()
