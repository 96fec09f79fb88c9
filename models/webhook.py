"""Webhooks: the endpoints editors register, the events recorded for them and one delivery per
event and endpoint (its log); registration and the editors' reads. No HTTP here: delivery is
api/webhook_delivery.py, claims and back-off models/webhook_queue.py.

Events are written by the models' own writes (editing, scheduling, corrections, comments), in
the transaction of the change, with one delivery row per endpoint that asked for the kind: an
event is never announced for a change that rolled back, and never lost for one that committed.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from models.base import AnyRow, Base, utcnow
from models.enums import string_enum
from models.errors import InvalidInput, NotFoundError


class EventKind(StrEnum):
    """What happened, as the payload's `type` names it (Standard Webhooks' dotted style)."""

    ARTICLE_PUBLISHED = "article.published"
    ARTICLE_UPDATED = "article.updated"
    ARTICLE_UNPUBLISHED = "article.unpublished"
    COMMENT_PUBLISHED = "comment.published"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    # Given up after a day of retries.
    FAILED = "failed"


class Webhook(Base):
    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(sa.String(2000))
    # EventKind values; a newsroom has a handful of endpoints, so they are filtered in Python.
    events: Mapped[list[str]] = mapped_column(sa.JSON)
    # Kept as given to the editor (whsec_ + base64): the server needs it to sign every delivery.
    secret: Mapped[str] = mapped_column(sa.String(100))
    created_by: Mapped[str] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookEvent(Base):
    """One thing that happened, recorded in the transaction that made it happen."""

    __tablename__ = "webhook_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[EventKind] = mapped_column(string_enum(EventKind, "webhook_event_kind"))
    # No foreign keys: an event outlives what it names (a deleted story is announced too).
    article_id: Mapped[int]
    slug: Mapped[str] = mapped_column(sa.String(200))
    title: Mapped[str | None] = mapped_column(sa.String(300))
    comment_id: Mapped[int | None]
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(Base):
    """One event to one endpoint: the row a worker claims, and a line of the delivery log."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("webhook_id", "event_id"),
        # Claims look for due pending rows, and for an earlier pending row of the same story.
        sa.Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        sa.Index(
            "ix_webhook_deliveries_webhook_id_article_id_event_id",
            "webhook_id",
            "article_id",
            "event_id",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(sa.ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(
        sa.ForeignKey("webhook_events.id", ondelete="CASCADE"), index=True
    )
    # The event's story, copied here: deliveries go in order per story and endpoint.
    article_id: Mapped[int]
    status: Mapped[DeliveryStatus] = mapped_column(
        string_enum(DeliveryStatus, "webhook_delivery_status"), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_until: Mapped[datetime | None]
    # Which claim holds the row: a worker whose lease lapsed and was taken over writes nothing.
    claim: Mapped[str | None] = mapped_column(sa.String(32))
    response_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    last_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def new_secret() -> str:
    """A signing secret as the Standard Webhooks specification writes it: whsec_ and base64 of
    24 to 64 random bytes (32 here)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


async def create_webhook(
    session: AsyncSession, url: str, events: Sequence[EventKind], editor: str
) -> Webhook:
    """Register an endpoint; `url` was checked by the caller (scheme, host, addresses)."""
    if not events:
        raise InvalidInput("events", "name at least one event")
    webhook = Webhook(
        url=url,
        events=sorted({str(kind) for kind in events}),
        secret=new_secret(),
        created_by=editor,
        created_at=utcnow(),
    )
    session.add(webhook)
    await session.flush()
    return webhook


async def delete_webhook(session: AsyncSession, webhook_id: int) -> None:
    """Remove an endpoint with its delivery log; nothing more is sent to it."""
    deleted = await session.execute(
        sa.delete(Webhook).where(Webhook.id == webhook_id).returning(Webhook.id)
    )
    if deleted.scalar() is None:
        raise NotFoundError(str(webhook_id))
    # SQLite enforces ON DELETE CASCADE only with foreign keys on: said here for both.
    await session.execute(
        sa.delete(WebhookDelivery).where(WebhookDelivery.webhook_id == webhook_id)
    )


async def subscribers(session: AsyncSession) -> list[tuple[int, list[str]]]:
    rows = await session.execute(sa.select(Webhook.id, Webhook.events))
    return [(pk, list(events)) for pk, events in rows]


async def webhooks(conn: AsyncConnection) -> list[AnyRow]:
    """Every endpoint, oldest first, without its secret."""
    result = await conn.execute(
        sa.select(Webhook.id, Webhook.url, Webhook.events, Webhook.created_at).order_by(Webhook.id)
    )
    return list(result)


async def deliveries_by_webhook(
    conn: AsyncConnection, webhook_ids: Sequence[int], first: int
) -> dict[int, list[AnyRow]]:
    """The `first` latest deliveries of each endpoint, newest first, with their events."""
    number = (
        sa.func.row_number()
        .over(partition_by=WebhookDelivery.webhook_id, order_by=WebhookDelivery.id.desc())
        .label("number")
    )
    ranked = (
        sa.select(
            WebhookDelivery.__table__,
            WebhookEvent.kind,
            WebhookEvent.slug,
            WebhookEvent.occurred_at,
            number,
        )
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.webhook_id.in_(webhook_ids))
        .subquery()
    )
    result = await conn.execute(
        sa.select(ranked).where(ranked.c.number <= first).order_by(ranked.c.id.desc())
    )
    found: dict[int, list[AnyRow]] = {pk: [] for pk in webhook_ids}
    for row in result:
        found[row.webhook_id].append(row)
    return found


def event_fields(event: WebhookEvent | AnyRow) -> dict[str, Any]:
    return {"kind": event.kind, "slug": event.slug, "title": event.title}


class _Story(Protocol):
    id: int
    slug: str
    title: str


async def record(
    session: AsyncSession, kind: EventKind, story: _Story, comment_id: int | None = None
) -> None:
    """Note that `kind` happened to `story`, for every endpoint that asked for it."""
    wanted = [pk for pk, events in await subscribers(session) if str(kind) in events]
    if not wanted:
        return
    now = utcnow()
    event = WebhookEvent(
        kind=kind,
        article_id=story.id,
        slug=story.slug,
        title=story.title[:300],
        comment_id=comment_id,
        occurred_at=now,
    )
    session.add(event)
    await session.flush()
    session.add_all(
        WebhookDelivery(
            webhook_id=pk,
            event_id=event.id,
            article_id=story.id,
            next_attempt_at=now,
            created_at=now,
        )
        for pk in wanted
    )
