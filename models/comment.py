"""Reader comments, threaded one level deep, and the read queries over them; no GraphQL here."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, Mapped, aliased, mapped_column

from models.article import Article, is_published
from models.base import AnyRow, Base, Columns, utcnow
from models.enums import CommentStatus, string_enum
from models.errors import InvalidInput
from models.lookup import counted
from models.pagination import Page, PageRequest, fetch_page, fetch_pages_by_parent
from models.webhook import EventKind, record


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


class CommentReport(Base):
    """A reader's report of a comment; one per reader (by hashed address) and comment."""

    __tablename__ = "comment_reports"
    __table_args__ = (sa.UniqueConstraint("comment_id", "reporter"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    comment_id: Mapped[int] = mapped_column(sa.ForeignKey("comments.id", ondelete="CASCADE"))
    reporter: Mapped[str] = mapped_column(sa.String(64))
    reason: Mapped[str | None] = mapped_column(sa.String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


COMMENT_ORDER = (Comment.created_at, Comment.id)


def visible_comments(
    stmt: sa.Select[*Columns], article_ids: Sequence[int] | None = None
) -> sa.Select[*Columns]:
    """Only what a reader sees: a published comment under a published story, whose parent (if
    any) is published too, so that a reply never surfaces from a rejected thread.

    Joins rather than IN (subquery): PostgreSQL hashed every published comment for each count
    (about 90 ms on 200,000 comments); joined, it follows primary keys (about 1.5 ms). Given the
    stories, the list is repeated on the story side because the planner does not carry it over.
    """
    parent = aliased(Comment)
    stmt = (
        stmt.join(Article, Article.id == Comment.article_id)
        .outerjoin(parent, parent.id == Comment.parent_id)
        .where(
            Comment.status == CommentStatus.PUBLISHED,
            is_published(),
            sa.or_(Comment.parent_id.is_(None), parent.status == CommentStatus.PUBLISHED),
        )
    )
    if article_ids is not None:
        stmt = stmt.where(Comment.article_id.in_(article_ids), Article.id.in_(article_ids))
    return stmt


async def visible_comments_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, AnyRow]:
    result = await conn.execute(
        visible_comments(sa.select(Comment.__table__).where(Comment.id.in_(ids)))
    )
    return {row.id: row for row in result}


async def _visible_counts(
    conn: AsyncConnection,
    by: InstrumentedAttribute[Any],
    keys: Sequence[int],
    article_ids: Sequence[int] | None,
    *where: sa.ColumnElement[bool],
) -> dict[int, int]:
    """Visible comments counted by `by`, for each of `keys` (0 where none)."""
    stmt = visible_comments(sa.select(by, sa.func.count()).where(*where), article_ids)
    return counted(await conn.execute(stmt.group_by(by)), keys)


async def comment_counts_by_article(
    conn: AsyncConnection, article_ids: Sequence[int]
) -> dict[int, int]:
    """Visible comments per article, replies included: the number a reader sees."""
    return await _visible_counts(conn, Comment.article_id, article_ids, article_ids)


async def thread_counts_by_article(
    conn: AsyncConnection, article_ids: Sequence[int]
) -> dict[int, int]:
    """Visible top-level comments per article."""
    return await _visible_counts(
        conn, Comment.article_id, article_ids, article_ids, Comment.parent_id.is_(None)
    )


async def reply_counts_by_parent(
    conn: AsyncConnection, parent_ids: Sequence[int]
) -> dict[int, int]:
    return await _visible_counts(
        conn, Comment.parent_id, parent_ids, None, Comment.parent_id.in_(parent_ids)
    )


async def threads_by_article(
    conn: AsyncConnection, article_ids: Sequence[int], page: PageRequest
) -> dict[int, Page]:
    """A page of each article's visible top-level comments, in one statement."""
    stmt = visible_comments(sa.select(Comment.__table__).where(Comment.parent_id.is_(None)))
    return await fetch_pages_by_parent(
        conn, stmt, Comment.article_id, article_ids, COMMENT_ORDER, page
    )


async def replies_by_parent(
    conn: AsyncConnection, parent_ids: Sequence[int], page: PageRequest
) -> dict[int, Page]:
    """A page of visible replies under each comment, in one statement."""
    stmt = visible_comments(sa.select(*Comment.__table__.c))
    return await fetch_pages_by_parent(
        conn, stmt, Comment.parent_id, parent_ids, COMMENT_ORDER, page
    )


# Writes ---------------------------------------------------------------------------------------

MAX_BODY = 5_000
MAX_AUTHOR_NAME = 80


async def post_comment(
    session: AsyncSession,
    *,
    article_slug: str,
    parent_id: int | None,
    author_name: str | None,
    body: str,
    is_spoiler: bool,
    needs_moderation: bool,
) -> Comment:
    """Store a reader's comment as written; it is PENDING when screening asked for a moderator."""
    trimmed = body.strip()
    if not 1 <= len(trimmed) <= MAX_BODY:
        raise InvalidInput("body", f"write 1 to {MAX_BODY} characters")
    name = (author_name or "").strip() or None
    if name is not None and len(name) > MAX_AUTHOR_NAME:
        raise InvalidInput("authorName", f"at most {MAX_AUTHOR_NAME} characters")
    article = await session.scalar(
        sa.select(Article).where(Article.slug == article_slug, is_published())
    )
    if article is None:
        raise InvalidInput("articleSlug", "no published story with this slug")
    if article.comments_closed:
        raise InvalidInput("articleSlug", "comments on this story are closed")
    if parent_id is not None:
        parent = await session.get(Comment, parent_id)
        if parent is None or parent.article_id != article.id:
            raise InvalidInput("parentId", "no such comment on this story")
        # Threads are one level deep: a reply to a reply joins the same thread.
        parent_id = parent.parent_id or parent.id
    comment = Comment(
        article_id=article.id,
        parent_id=parent_id,
        author_name=name,
        body=body,
        is_spoiler=is_spoiler,
        status=CommentStatus.PENDING if needs_moderation else CommentStatus.PUBLISHED,
        created_at=utcnow(),
    )
    session.add(comment)
    await session.flush()
    if comment.status is CommentStatus.PUBLISHED:
        await record(session, EventKind.COMMENT_PUBLISHED, article, comment.id)
    return comment


async def report_comment(
    session: AsyncSession, comment_id: int, reporter: str, reason: str | None, hide_after: int
) -> Comment | None:
    """Record a reader's report; after `hide_after` readers reported it, the comment goes back
    to the moderation queue. A reader reporting twice counts once."""
    comment = await session.get(Comment, comment_id, with_for_update=True)
    if comment is None or comment.status is not CommentStatus.PUBLISHED:
        return None
    exists = await session.scalar(
        sa.select(CommentReport.id).where(
            CommentReport.comment_id == comment_id, CommentReport.reporter == reporter
        )
    )
    if exists is None:
        session.add(CommentReport(comment_id=comment_id, reporter=reporter, reason=reason))
        await session.flush()
    reports = (
        await session.execute(
            sa.select(sa.func.count()).where(CommentReport.comment_id == comment_id)
        )
    ).scalar_one()
    if reports >= hide_after:
        comment.status = CommentStatus.PENDING
    return comment


async def moderate(session: AsyncSession, comment_id: int, status: CommentStatus) -> Comment | None:
    comment = await session.get(Comment, comment_id, with_for_update=True)
    if comment is None:
        return None
    if status is CommentStatus.PUBLISHED and comment.status is not CommentStatus.PUBLISHED:
        article = await session.get(Article, comment.article_id)
        if article is not None:
            await record(session, EventKind.COMMENT_PUBLISHED, article, comment.id)
    comment.status = status
    return comment


async def set_comments_closed(
    session: AsyncSession, article_slug: str, closed: bool
) -> Article | None:
    article = await session.scalar(
        sa.select(Article).where(Article.slug == article_slug, Article.deleted_at.is_(None))
    )
    if article is not None:
        article.comments_closed = closed
    return article


async def pending_comments(conn: AsyncConnection, page: PageRequest) -> Page:
    """The moderation queue, oldest first."""
    stmt = sa.select(Comment.__table__).where(Comment.status == CommentStatus.PENDING)
    return await fetch_page(conn, stmt, COMMENT_ORDER, page)


async def count_pending(conn: AsyncConnection) -> int:
    stmt = sa.select(sa.func.count()).where(Comment.status == CommentStatus.PENDING)
    return (await conn.execute(stmt)).scalar_one()
