"""Webhooks as a receiver sees them: a real HTTP endpoint, down for a while, then back; every
event arrives once it is, in order per story, signed as Standard Webhooks says (checked with the
`standardwebhooks` library, not with our own code). Back-off runs on a clock the test moves."""

from __future__ import annotations

import asyncio
import base64
import json
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import sqlalchemy as sa
from asgi_lifespan import LifespanManager
from sqlalchemy.ext.asyncio import AsyncEngine
from standardwebhooks import Webhook as Verifier

from api.app import create_app
from api.settings import Settings
from api.webhook_delivery import WebhookSender
from models import WebhookDelivery
from models.scheduling import publish_due
from models.session import session_factory
from models.webhook_queue import BACKOFF, next_attempt
from search.server import free_port
from tests.conftest import contract, gql, gql_error
from tests.support import PUBLISH, save

CREATE = """mutation ($url: String!, $events: [WebhookEvent!]!) {
  createWebhook(url: $url, events: $events) {
    __typename
    ... on WebhookCreated { webhook { id url events } secret }
    ... on ValidationError { field message }
  }
}"""
LOG = """{ webhooks { url deliveries(first: 20) {
  event slug status attempts responseStatus lastError deliveredAt } } }"""
UNPUBLISH = "mutation ($slug: String!) { unpublishArticle(slug: $slug) { __typename } }"
POST_COMMENT = contract("post-comment")
SCHEDULE = """mutation ($slug: String!, $at: DateTime) {
  publishArticle(slug: $slug, at: $at) { __typename }
}"""
NOTE = """mutation ($slug: String!, $text: String!) {
  addCorrectionNote(slug: $slug, text: $text) { __typename }
}"""
ALL = ["ARTICLE_PUBLISHED", "ARTICLE_UPDATED", "ARTICLE_UNPUBLISHED", "COMMENT_PUBLISHED"]


@dataclass
class Clock:
    """The real time, moved on by `ahead`: what the test has let pass."""

    ahead: timedelta = field(default_factory=timedelta)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.ahead


class Receiver:
    """A webhook endpoint on a real socket: down until `start`, then answering `status`."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks/newsroom"
        self.status = 200
        self.received: list[tuple[dict[str, str], bytes, int]] = []
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                status = receiver.status
                receiver.received.append((dict(self.headers.items()), body, status))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def accepted(self) -> list[tuple[dict[str, str], bytes]]:
        return [(headers, body) for headers, body, status in self.received if status == 200]


@dataclass
class Desk:
    client: httpx.AsyncClient
    sender: WebhookSender
    clock: Clock


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.stop()


async def _desk(db: AsyncEngine, settings: Settings, clock: Clock) -> AsyncIterator[Desk]:
    sender = WebhookSender(db, allow_private=True, clock=clock, idle_seconds=3600)
    app = create_app(settings, engine=db, webhooks=sender)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield Desk(client, sender, clock)


@pytest.fixture
async def desk(db: AsyncEngine, news_section: None) -> AsyncIterator[Desk]:
    """The app letting editors register loopback endpoints (the receiver is on 127.0.0.1); its
    sender sends when the test says, on the test's clock."""
    async for desk in _desk(db, Settings(webhook_allow_private=True), Clock()):
        yield desk


@pytest.fixture
async def guarded(db: AsyncEngine) -> AsyncIterator[Desk]:
    """The app as shipped: private and loopback endpoints refused."""
    async for desk in _desk(db, Settings(), Clock()):
        yield desk


async def register(desk: Desk, editor: dict, url: str, events: list[str] = ALL) -> dict:
    return (await gql(desk.client, CREATE, {"url": url, "events": events}, editor))["createWebhook"]


async def drain(desk: Desk) -> None:
    while await desk.sender.run_once():
        pass


