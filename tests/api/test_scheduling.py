"""Scheduled publishing: invisible to readers everywhere until its time, then published once,
by whichever process gets there first, and seen at once by search, lists, feeds and the cache.
The scheduler's clock is moved by hand; nothing here waits for real time to pass."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import sqlalchemy as sa
from asgi_lifespan import LifespanManager
from sqlalchemy.ext.asyncio import AsyncEngine

from api.app import create_app
from api.services import SearchService
from api.settings import Settings
from models import Article, OutboxEntry
from models.enums import ArticleStatus
from models.scheduling import Scheduler, publish_due
from models.session import session_factory
from tests.conftest import contract, gql, gql_error
from tests.support import save

ARTICLE_PAGE = contract("article-page")
LATEST = contract("latest-articles")
SUGGEST = contract("search-suggest")
SEARCH = "query ($q: String!) { search(query: $q) { totalHits hits { article { slug } } } }"
SCHEDULE = """mutation ($slug: String!, $at: DateTime) {
  publishArticle(slug: $slug, at: $at) {
    __typename
    ... on ArticleSaved { article { slug status publishedAt scheduledAt } }
    ... on ValidationError { field message }
    ... on NotFound { message }
  }
}"""
CANCEL = """mutation ($slug: String!) {
  cancelScheduledPublish(slug: $slug) {
    __typename
    ... on ArticleSaved { article { status scheduledAt } }
    ... on ValidationError { field message }
  }
}"""
DRAFTS = "{ drafts { nodes { slug status scheduledAt } } }"
BASE = "https://news.example.com"


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Newsroom:
    client: httpx.AsyncClient
    scheduler: Scheduler
    clock: Clock


@pytest.fixture
async def newsroom(
    db: AsyncEngine, search: SearchService, news_section: None
) -> AsyncIterator[Newsroom]:
    """The app with the result cache and a real search engine; its scheduler runs on a clock
    the test moves, and takes its turns when the test says (its own loop idles for an hour)."""
    clock = Clock(datetime.now(UTC))
    scheduler = Scheduler(db, clock=clock, idle_seconds=3600)
    settings = Settings(public_base_url=BASE + "/")
    app = create_app(settings, engine=db, search=search, scheduler=scheduler)
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            yield Newsroom(client, scheduler, clock)


def iso(moment: datetime) -> str:
    return moment.isoformat()


async def schedule(client: httpx.AsyncClient, editor: dict, slug: str, at: datetime | str) -> dict:
    at_text = at if isinstance(at, str) else iso(at)
    return (await gql(client, SCHEDULE, {"slug": slug, "at": at_text}, editor))["publishArticle"]


async def reader_sees(client: httpx.AsyncClient, search: SearchService, slug: str) -> list[str]:
    """Where a reader finds the story: its page, the latest list, search, suggestions, feed."""
    await search.worker.drain()
    places = []
    if (await gql(client, ARTICLE_PAGE, {"slug": slug}))["article"] is not None:
        places.append("page")
    latest = await gql(client, LATEST, {"first": 50})
    if slug in [node["slug"] for node in latest["articles"]["nodes"]]:
        places.append("latest")
    hits = (await gql(client, SEARCH, {"q": "embargoed budget"}))["search"]["hits"]
    if slug in [hit["article"]["slug"] for hit in hits]:
        places.append("search")
    suggested = (await gql(client, SUGGEST, {"prefix": "embargo"}))["suggest"]["articles"]
    if slug in [article["slug"] for article in suggested]:
        places.append("suggest")
    if f"/articles/{slug}" in (await client.get("/feeds/latest.atom")).text:
        places.append("feed")
    if f"/articles/{slug}" in (await client.get("/sitemaps/news.xml")).text:
        places.append("news sitemap")
    page = await client.get(f"/articles/{slug}")
    if page.status_code == 200:
        places.append("site")
    return places


EVERYWHERE = ["page", "latest", "search", "suggest", "feed", "news sitemap", "site"]


async def test_a_scheduled_story_is_hidden_until_its_time_then_published_once_everywhere(
    newsroom: Newsroom, search: SearchService, editor: dict, db: AsyncEngine
) -> None:
    client, clock = newsroom.client, newsroom.clock
    await save(client, editor, slug="budget", title="The embargoed budget")
    at = (clock.now + timedelta(hours=1)).replace(microsecond=0)
    # Asked for before the schedule too: a cached "not found" must not outlive the publish.
    assert await reader_sees(client, search, "budget") == []

    scheduled = await schedule(client, editor, "budget", at)
    assert scheduled["article"] == {
        "slug": "budget",
        "status": "SCHEDULED",
        "publishedAt": None,
        "scheduledAt": iso(at),
    }
    drafts = (await gql(client, DRAFTS, headers=editor))["drafts"]["nodes"]
    assert drafts == [{"slug": "budget", "status": "SCHEDULED", "scheduledAt": iso(at)}]

    clock.now = at - timedelta(seconds=1)
    assert await newsroom.scheduler.run_once() == 0
    assert await reader_sees(client, search, "budget") == []

    clock.now = at + timedelta(seconds=2)
    assert await newsroom.scheduler.run_once() == 1
    assert await newsroom.scheduler.run_once() == 0
    assert await reader_sees(client, search, "budget") == EVERYWHERE
    story = (await gql(client, ARTICLE_PAGE, {"slug": "budget"}))["article"]
    # It went out at the time the editor set, not when the scheduler got to it.
    assert story["publishedAt"] == iso(at)
    async with db.connect() as conn:
        row = (await conn.execute(sa.select(Article).where(Article.slug == "budget"))).one()
    assert (row.status, row.scheduled_at) == (ArticleStatus.PUBLISHED, None)


async def test_editors_reschedule_and_cancel(newsroom: Newsroom, editor: dict) -> None:
    client, clock = newsroom.client, newsroom.clock
    await save(client, editor, slug="budget", title="The embargoed budget")
    first = clock.now + timedelta(hours=1)
    later = clock.now + timedelta(hours=2)
    await schedule(client, editor, "budget", first)
    moved = await schedule(client, editor, "budget", later)
    assert moved["article"]["scheduledAt"] == iso(later)

    clock.now = first + timedelta(minutes=1)
    assert await newsroom.scheduler.run_once() == 0

    cancelled = (await gql(client, CANCEL, {"slug": "budget"}, editor))["cancelScheduledPublish"]
    assert cancelled == {
        "__typename": "ArticleSaved",
        "article": {"status": "DRAFT", "scheduledAt": None},
    }
    clock.now = later + timedelta(minutes=1)
    assert await newsroom.scheduler.run_once() == 0
    assert (await gql(client, ARTICLE_PAGE, {"slug": "budget"}))["article"] is None

    # Publishing now voids a schedule.
    await schedule(client, editor, "budget", clock.now + timedelta(hours=1))
    now = await gql(client, SCHEDULE, {"slug": "budget"}, editor)
    assert now["publishArticle"]["article"]["status"] == "PUBLISHED"
    assert now["publishArticle"]["article"]["scheduledAt"] is None


@pytest.mark.parametrize(
    ("at", "field", "message"),
    [
        ("2001-01-01T07:00:00Z", "at", "this time has passed"),
        ("2099-01-01T07:00:00", "at", "give the time with its offset"),
    ],
)
async def test_a_bad_time_is_refused_and_changes_nothing(
    newsroom: Newsroom, editor: dict, at: str, field: str, message: str
) -> None:
    client = newsroom.client
    await save(client, editor, slug="budget")
    refused = await schedule(client, editor, "budget", at)
    assert refused["__typename"] == "ValidationError"
    assert refused["field"] == field and refused["message"].startswith(message)
    drafts = (await gql(client, DRAFTS, headers=editor))["drafts"]["nodes"]
    assert drafts == [{"slug": "budget", "status": "DRAFT", "scheduledAt": None}]


async def test_what_cannot_be_scheduled(newsroom: Newsroom, editor: dict) -> None:
    client, soon = newsroom.client, newsroom.clock.now + timedelta(hours=1)
    await save(client, editor, slug="out")
    await gql(client, SCHEDULE, {"slug": "out"}, editor)
    refused = await schedule(client, editor, "out", soon)
    assert refused["__typename"] == "ValidationError"
    assert "already published" in refused["message"]
    status = (await gql(client, ARTICLE_PAGE, {"slug": "out"}))["article"]
    assert status is not None  # still published

    assert (await schedule(client, editor, "nothing", soon))["__typename"] == "NotFound"
    not_scheduled = (await gql(client, CANCEL, {"slug": "out"}, editor))["cancelScheduledPublish"]
    assert not_scheduled["field"] == "slug" and "not scheduled" in not_scheduled["message"]


async def test_readers_cannot_schedule(newsroom: Newsroom, editor: dict) -> None:
    await save(newsroom.client, editor, slug="budget")
    variables = {"slug": "budget", "at": iso(newsroom.clock.now + timedelta(hours=1))}
    error = await gql_error(newsroom.client, SCHEDULE, variables)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def _scheduled_stories(db: AsyncEngine, count: int, at: datetime) -> None:
    async with db.begin() as conn:
        section = await conn.scalar(sa.text("SELECT id FROM sections WHERE slug = 'news'"))
        await conn.execute(
            sa.insert(Article),
            [
                {
                    "slug": f"story-{n}",
                    "title": f"Story {n}",
                    "body": [],
                    "section_id": section,
                    "status": ArticleStatus.SCHEDULED,
                    "scheduled_at": at,
                    "language": "en",
                    "created_at": at,
                    "updated_at": at,
                }
                for n in range(count)
            ],
        )


async def test_several_processes_publish_each_story_once(
    db: AsyncEngine, news_section: None
) -> None:
    at = datetime(2026, 12, 3, 7, tzinfo=UTC)
    await _scheduled_stories(db, 30, at)
    sessions = session_factory(db)

    async def one_process() -> list[int]:
        async with sessions() as session, session.begin():
            return await publish_due(session, at + timedelta(seconds=1), limit=20)

    results = await asyncio.gather(*(one_process() for _ in range(4)))
    published = [story for result in results for story in result]
    assert len(published) == len(set(published)) == 30
    async with db.connect() as conn:
        outbox = await conn.scalar(sa.select(sa.func.count()).select_from(OutboxEntry))
        statuses = set((await conn.execute(sa.select(Article.status))).scalars())
    assert outbox == 30 and statuses == {ArticleStatus.PUBLISHED}


async def test_a_story_that_fell_due_while_no_process_ran_publishes_at_start(
    db: AsyncEngine, news_section: None
) -> None:
    await _scheduled_stories(db, 1, datetime.now(UTC) - timedelta(hours=1))
    app = create_app(Settings(), engine=db, scheduler=Scheduler(db))
    async with LifespanManager(app) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            for _ in range(100):  # the app's own scheduler, on the real clock, at start-up
                if (await gql(client, ARTICLE_PAGE, {"slug": "story-0"}))["article"]:
                    break
                await asyncio.sleep(0.05)
            assert (await gql(client, ARTICLE_PAGE, {"slug": "story-0"}))["article"] is not None
    assert app.state.services.scheduler.published == 1
