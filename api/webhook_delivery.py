"""Sending webhook deliveries: signed as the Standard Webhooks specification says, to endpoints
on public addresses only (unless WEBHOOK_ALLOW_PRIVATE), retried with back-off for over a day.

The claims, the order per story and the back-off are models/webhook_queue.py's; this is the
HTTP side. Any number of processes may run a `WebhookSender` on one database.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlsplit

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from models import polling
from models.base import utcnow
from models.session import session_factory
from models.webhook_queue import Job, claim, delivered, failed

logger = logging.getLogger("newsroom.webhooks")

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
BATCH = 20


async def address_refusal(url: str, allow_private: bool) -> str | None:
    """Why `url` may not receive webhooks, or None. Every address its host resolves to must be
    public: a name pointing at 127.0.0.1 or at a cloud's metadata service is refused as the
    address itself would be (server-side request forgery)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return "the address must start with http:// or https://"
    if not parts.hostname:
        return "the address has no host"
    if parts.username or parts.password:
        return "the address may not carry a user name or password"
    if allow_private:
        return None
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "the address has a bad port"
    try:
        found = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, port, type=socket.SOCK_STREAM
        )
    except (OSError, UnicodeError):
        return f"the host {parts.hostname!r} does not resolve"
    for *_, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if not address.is_global:
            return (
                f"{parts.hostname} resolves to {address}, a private, loopback or reserved "
                "address (set WEBHOOK_ALLOW_PRIVATE=true to allow it)"
            )
    return None


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header: v1 and the base64 HMAC-SHA256 of id.timestamp.body under
    the secret's bytes (the base64 after `whsec_`)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def payload(job: Job) -> bytes:
    data: dict[str, object] = {"slug": job.slug, "title": job.title}
    if job.comment_id is not None:
        data["commentId"] = job.comment_id
    body = {"type": job.kind, "timestamp": job.occurred_at.isoformat(), "data": data}
    return json.dumps(body, separators=(",", ":")).encode()


class WebhookSender:
    """Delivers due webhooks in this process, every `idle_seconds` and when woken.

    `clock` decides what is due (tests move it past a back-off); the signature's timestamp is
    always the real time, as receivers check it against their own clocks.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        allow_private: bool = False,
        clock: Callable[[], datetime] = utcnow,
        idle_seconds: float = 1.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.engine = engine
        self.allow_private = allow_private
        self.clock = clock
        self.idle_seconds = idle_seconds
        self.sent = 0
        self._wake = asyncio.Event()
        self._client = httpx.AsyncClient(
            timeout=TIMEOUT, follow_redirects=False, transport=transport
        )

    def notify(self) -> None:
        self._wake.set()

    async def run_once(self) -> int:
        now = self.clock()
        async with session_factory(self.engine)() as session, session.begin():
            jobs = await claim(session, now, BATCH)
        for job in jobs:
            await self._deliver(job)
        return len(jobs)

    async def _deliver(self, job: Job) -> None:
        refusal = await address_refusal(job.url, self.allow_private)
        status: int | None = None
        error: str | None = refusal
        if refusal is None:
            body = payload(job)
            message_id = f"evt_{job.event_id}"
            timestamp = int(time.time())
            headers = {
                "content-type": "application/json",
                "webhook-id": message_id,
                "webhook-timestamp": str(timestamp),
                "webhook-signature": sign(job.secret, message_id, timestamp, body),
                "user-agent": "newsroom-webhooks/1",
            }
            try:
                response = await self._client.post(job.url, content=body, headers=headers)
                status = response.status_code
                error = None if 200 <= status < 300 else f"answered {status}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}".rstrip(": ")
        async with session_factory(self.engine)() as session, session.begin():
            if error is None and status is not None:
                await delivered(session, job, self.clock(), status)
                self.sent += 1
            else:
                await failed(session, job, self.clock(), error or "failed", status)
                logger.info("webhook %s to %s failed: %s", job.event_id, job.url, error)

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await polling.poll(
                self.run_once, stop, self._wake, self.idle_seconds, logger, "webhooks"
            )
        finally:
            await self._client.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()
