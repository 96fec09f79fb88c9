"""Webhook deliveries as a queue: claims any number of processes may take at once, the order per
story and endpoint, and the back-off of a delivery that failed.

A delivery is due when it is pending, its next attempt has come, no process holds its lease,
and no earlier event of the same story is still pending for the same endpoint: a receiver
hears "published" before "updated" before "unpublished", whatever failed in between.
"""

from __future__ import annotations

import random
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from models.webhook import DeliveryStatus, Webhook, WebhookDelivery, WebhookEvent

LEASE = timedelta(minutes=5)
# The waits after each failed attempt: about 27.6 hours in all, then the delivery is given up.
BACKOFF = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)


@dataclass(frozen=True, slots=True)
class Job:
    delivery_id: int
    claim: str
    url: str
    secret: str
    event_id: int
    kind: str
    slug: str
    title: str | None
    comment_id: int | None
    occurred_at: datetime
    attempts: int


def _due(now: datetime) -> sa.ColumnElement[bool]:
    earlier = aliased(WebhookDelivery)
    return sa.and_(
        WebhookDelivery.status == DeliveryStatus.PENDING,
        WebhookDelivery.next_attempt_at <= now,
        sa.or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until < now),
        ~sa.exists().where(
            earlier.webhook_id == WebhookDelivery.webhook_id,
            earlier.article_id == WebhookDelivery.article_id,
            earlier.event_id < WebhookDelivery.event_id,
            earlier.status == DeliveryStatus.PENDING,
        ),
    )


async def claim(session: AsyncSession, now: datetime, limit: int) -> list[Job]:
    """Lease up to `limit` due deliveries to this process (one statement: of several processes
    claiming at once, each row goes to one; PostgreSQL's take rows the others have not locked)."""
    token = secrets.token_hex(8)
    due = (
        sa.select(WebhookDelivery.id)
        .where(_due(now))
        .order_by(WebhookDelivery.event_id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=WebhookDelivery)
    )
    claimed = await session.scalars(
        sa.update(WebhookDelivery)
        .where(WebhookDelivery.id.in_(due.scalar_subquery()), _due(now))
        .values(claimed_until=now + LEASE, claim=token)
        .returning(WebhookDelivery.id)
        .execution_options(synchronize_session=False)
    )
    ids = list(claimed)
    if not ids:
        return []
    rows = await session.execute(
        sa.select(
            WebhookDelivery.id,
            WebhookDelivery.attempts,
            Webhook.url,
            Webhook.secret,
            WebhookEvent.id.label("event_id"),
            WebhookEvent.kind,
            WebhookEvent.slug,
            WebhookEvent.title,
            WebhookEvent.comment_id,
            WebhookEvent.occurred_at,
        )
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_id)
        .where(WebhookDelivery.id.in_(ids))
        .order_by(WebhookDelivery.event_id)
    )
    return [
        Job(
            delivery_id=row.id,
            claim=token,
            url=row.url,
            secret=row.secret,
            event_id=row.event_id,
            kind=str(row.kind),
            slug=row.slug,
            title=row.title,
            comment_id=row.comment_id,
            occurred_at=row.occurred_at,
            attempts=row.attempts,
        )
        for row in rows
    ]


def _mine(job: Job) -> sa.ColumnElement[bool]:
    # A lease that lapsed and was taken over is no longer this process's to write.
    return sa.and_(WebhookDelivery.id == job.delivery_id, WebhookDelivery.claim == job.claim)


async def delivered(session: AsyncSession, job: Job, now: datetime, status: int) -> None:
    await session.execute(
        sa.update(WebhookDelivery)
        .where(_mine(job))
        .values(
            status=DeliveryStatus.DELIVERED,
            attempts=WebhookDelivery.attempts + 1,
            response_status=status,
            last_error=None,
            last_attempt_at=now,
            delivered_at=now,
            claimed_until=None,
            claim=None,
        )
    )


def next_attempt(attempts: int, now: datetime, jitter: float | None = None) -> datetime | None:
    """When to try again after `attempts` failed attempts (None: give up), ±10 % so that
    deliveries failed together do not all come back together."""
    if attempts > len(BACKOFF):
        return None
    wait = BACKOFF[attempts - 1]
    factor = 1 + (random.uniform(-0.1, 0.1) if jitter is None else jitter)
    return now + wait * factor


async def failed(
    session: AsyncSession, job: Job, now: datetime, error: str, status: int | None
) -> None:
    attempts = job.attempts + 1
    retry = next_attempt(attempts, now)
    values: dict[str, Any] = {
        "attempts": attempts,
        "response_status": status,
        "last_error": error[:2000],
        "last_attempt_at": now,
        "claimed_until": None,
        "claim": None,
    }
    if retry is None:
        values["status"] = DeliveryStatus.FAILED
    else:
        values["next_attempt_at"] = retry
    await session.execute(sa.update(WebhookDelivery).where(_mine(job)).values(**values))


async def next_due_at(session: AsyncSession) -> datetime | None:
    """The earliest next attempt of a pending delivery, for the worker's sleep."""
    return await session.scalar(
        sa.select(sa.func.min(WebhookDelivery.next_attempt_at)).where(
            WebhookDelivery.status == DeliveryStatus.PENDING
        )
    )
