"""Articles, sections and authors: tables and the read queries over them; no GraphQL here."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import Mapped, mapped_column

from models.base import AnyRow, Base, utcnow
from models.enums import ArticleStatus, string_enum
from models.lookup import listed_by_article, rows_by_ids


class Section(Base):
    __tablename__ = "sections"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(120), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))


class Author(Base):
    __tablename__ = "authors"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(120), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))


READABLE = "status = 'published' AND deleted_at IS NULL"
DUE = "status = 'scheduled'"


class Article(Base):
    __tablename__ = "articles"
    __table_args__ = (
        # The reader lists: published stories, newest first, with a stable tie-breaker.
        sa.Index("ix_articles_status_published_at_id", "status", "published_at", "id"),
        sa.Index("ix_articles_section_id", "section_id"),
        # Only what readers see, newest first: the home page's page and its count read the
        # index alone (10,000 stories: the count scanned every row, bodies and all, in 11 ms).
        sa.Index(
            "ix_articles_readable_published_at_id",
            "published_at",
            "id",
            postgresql_where=sa.text(READABLE),
            sqlite_where=sa.text(READABLE),
        ),
        # The scheduler's question every second: is a story due? Only scheduled rows are in it.
        sa.Index(
            "ix_articles_due_scheduled_at",
            "scheduled_at",
            postgresql_where=sa.text(DUE),
            sqlite_where=sa.text(DUE),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(200), unique=True)
    title: Mapped[str] = mapped_column(sa.Text)
    dek: Mapped[str | None] = mapped_column(sa.Text)
    # Ordered blocks, each {"type": "paragraph" | "heading" | "image", "text": str}, an image
    # block with "image": its images.id as a string: always read and written whole with the
    # article, so one JSON column beats a row per block.
    body: Mapped[list[dict[str, str]]] = mapped_column(sa.JSON)
    section_id: Mapped[int] = mapped_column(sa.ForeignKey("sections.id", ondelete="RESTRICT"))
    status: Mapped[ArticleStatus] = mapped_column(
        string_enum(ArticleStatus, "article_status"), default=ArticleStatus.DRAFT
    )
    language: Mapped[str] = mapped_column(sa.String(16), default="en")
    source: Mapped[str | None] = mapped_column(sa.String(200))
    source_id: Mapped[str | None] = mapped_column(sa.String(200))
    published_at: Mapped[datetime | None]
    # When a SCHEDULED story publishes itself; None in every other status.
    scheduled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Hash of the imported record, so re-importing an unchanged file writes nothing.
    import_hash: Mapped[str | None] = mapped_column(sa.String(64))
    # People extraction runs whenever the text changed since it last succeeded.
    content_hash: Mapped[str | None] = mapped_column(sa.String(64))
    people_hash: Mapped[str | None] = mapped_column(sa.String(64))
    people_error: Mapped[str | None] = mapped_column(sa.Text)
    people_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    people_retry_at: Mapped[datetime | None]
    # The lease of the process extracting the story now; past it, any process may take it.
    people_claimed_until: Mapped[datetime | None]
    # Soft delete: an editor can restore the story with everything attached to it.
    deleted_at: Mapped[datetime | None]
    comments_closed: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    # The picture at the top of the story (models/images.py).
    lead_image_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("images.id", ondelete="RESTRICT")
    )


class ArticleRevision(Base):
    """The story as one save left it, who saved it and which fields that save changed."""

    __tablename__ = "article_revisions"
    __table_args__ = (sa.UniqueConstraint("article_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(sa.ForeignKey("articles.id", ondelete="CASCADE"))
    number: Mapped[int]
    editor: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    changes: Mapped[list[str]] = mapped_column(sa.JSON)
    snapshot: Mapped[dict[str, Any]] = mapped_column(sa.JSON)


class ArticleAuthor(Base):
    __tablename__ = "article_authors"

    article_id: Mapped[int] = mapped_column(
        sa.ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    author_id: Mapped[int] = mapped_column(
        sa.ForeignKey("authors.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(default=0)


class ArticleTopic(Base):
    __tablename__ = "article_topics"

    article_id: Mapped[int] = mapped_column(
        sa.ForeignKey("articles.id", ondelete="CASCADE"), primary_key=True
    )
    topic_id: Mapped[int] = mapped_column(
        sa.ForeignKey("topics.id", ondelete="RESTRICT"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(default=0)


# Every column but the body: lists never show it, and it is most of an article's bytes.
SUMMARY_COLUMNS = tuple(c for c in Article.__table__.c if c.key != "body")
ARTICLE_ORDER = (Article.published_at, Article.id)


def text_hash(title: str, dek: str | None, body: list[dict[str, str]]) -> str:
    """What people extraction reads, hashed: a change means extracting again."""
    payload = json.dumps([title, dek, body], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def is_published() -> sa.ColumnElement[bool]:
    """What readers may see: published and not deleted."""
    return sa.and_(Article.status == ArticleStatus.PUBLISHED, Article.deleted_at.is_(None))


async def published_article_by_slug(conn: AsyncConnection, slug: str) -> AnyRow | None:
    """The published article with this slug, body included, or None."""
    result = await conn.execute(
        sa.select(Article.__table__).where(Article.slug == slug, is_published())
    )
    return result.first()


async def was_published(conn: AsyncConnection, slug: str) -> bool:
    """Whether readers could once read the story with this slug and no longer can (unpublished
    or deleted): its page is gone (410), not unknown (404)."""
    gone = sa.select(Article.id).where(
        Article.slug == slug, Article.published_at.is_not(None), sa.not_(is_published())
    )
    return (await conn.execute(gone.limit(1))).first() is not None


async def article_by_slug(conn: AsyncConnection, slug: str) -> AnyRow | None:
    """The story with this slug whatever its status (for editors), unless deleted."""
    result = await conn.execute(
        sa.select(Article.__table__).where(Article.slug == slug, Article.deleted_at.is_(None))
    )
    return result.first()


# Built once: building a SELECT and its WHERE took about 3 ms a call, more than PostgreSQL takes
# to answer it. The ids are one expanding parameter, and SQLAlchemy memoises the statement's
# cache key on the object, so each call only binds them.
_IDS: sa.BindParameter[int] = sa.bindparam("ids", expanding=True)
_PUBLISHED_BY_IDS = sa.select(*SUMMARY_COLUMNS).where(Article.id.in_(_IDS), is_published())
# What a story's card shows (api.article.Article.from_row reads these), and its section's.
CARD_COLUMNS = (
    Article.id,
    Article.slug,
    Article.title,
    Article.dek,
    Article.language,
    Article.status,
    Article.published_at,
    Article.updated_at,
    Article.section_id,
    Article.lead_image_id,
)
# A story's section as lists and documents carry it, beside the story's own columns.
SECTION_NAMES = (Section.slug.label("section_slug"), Section.name.label("section_name"))
_PUBLISHED_WITH_SECTIONS = (
    sa.select(*CARD_COLUMNS, *SECTION_NAMES)
    .join(Section, Section.id == Article.section_id)
    .where(Article.id.in_(_IDS), is_published())
)


async def published_articles_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, AnyRow]:
    """Published articles (without body) by id; unknown or unpublished ids are absent."""
    result = await conn.execute(_PUBLISHED_BY_IDS, {"ids": list(ids)})
    return {row.id: row for row in result}


async def published_articles_with_sections(
    conn: AsyncConnection, ids: Sequence[int]
) -> dict[int, AnyRow]:
    """Published articles' card columns by id, each with its section's `section_slug` and
    `section_name`, in one statement; unknown or unpublished ids are absent."""
    result = await conn.execute(_PUBLISHED_WITH_SECTIONS, {"ids": list(ids)})
    return {row.id: row for row in result}


async def bodies_by_article(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, list[Any]]:
    result = await conn.execute(sa.select(Article.id, Article.body).where(Article.id.in_(ids)))
    return {row.id: row.body for row in result}


async def sections_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, AnyRow]:
    return await rows_by_ids(conn, Section, ids)


async def authors_by_article(
    conn: AsyncConnection, article_ids: Sequence[int]
) -> dict[int, list[AnyRow]]:
    """Each article's authors in byline order."""
    return await listed_by_article(
        conn,
        ArticleAuthor,
        Author,
        Author.id == ArticleAuthor.author_id,
        (Author.id, Author.slug, Author.name),
        article_ids,
    )


async def author_by_slug(conn: AsyncConnection, slug: str) -> AnyRow | None:
    """The author with this slug if a published story carries their byline: an author of
    drafts only is not yet anyone readers can know of."""
    bylined = (
        sa.select(ArticleAuthor.article_id)
        .join(Article, Article.id == ArticleAuthor.article_id)
        .where(ArticleAuthor.author_id == Author.id, is_published())
    )
    result = await conn.execute(
        sa.select(Author.id, Author.slug, Author.name).where(Author.slug == slug, bylined.exists())
    )
    return result.first()


async def sections(conn: AsyncConnection) -> list[AnyRow]:
    result = await conn.execute(sa.select(Section.__table__).order_by(Section.name))
    return list(result)
