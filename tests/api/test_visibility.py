"""Readers never see drafts, unpublished stories or comments that are not PUBLISHED."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from models import Article, Comment, CommentStatus, Mention
from models.importer import import_lines
from models.session import AsyncSession
from tests.conftest import SAMPLE, SAMPLE_SLUG, contract, gql
from tests.support import insert_person

ARTICLE_PAGE = contract("article-page")
LATEST_ARTICLES = contract("latest-articles")
TOPIC_PAGE = contract("topic-page")
PERSON_PAGE = contract("person-page")
COMMENTS_THREAD = contract("comments-thread")
NODE = "query ($id: ID!) { node(id: $id) { id } }"


def _story(slug: str, status: str) -> str:
    record = json.loads(SAMPLE.read_text().splitlines()[1])
    record.update(slug=slug, status=status, title=f"A {status} story")
    return json.dumps(record)


@pytest.fixture
async def hidden(sessions: async_sessionmaker[AsyncSession], sample: None, db: AsyncEngine) -> None:
    report = await import_lines(
        sessions, [_story("a-draft", "draft"), _story("an-unpublished-story", "unpublished")]
    )
    assert report.errors == []
    async with db.begin() as conn:
        person = await insert_person(conn, slug="someone", name="Someone", aliases=[])
        hidden_ids = (
            (await conn.execute(sa.select(Article.id).where(Article.slug.like("a%-%"))))
            .scalars()
            .all()
        )
        for article_id in hidden_ids:
            await conn.execute(sa.insert(Mention).values(article_id=article_id, person_id=person))


@pytest.mark.parametrize("slug", ["a-draft", "an-unpublished-story"])
async def test_hidden_story_is_not_found_by_slug(
    client: httpx.AsyncClient, hidden: None, slug: str
) -> None:
    assert (await gql(client, ARTICLE_PAGE, {"slug": slug}))["article"] is None


async def test_hidden_stories_are_absent_from_lists_and_counts(
    client: httpx.AsyncClient, hidden: None
) -> None:
    latest = (await gql(client, LATEST_ARTICLES))["articles"]
    assert latest["totalCount"] == 2
    assert "a-draft" not in {a["slug"] for a in latest["nodes"]}
    topic = (await gql(client, TOPIC_PAGE, {"slug": "war-in-ukraine"}))["topic"]
    assert topic["articles"]["totalCount"] == 2
    person = (await gql(client, PERSON_PAGE, {"slug": "someone"}))["person"]
    assert person["articles"] == {"totalCount": 0, "nodes": []}


async def test_hidden_story_is_not_reachable_through_node(
    client: httpx.AsyncClient, hidden: None, db: AsyncEngine
) -> None:
    async with db.connect() as conn:
        draft_id = (
            await conn.execute(sa.select(Article.id).where(Article.slug == "a-draft"))
        ).scalar_one()
    global_id = base64.urlsafe_b64encode(f"Article:{draft_id}".encode()).decode()
    assert (await gql(client, NODE, {"id": global_id}))["node"] is None


async def test_only_published_comments_are_shown_and_counted(
    client: httpx.AsyncClient, sample: None, db: AsyncEngine
) -> None:
    async with db.begin() as conn:
        article_id = (
            await conn.execute(sa.select(Article.id).where(Article.slug == SAMPLE_SLUG))
        ).scalar_one()
        first = (
            (
                await conn.execute(
                    sa.select(Comment.id)
                    .where(Comment.article_id == article_id)
                    .order_by(Comment.id)
                )
            )
            .scalars()
            .first()
        )
        rejected = (
            await conn.execute(
                sa.insert(Comment)
                .values(article_id=article_id, body="rejected", status=CommentStatus.REJECTED)
                .returning(Comment.id)
            )
        ).scalar_one()
        for parent_id, body, status in [
            (None, "held", CommentStatus.PENDING),
            (first, "a visible reply", CommentStatus.PUBLISHED),
            (first, "a held reply", CommentStatus.PENDING),
            (rejected, "orphaned reply", CommentStatus.PUBLISHED),
        ]:
            await conn.execute(
                sa.insert(Comment).values(
                    article_id=article_id, parent_id=parent_id, body=body, status=status
                )
            )

    article = (await gql(client, COMMENTS_THREAD, {"slug": SAMPLE_SLUG}))["article"]

    assert article["commentCount"] == 6
    assert article["comments"]["totalCount"] == 5
    bodies = [c["body"] for c in article["comments"]["nodes"]]
    assert "held" not in bodies and "rejected" not in bodies
    thread = article["comments"]["nodes"][0]
    assert thread["replyCount"] == 1
    assert [r["body"] for r in thread["replies"]["nodes"]] == ["a visible reply"]
