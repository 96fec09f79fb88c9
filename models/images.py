"""Pictures editors upload: the table, storing one, and the reads the API makes; no GraphQL.

A row is one upload with its own alt text, caption and credit; its files are named by the hash
of the uploaded bytes (models/media.py), so the same picture uploaded twice shares them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models import renditions
from models.base import AnyRow, Base, utcnow
from models.errors import InvalidInput
from models.lookup import rows_by_ids
from models.media import MediaStore

MAX_ALT = 500
MAX_CAPTION = 2_000
MAX_CREDIT = 300


class Image(Base):
    __tablename__ = "images"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    width: Mapped[int]
    height: Mapped[int]
    format: Mapped[str] = mapped_column(sa.String(8))
    alt: Mapped[str] = mapped_column(sa.Text)
    caption: Mapped[str | None] = mapped_column(sa.Text)
    credit: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(sa.String(200))


@dataclass(frozen=True, slots=True)
class Upload:
    """A picture as an editor sends it."""

    data: bytes
    alt: str
    caption: str | None = None
    credit: str | None = None


def _text(field: str, value: str | None, limit: int) -> str | None:
    value = (value or "").strip() or None
    if value is not None and len(value) > limit:
        raise InvalidInput(field, f"at most {limit} characters")
    return value


def _check(upload: Upload, max_bytes: int) -> tuple[str, str | None, str | None]:
    alt = _text("alt", upload.alt, MAX_ALT)
    if alt is None:
        raise InvalidInput("alt", "describe the picture for readers who cannot see it")
    if not upload.data:
        raise InvalidInput("file", "the file is empty")
    if len(upload.data) > max_bytes:
        raise InvalidInput("file", f"over {max_bytes:,} bytes (MAX_IMAGE_BYTES)")
    return (
        alt,
        _text("caption", upload.caption, MAX_CAPTION),
        _text("credit", upload.credit, MAX_CREDIT),
    )


async def store_image(
    session: AsyncSession,
    store: MediaStore,
    upload: Upload,
    editor: str,
    *,
    max_bytes: int,
    max_pixels: int,
) -> Image:
    """Check an upload, store its renditions and add its row; InvalidInput and nothing stored
    when it is refused. Decoding and encoding run in a worker thread."""
    alt, caption, credit = _check(upload, max_bytes)
    decoded = await asyncio.to_thread(renditions.decode, upload.data, max_pixels)
    # Files first: a row never names files that are missing. A failure after them leaves
    # files no row names, which are harmless (the next upload of the picture reuses them).
    for rendition in decoded.renditions:
        await store.put(rendition.key, rendition.data)
    image = Image(
        sha256=decoded.sha256,
        width=decoded.width,
        height=decoded.height,
        format=decoded.format,
        alt=alt,
        caption=caption,
        credit=credit,
        created_by=editor,
    )
    session.add(image)
    await session.flush()
    return image


async def images_by_ids(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, AnyRow]:
    """Images by id; unknown ids are absent. An image is not secret (its files are public),
    but nothing lists them: readers reach one only through a published story."""
    return await rows_by_ids(conn, Image, ids)


async def missing_images(session: AsyncSession, ids: Iterable[int]) -> set[int]:
    """Which of these image ids do not exist."""
    wanted = set(ids)
    if not wanted:
        return set()
    found = await session.scalars(sa.select(Image.id).where(Image.id.in_(wanted)))
    return wanted - set(found)


async def check_images(
    session: AsyncSession,
    lead_image: int | None,
    body: Sequence[tuple[str, str] | tuple[str, str, int]],
) -> None:
    """InvalidInput unless the lead image and every image block's image exist."""
    in_body = {number: block[2] for number, block in enumerate(body, 1) if len(block) == 3}
    wanted = set(in_body.values()) | ({lead_image} if lead_image is not None else set())
    missing = await missing_images(session, wanted)
    if lead_image in missing:
        raise InvalidInput("leadImage", "no such image; upload it with uploadImage first")
    for number, image_id in in_body.items():
        if image_id in missing:
            raise InvalidInput("body", f"block {number}: no such image")
