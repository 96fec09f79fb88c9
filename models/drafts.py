"""What editors read about stories in the making: the ones readers cannot see, a story's
revisions, and the rows their mutations answer with."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from models.article import SUMMARY_COLUMNS, Article, ArticleRevision
from models.base import AnyRow
from models.enums import ArticleStatus
from models.pagination import Page, PageRequest, fetch_page
from models.person import Person


def _unpublished() -> Any:
    return sa.and_(Article.status != ArticleStatus.PUBLISHED, Article.deleted_at.is_(None))


async def unpublished_page(conn: AsyncConnection, request: PageRequest) -> Page:
    """Drafts and stories taken down, newest change first (drafts have no publication time)."""
    stmt = sa.select(*SUMMARY_COLUMNS).where(_unpublished())
    return await fetch_page(conn, stmt, (Article.updated_at, Article.id), request)


async def unpublished_count(conn: AsyncConnection) -> int:
    stmt = sa.select(sa.func.count()).select_from(Article).where(_unpublished())
    return (await conn.execute(stmt)).scalar_one()


async def revisions_of(conn: AsyncConnection, slug: str) -> list[AnyRow]:
    """Every save of the story `slug`, newest first."""
    stmt = (
        sa.select(ArticleRevision.__table__)
        .join(Article, Article.id == ArticleRevision.article_id)
        .where(Article.slug == slug)
        .order_by(ArticleRevision.number.desc())
    )
    return list(await conn.execute(stmt))


async def article_row(conn: AsyncConnection, article_id: int) -> AnyRow:
    """The story's row as it is now (after a write)."""
    stmt = sa.select(Article.__table__).where(Article.id == article_id)
    return (await conn.execute(stmt)).one()


async def story_and_person(
    session: AsyncSession, article_slug: str, person_slug: str
) -> tuple[Article | None, int | None]:
    """The story (not deleted) and the person's id an editor's change of a mention names."""
    article = await session.scalar(
        sa.select(Article).where(Article.slug == article_slug, Article.deleted_at.is_(None))
    )
    person_id = await session.scalar(sa.select(Person.id).where(Person.slug == person_slug))
    return article, person_id
