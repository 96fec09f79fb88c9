"""DataLoaders keep the number of SQL statements flat however large the page is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import islice

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from models import Comment, Mention
from models.importer import import_lines
from models.session import AsyncSession
from tests.conftest import BBC, contract, gql
from tests.support import count_statements, insert_person

LATEST_ARTICLES = contract("latest-articles")
TOPIC_ARTICLES_WITH_COMMENTS = """
query ($first: Int!) {
  articles(first: $first) {
    nodes {
      slug section { name } authors { name } topics { name articles(first: 3) { totalCount } }
      body { __typename } people { role person { name articles(first: 2) { totalCount } } }
      commentCount
      comments(first: 3) {
        totalCount nodes { body replyCount replies(first: 2) { nodes { body } } }
      }
    }
  }
}
"""


@pytest.fixture
async def corpus(sessions: async_sessionmaker[AsyncSession], db: AsyncEngine) -> None:
    """60 BBC stories with topics, a person and threaded comments on every one."""
    lines = list(islice(BBC.read_text().splitlines(), 60))
    report = await import_lines(sessions, lines)
    assert report.errors == []
    async with db.begin() as conn:
        ids = (await conn.execute(sa.text("SELECT id FROM articles"))).scalars().all()
        person = await insert_person(conn, slug="tony-blair", name="Tony Blair", aliases=[])
        start = datetime(2005, 1, 1, tzinfo=UTC)
        for article_id in ids:
            await conn.execute(sa.insert(Mention).values(article_id=article_id, person_id=person))
            parent = (
                await conn.execute(
                    sa.insert(Comment)
                    .values(article_id=article_id, body="first", created_at=start)
                    .returning(Comment.id)
                )
            ).scalar_one()
            await conn.execute(
                sa.insert(Comment).values(
                    article_id=article_id,
                    parent_id=parent,
                    body="reply",
                    created_at=start + timedelta(minutes=1),
                )
            )


async def _pages_of_one_and_fifty(
    client: httpx.AsyncClient, db: AsyncEngine, document: str, size: str
) -> tuple[list[str], list[str]]:
    """The statements behind a page of one and behind a page of fifty (`size` is `first` or
    `last`)."""
    with count_statements(db) as small:
        one = await gql(client, document, {size: 1})
    with count_statements(db) as large:
        fifty = await gql(client, document, {size: 50})
    assert len(one["articles"]["nodes"]) == 1
    assert len(fifty["articles"]["nodes"]) == 50
    return small, large


@pytest.mark.parametrize("document", [LATEST_ARTICLES, TOPIC_ARTICLES_WITH_COMMENTS])
async def test_statement_count_does_not_grow_with_page_size(
    client: httpx.AsyncClient, db: AsyncEngine, corpus: None, document: str
) -> None:
    small, large = await _pages_of_one_and_fifty(client, db, document, "first")

    assert len(large) == len(small), "\n\n".join(large)


async def test_paging_backward_makes_as_many_statements_as_paging_forward(
    client: httpx.AsyncClient, db: AsyncEngine, corpus: None
) -> None:
    # Every connection in the document read from its end: `last` wherever it said `first`.
    backward = TOPIC_ARTICLES_WITH_COMMENTS.replace("first", "last")
    with count_statements(db) as forward:
        await gql(client, TOPIC_ARTICLES_WITH_COMMENTS, {"first": 50})
    small, large = await _pages_of_one_and_fifty(client, db, backward, "last")

    assert len(small) == len(large) == len(forward), "\n\n".join(large)