async def test_every_event_arrives_signed_and_in_order_once_the_receiver_is_back(
    desk: Desk, receiver: Receiver, editor: dict
) -> None:
    created = await register(desk, editor, receiver.url)
    secret = created["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32

    client = desk.client
    await save(client, editor, slug="budget", title="Budget")
    await gql(client, PUBLISH, {"slug": "budget"}, editor)
    await save(client, editor, slug="budget", title="Budget, amended")
    await gql(client, UNPUBLISH, {"slug": "budget"}, editor)
    await save(client, editor, slug="other", title="Other")
    await gql(client, PUBLISH, {"slug": "other"}, editor)
    posted = {"articleSlug": "other", "body": "Well reported.", "authorName": "Ann"}
    await gql(client, POST_COMMENT, {"input": posted})

    # Down: nothing listens. The first event of each story is tried, and waits out its back-off;
    # the later events of a story wait behind it.
    assert await desk.sender.run_once() == 2
    assert await desk.sender.run_once() == 0
    log = (await gql(client, LOG, headers=editor))["webhooks"][0]["deliveries"]
    tried = [d for d in log if d["attempts"]]
    assert len(tried) == 2 and all(d["status"] == "PENDING" for d in log)
    assert all("ConnectError" in d["lastError"] for d in tried)

    # Up, but failing: the same messages (same webhook-id) are sent again after the back-off.
    receiver.start()
    receiver.status = 503
    desk.clock.ahead += timedelta(seconds=6)
    assert await desk.sender.run_once() == 2
    failing_ids = sorted(headers["webhook-id"] for headers, _, _ in receiver.received)

    receiver.status = 200
    desk.clock.ahead += timedelta(minutes=6)
    await drain(desk)

    accepted = receiver.accepted()
    events = []
    for headers, body in accepted:
        # The receiver's own check: signature, id and a timestamp close to its clock.
        payload = Verifier(secret).verify(body, headers)
        events.append((payload["data"]["slug"], payload["type"], headers["webhook-id"]))
    assert [(slug, kind) for slug, kind, _ in events if slug == "budget"] == [
        ("budget", "article.published"),
        ("budget", "article.updated"),
        ("budget", "article.unpublished"),
    ]
    assert [(slug, kind) for slug, kind, _ in events if slug == "other"] == [
        ("other", "article.published"),
        ("other", "comment.published"),
    ]
    ids = [message_id for *_, message_id in events]
    assert len(ids) == len(set(ids)) == 5  # each event once
    assert set(failing_ids) <= set(ids)  # retried under the same id
    log = (await gql(client, LOG, headers=editor))["webhooks"][0]["deliveries"]
    assert {d["status"] for d in log} == {"DELIVERED"} and len(log) == 5
    assert all(d["responseStatus"] == 200 and d["deliveredAt"] for d in log)


async def test_a_delivery_is_retried_for_more_than_a_day_then_given_up(
    desk: Desk, editor: dict, db: AsyncEngine
) -> None:
    assert sum(BACKOFF, timedelta()) > timedelta(hours=24)
    now = datetime(2026, 12, 2, tzinfo=UTC)
    assert next_attempt(1, now, jitter=0) == now + timedelta(seconds=5)
    assert next_attempt(len(BACKOFF) + 1, now) is None

    dead = f"http://127.0.0.1:{free_port()}/never"
    await register(desk, editor, dead, ["ARTICLE_PUBLISHED"])
    await save(desk.client, editor, slug="budget")
    await gql(desk.client, PUBLISH, {"slug": "budget"}, editor)
    for _ in range(len(BACKOFF) + 1):
        assert await desk.sender.run_once() == 1
        desk.clock.ahead += timedelta(hours=11)
    assert await desk.sender.run_once() == 0
    async with db.connect() as conn:
        status, attempts = (
            await conn.execute(sa.select(WebhookDelivery.status, WebhookDelivery.attempts))
        ).one()
    assert (status, attempts) == ("failed", len(BACKOFF) + 1)


async def test_two_senders_at_once_deliver_each_event_once(
    desk: Desk, receiver: Receiver, editor: dict, db: AsyncEngine
) -> None:
    receiver.start()
    await register(desk, editor, receiver.url, ["ARTICLE_PUBLISHED"])
    for n in range(12):
        await save(desk.client, editor, slug=f"story-{n}", title=f"Story {n}")
        await gql(desk.client, PUBLISH, {"slug": f"story-{n}"}, editor)
    other = WebhookSender(db, allow_private=True, clock=desk.clock)
    try:
        while sum(await asyncio.gather(desk.sender.run_once(), other.run_once())):
            pass
    finally:
        await other.aclose()
    slugs = [json.loads(body)["data"]["slug"] for _, body in receiver.accepted()]
    assert sorted(slugs) == sorted(f"story-{n}" for n in range(12))


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:8000/hook", "127.0.0.1, a private, loopback or reserved address"),
        ("http://localhost/hook", "a private, loopback or reserved address"),
        ("http://10.1.2.3/hook", "10.1.2.3, a private"),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254, a private"),
        ("http://[::1]/hook", "::1, a private"),
        ("ftp://example.com/hook", "the address must start with http:// or https://"),
        ("https://user:pw@93.184.216.34/hook", "may not carry a user name or password"),
        ("", "give an address"),
    ],
)
async def test_endpoints_on_private_addresses_are_refused_and_nothing_is_stored(
    guarded: Desk, editor: dict, url: str, message: str
) -> None:
    refused = await register(guarded, editor, url)
    assert refused["__typename"] == "ValidationError" and refused["field"] == "url"
    assert message in refused["message"]
    assert (await gql(guarded.client, LOG, headers=editor))["webhooks"] == []


