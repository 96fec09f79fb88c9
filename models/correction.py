"""Readers' correction suggestions on a story, and the editors' reading of them."""

from __future__ import annotations

import re
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.article import Article, is_published
from models.base import AnyRow, Base, utcnow
from models.enums import CorrectionStatus, string_enum
from models.errors import InvalidInput


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
    session: AsyncSession, correction_id: int, editor: str
) -> Correction | None:
    correction = await session.get(Correction, correction_id, with_for_update=True)
    if correction is None:
        return None
    correction.status = CorrectionStatus.RESOLVED
    correction.resolved_by = editor
    correction.resolved_at = utcnow()
    return correction
