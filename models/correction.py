"""Readers' correction suggestions on a story, and the editors' reading of them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.article import Article, is_published
from models.base import AnyRow, Base, utcnow
from models.editing import find_article
from models.enums import ArticleStatus, CorrectionStatus, string_enum
from models.errors import InvalidInput
from models.outbox import enqueue_articles
from models.webhook import EventKind, record

MAX_NOTE = 2_000


class Correction(Base):
    __tablename__ = "corrections"
    __table_args__ = (sa.Index("ix_corrections_article_id_status", "article_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(sa.ForeignKey("articles.id", ondelete="CASCADE"))
    quote: Mapped[str] = mapped_column(sa.Text)
    message: Mapped[str] = mapped_column(sa.Text)
    contact_email: Mapped[str | None] = mapped_column(sa.String(320))
    status: Mapped[CorrectionStatus] = mapped_column(
        string_enum(CorrectionStatus, "correction_status"), default=CorrectionStatus.OPEN
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_by: Mapped[str | None] = mapped_column(sa.String(200))
    resolved_at: Mapped[datetime | None]


class CorrectionNote(Base):
    """A dated note published under a story: what was amended, in the newsroom's words."""

    __tablename__ = "correction_notes"
    __table_args__ = (
        sa.Index("ix_correction_notes_article_id_created_at", "article_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(sa.ForeignKey("articles.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(sa.Text)
    editor: Mapped[str] = mapped_column(sa.String(200))
    # The reader's suggestion it answers, if any.
    correction_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("corrections.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


async def corrections_for_article(
    conn: AsyncConnection, article_slug: str, status: CorrectionStatus | None
) -> list[AnyRow]:
    """Readers' suggestions on the story `article_slug` (none if unknown), oldest first."""
    article_id = sa.select(Article.id).where(Article.slug == article_slug).scalar_subquery()
    stmt = sa.select(Correction.__table__).where(Correction.article_id == article_id)
    if status is not None:
        stmt = stmt.where(Correction.status == status)
    return list(await conn.execute(stmt.order_by(Correction.created_at, Correction.id)))


def _normalized(text: str) -> str:
    return " ".join(text.split()).casefold()


async def suggest_correction(
    session: AsyncSession, article_slug: str, quote: str, message: str, contact_email: str | None
) -> Correction:
    """Store a reader's suggestion; the quote must be in the story as it reads now."""
    if not 1 <= len(quote.strip()) <= 2_000:
        raise InvalidInput("quote", "highlight 1 to 2,000 characters of the story")
    if not 1 <= len(message.strip()) <= 5_000:
        raise InvalidInput("message", "write 1 to 5,000 characters")
    email = (contact_email or "").strip() or None
    if email is not None and (
        len(email) > 320 or not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email)
    ):
        raise InvalidInput("contactEmail", "not an e-mail address")
    article = await session.scalar(
        sa.select(Article).where(Article.slug == article_slug, is_published())
    )
    if article is None:
        raise InvalidInput("articleSlug", "no published story with this slug")
    text = "\n".join([article.title, article.dek or "", *(b["text"] for b in article.body)])
    if _normalized(quote) not in _normalized(text):
        raise InvalidInput("quote", "this text is not in the story as it reads now")
    correction = Correction(
        article_id=article.id, quote=quote, message=message, contact_email=email
    )
    session.add(correction)
    await session.flush()
    return correction


async def resolve_correction(
    session: AsyncSession, correction_id: int, editor: str, note: str | None = None
) -> Correction | None:
    """Mark a suggestion dealt with; with `note`, publish that correction note under the story
    in the same write (a note refused leaves the suggestion open)."""
    correction = await session.get(Correction, correction_id, with_for_update=True)
    if correction is None:
        return None
    correction.status = CorrectionStatus.RESOLVED
    correction.resolved_by = editor
    correction.resolved_at = utcnow()
    if note is not None:
        slug = await session.scalar(
            sa.select(Article.slug).where(Article.id == correction.article_id)
        )
        await add_note(session, slug or "", note, editor, correction.id)
    return correction


async def add_note(
    session: AsyncSession, slug: str, text: str, editor: str, correction_id: int | None = None
) -> CorrectionNote:
    """Publish a correction note under a story that readers have seen; the story counts as
    updated (its `updated_at`, search, feeds and caches follow)."""
    text = text.strip()
    if not text:
        raise InvalidInput("text", "write what was corrected")
    if len(text) > MAX_NOTE:
        raise InvalidInput("text", f"a note is at most {MAX_NOTE:,} characters")
    article = await find_article(session, slug)
    if article.published_at is None:
        raise InvalidInput("slug", "the story was never published: edit it, no note is needed")
    now = utcnow()
    note = CorrectionNote(
        article_id=article.id, text=text, editor=editor, correction_id=correction_id, created_at=now
    )
    session.add(note)
    article.updated_at = now
    enqueue_articles(session, [article.id])
    if article.status == ArticleStatus.PUBLISHED:
        await record(session, EventKind.ARTICLE_UPDATED, article)
    await session.flush()
    return note


async def notes_by_article(
    conn: AsyncConnection, article_ids: Sequence[int]
) -> dict[int, list[AnyRow]]:
    """The correction notes under each story, oldest first."""
    found: dict[int, list[AnyRow]] = {article_id: [] for article_id in article_ids}
    rows = await conn.execute(
        sa.select(CorrectionNote.__table__)
        .where(CorrectionNote.article_id.in_(article_ids))
        .order_by(CorrectionNote.article_id, CorrectionNote.created_at, CorrectionNote.id)
    )
    for row in rows:
        found[row.article_id].append(row)
    return found