async def test_a_public_endpoint_is_registered_and_its_secret_is_never_shown_again(
    guarded: Desk, editor: dict
) -> None:
    created = await register(guarded, editor, "https://93.184.216.34/hook", ["ARTICLE_UPDATED"])
    assert created["webhook"]["events"] == ["ARTICLE_UPDATED"]
    listed = (await gql(guarded.client, "{ webhooks { url events } }", headers=editor))["webhooks"]
    assert listed == [{"url": "https://93.184.216.34/hook", "events": ["ARTICLE_UPDATED"]}]
    asked = await guarded.client.post(
        "/graphql", json={"query": "{ webhooks { secret } }"}, headers=editor
    )
    assert "Cannot query field 'secret'" in asked.text
    empty = await register(guarded, editor, "https://93.184.216.34/hook", [])
    assert empty == {
        "__typename": "ValidationError",
        "field": "events",
        "message": "name at least one event",
    }


async def test_a_private_address_is_refused_at_delivery_too(
    desk: Desk, receiver: Receiver, editor: dict, db: AsyncEngine
) -> None:
    receiver.start()
    await register(desk, editor, receiver.url, ["ARTICLE_PUBLISHED"])
    await save(desk.client, editor, slug="budget")
    await gql(desk.client, PUBLISH, {"slug": "budget"}, editor)
    # A process that does not allow private addresses (a name may point elsewhere by now).
    strict = WebhookSender(db, clock=desk.clock)
    try:
        assert await strict.run_once() == 1
    finally:
        await strict.aclose()
    assert receiver.received == []
    async with db.connect() as conn:
        error = await conn.scalar(sa.select(WebhookDelivery.last_error))
    assert "private, loopback or reserved" in error


async def test_only_editors_manage_webhooks(desk: Desk, moderator: dict) -> None:
    variables = {"url": "https://93.184.216.34/hook", "events": ALL}
    anonymous = await gql_error(desk.client, CREATE, variables)
    assert anonymous["extensions"]["code"] == "UNAUTHENTICATED"
    forbidden = await gql_error(desk.client, CREATE, variables, moderator)
    assert forbidden["extensions"]["code"] == "FORBIDDEN"
    assert (await gql_error(desk.client, LOG, headers=moderator))["extensions"][
        "code"
    ] == "FORBIDDEN"


async def test_a_scheduled_publish_and_a_correction_note_are_announced(
    desk: Desk, receiver: Receiver, editor: dict, db: AsyncEngine
) -> None:
    receiver.start()
    await register(desk, editor, receiver.url)
    await save(desk.client, editor, slug="budget")
    at = datetime.now(UTC) + timedelta(hours=1)
    variables = {"slug": "budget", "at": at.isoformat()}
    await gql(desk.client, SCHEDULE, variables, editor)
    async with session_factory(db)() as session, session.begin():
        assert await publish_due(session, at + timedelta(seconds=1)) != []
    note = {"slug": "budget", "text": "Amended to correct a figure."}
    await gql(desk.client, NOTE, note, editor)
    desk.clock.ahead = timedelta(hours=2)
    await drain(desk)
    kinds = [json.loads(body)["type"] for _, body in receiver.accepted()]
    assert kinds == ["article.published", "article.updated"]
