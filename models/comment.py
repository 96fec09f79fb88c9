"""Reader comments, threaded one level deep, and the read queries over them; no GraphQL here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, aliased, mapped_column

from models.article import Article, is_published
from models.base import Base, utcnow
from models.enums import CommentStatus, string_enum
from models.pagination import Page, PageRequest, fetch_pages_by_parent


class Comment(Base):
    __tablename__ = "comments"
    __table_args__ = (
        # Threads are read per article and parent, in time order, counting only published ones.
        sa.Index(
            "ix_comments_article_id_parent_id_status_created_at",
            "article_id",
            "parent_id",
            "status",
            "created_at",
            "id",
        ),
        sa.Index("ix_comments_parent_id", "parent_id"),
        # An imported comment keeps its id from the source, so importing twice adds nothing.
        sa.UniqueConstraint("article_id", "external_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # RESTRICT on both keys: deleting a story or a comment must never take comments with it
    # silently; stories are unpublished or soft-deleted instead.
    article_id: Mapped[int] = mapped_column(sa.ForeignKey("articles.id", ondelete="RESTRICT"))
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("comments.id", ondelete="RESTRICT"))
    author_name: Mapped[str | None] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)
    is_spoiler: Mapped[bool] = mapped_column(default=False)
    status: Mapped[CommentStatus] = mapped_column(
        string_enum(CommentStatus, "comment_status"), default=CommentStatus.PUBLISHED
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    external_id: Mapped[str | None] = mapped_column(sa.String(200))


COMMENT_ORDER = (Comment.created_at, Comment.id)


def _visible() -> list[sa.ColumnElement[bool]]:
    """A reader sees a published comment under a published story, whose parent (if any) is
    published too: a reply must not surface when its thread was rejected."""
    parent = aliased(Comment)
    return [
        Comment.status == CommentStatus.PUBLISHED,
        Comment.article_id.in_(sa.select(Article.id).where(is_published())),
        sa.or_(
            Comment.parent_id.is_(None),
            Comment.parent_id.in_(
                sa.select(parent.id).where(parent.status == CommentStatus.PUBLISHED)
            ),
        ),
    ]


async def visible_comments_by_ids(
    conn: AsyncConnection, ids: Sequence[int]
) -> dict[int, sa.Row[Any]]:
    result = await conn.execute(
        sa.select(Comment.__table__).where(Comment.id.in_(ids), *_visible())
    )
    return {row.id: row for row in result}


async def comment_counts_by_article(
    conn: AsyncConnection, article_ids: Sequence[int]
) -> dict[int, int]:
    """Visible comments per article, replies included: the number a reader sees."""
    result = await conn.execute(
        sa.select(Comment.article_id, sa.func.count())
        .where(Comment.article_id.in_(article_ids), *_visible())
        .group_by(Comment.article_id)
    )
    counts = dict(result.all())
    return {article_id: counts.get(article_id, 0) for article_id in article_ids}


async def thread_counts_by_article(
    conn: AsyncConnection, article_ids: Sequence[int]
) -> dict[int, int]:
    """Visible top-level comments per article."""
    result = await conn.execute(
        sa.select(Comment.article_id, sa.func.count())
        .where(Comment.article_id.in_(article_ids), Comment.parent_id.is_(None), *_visible())
        .group_by(Comment.article_id)
    )
    counts = dict(result.all())
    return {article_id: counts.get(article_id, 0) for article_id in article_ids}


async def reply_counts_by_parent(
    conn: AsyncConnection, parent_ids: Sequence[int]
) -> dict[int, int]:
    result = await conn.execute(
        sa.select(Comment.parent_id, sa.func.count())
        .where(Comment.parent_id.in_(parent_ids), *_visible())
        .group_by(Comment.parent_id)
    )
    counts = dict(result.all())
    return {parent_id: counts.get(parent_id, 0) for parent_id in parent_ids}


async def threads_by_article(
    conn: AsyncConnection, article_ids: Sequence[int], page: PageRequest
) -> dict[int, Page]:
    """A page of each article's visible top-level comments, in one statement."""
    stmt = sa.select(Comment.__table__).where(Comment.parent_id.is_(None), *_visible())
    return await fetch_pages_by_parent(
        conn, stmt, Comment.article_id, article_ids, COMMENT_ORDER, page
    )


async def replies_by_parent(
    conn: AsyncConnection, parent_ids: Sequence[int], page: PageRequest
) -> dict[int, Page]:
    """A page of visible replies under each comment, in one statement."""
    stmt = sa.select(*Comment.__table__.c).where(*_visible())
    return await fetch_pages_by_parent(
        conn, stmt, Comment.parent_id, parent_ids, COMMENT_ORDER, page
    )
