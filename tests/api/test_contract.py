"""The contract documents run unchanged and show the sample story as the newsroom published it."""

from __future__ import annotations

import json

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from models import Mention
from tests.conftest import SAMPLE, SAMPLE_SLUG, contract, gql
from tests.support import insert_person

ARTICLE_PAGE = contract("article-page")
COMMENTS_THREAD = contract("comments-thread")
LATEST_ARTICLES = contract("latest-articles")
TOPIC_PAGE = contract("topic-page")
PERSON_PAGE = contract("person-page")
RELATED_WIDGET = contract("related-widget")


async def test_article_page_shows_the_sample_story(client: httpx.AsyncClient, sample: None) -> None:
    article = (await gql(client, ARTICLE_PAGE, {"slug": SAMPLE_SLUG}))["article"]

    assert article["title"] == (
        "Kremlin Says Leaked German Officers' Call Proves West Is Involved in Ukraine"
    )
    assert article["dek"].startswith("A 38-minute recording of Bundeswehr officers")
    assert article["section"] == {"slug": "news", "name": "News"}
    assert article["publishedAt"] == "2024-03-04T12:00:00+00:00"
    assert article["authors"] == [{"name": "AFP"}]
    assert [t["slug"] for t in article["topics"]] == [
        "war-in-ukraine",
        "germany",
        "crimea",
        "kremlin",
    ]
    assert [t["name"] for t in article["topics"]] == [
        "War in Ukraine",
        "Germany",
        "Crimea",
        "Kremlin",
    ]
    headings = [b["text"] for b in article["body"] if b["__typename"] == "Heading"]
    assert headings == ["Plans to strike", "Information war"]
    published = json.loads(SAMPLE.read_text().splitlines()[0])["body"]
    assert article["body"] == [
        {"__typename": block["type"].title(), "text": block["text"]} for block in published
    ]
    assert article["commentCount"] == 5
    # This app runs without the extraction worker and the search engine: both are truly empty
    # (tests/models/test_people.py and tests/api/test_search.py fill them).
    assert article["people"] == []
    assert article["related"] == []


async def test_comments_thread_lists_the_five_spoiler_comments_oldest_first(
    client: httpx.AsyncClient, sample: None
) -> None:
    article = (await gql(client, COMMENTS_THREAD, {"slug": SAMPLE_SLUG}))["article"]

    comments = article["comments"]
    assert article["commentCount"] == 5
    assert comments["totalCount"] == 5
    assert comments["pageInfo"]["hasNextPage"] is False
    nodes = comments["nodes"]
    assert [c["authorName"] for c in nodes] == [
        None,
        None,
        "Rheinhardt Wilheim",
        "Rheinhardt Wilheim",
        "Mark Rockford",
    ]
    assert all(c["isSpoiler"] for c in nodes)
    assert nodes[1]["body"] == "the problem with the West is that it is too little involved!"
    assert "\n" in nodes[0]["body"], "line breaks are kept as written"
    assert [c["createdAt"] for c in nodes] == sorted(c["createdAt"] for c in nodes)
    assert all(c["replyCount"] == 0 and c["replies"]["nodes"] == [] for c in nodes)


async def test_comments_thread_pages_with_cursors(client: httpx.AsyncClient, sample: None) -> None:
    first = (await gql(client, COMMENTS_THREAD, {"slug": SAMPLE_SLUG, "first": 2}))["article"]
    page = first["comments"]
    assert page["pageInfo"]["hasNextPage"] is True
    seen = [c["id"] for c in page["nodes"]]
    while page["pageInfo"]["hasNextPage"]:
        variables = {"slug": SAMPLE_SLUG, "first": 2, "after": page["pageInfo"]["endCursor"]}
        page = (await gql(client, COMMENTS_THREAD, variables))["article"]["comments"]
        seen += [c["id"] for c in page["nodes"]]
    assert len(seen) == len(set(seen)) == 5


async def test_latest_articles_lists_newest_first(client: httpx.AsyncClient, sample: None) -> None:
    articles = (await gql(client, LATEST_ARTICLES))["articles"]

    assert articles["totalCount"] == 2
    assert [a["slug"] for a in articles["nodes"]] == [
        SAMPLE_SLUG,
        "ukraine-jails-couple-for-helping-russia-strike-hospital",
    ]
    assert articles["nodes"][0]["commentCount"] == 5
    assert articles["nodes"][0]["section"] == {"slug": "news"}
    assert articles["pageInfo"]["hasNextPage"] is False


async def test_latest_articles_filters_by_topic(client: httpx.AsyncClient, sample: None) -> None:
    variables = {"filter": {"topics": ["war-in-ukraine", "kremlin"]}}
    articles = (await gql(client, LATEST_ARTICLES, variables))["articles"]
    assert [a["slug"] for a in articles["nodes"]] == [SAMPLE_SLUG]
    assert articles["totalCount"] == 1


async def test_topic_page_pages_through_the_topic(client: httpx.AsyncClient, sample: None) -> None:
    topic = (await gql(client, TOPIC_PAGE, {"slug": "war-in-ukraine", "first": 1}))["topic"]

    assert topic["name"] == "War in Ukraine"
    articles = topic["articles"]
    assert articles["totalCount"] == 2
    assert articles["edges"][0]["node"]["slug"] == SAMPLE_SLUG
    assert articles["pageInfo"]["endCursor"] == articles["edges"][0]["cursor"]
    variables = {"slug": "war-in-ukraine", "first": 1, "after": articles["pageInfo"]["endCursor"]}
    second = (await gql(client, TOPIC_PAGE, variables))["topic"]["articles"]
    assert [e["node"]["slug"] for e in second["edges"]] == [
        "ukraine-jails-couple-for-helping-russia-strike-hospital"
    ]
    assert second["pageInfo"]["hasNextPage"] is False


async def test_person_page_shows_a_person_and_their_stories(
    client: httpx.AsyncClient, sample: None, db: AsyncEngine
) -> None:
    async with db.begin() as conn:
        person_id = await insert_person(
            conn, slug="dmitry-peskov", name="Dmitry Peskov", aliases=["Peskov"]
        )
        await conn.execute(
            sa.insert(Mention).values(
                article_id=1, person_id=person_id, role="Kremlin spokesman", mention_count=2
            )
        )

    person = (await gql(client, PERSON_PAGE, {"slug": "dmitry-peskov"}))["person"]

    assert person["name"] == "Dmitry Peskov"
    assert person["aliases"] == ["Peskov"]
    assert person["articles"]["totalCount"] == 1
    assert person["articles"]["nodes"][0]["slug"] == SAMPLE_SLUG
    assert person["quotes"] == []
    page = (await gql(client, ARTICLE_PAGE, {"slug": SAMPLE_SLUG}))["article"]
    assert page["people"] == [
        {
            "mentionCount": 2,
            "role": "Kremlin spokesman",
            "person": {"slug": "dmitry-peskov", "name": "Dmitry Peskov"},
        }
    ]


async def test_unknown_slugs_answer_null(client: httpx.AsyncClient, sample: None) -> None:
    assert (await gql(client, ARTICLE_PAGE, {"slug": "no-such-story"}))["article"] is None
    assert (await gql(client, TOPIC_PAGE, {"slug": "no-such-topic"}))["topic"] is None
    assert (await gql(client, PERSON_PAGE, {"slug": "no-such-person"}))["person"] is None
    assert (await gql(client, RELATED_WIDGET, {"slug": "no-such-story"}))["article"] is None
