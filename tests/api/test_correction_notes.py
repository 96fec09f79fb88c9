"""Published correction notes: editors add them (or resolve a reader's suggestion with one),
readers see them dated under the story, and the story counts as updated everywhere."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import feedparser
import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from api.settings import Settings
from models import Article, CorrectionNote
from tests.conftest import gql, gql_error, serve
from tests.support import saved_story

BASE = "https://news.example.com"
ADD = """mutation ($slug: String!, $text: String!) {
  addCorrectionNote(slug: $slug, text: $text) {
    __typename
    ... on CorrectionNoteAdded { note { text createdAt } }
    ... on ValidationError { field message }
    ... on NotFound { message }
  }
}"""
STORY = (
    "query ($slug: String!) { article(slug: $slug) { updatedAt corrections { text createdAt } } }"
)
SUGGEST = """mutation ($slug: String!) {
  suggestCorrection(input: {articleSlug: $slug, quote: "First paragraph", message: "Wrong"}) {
    __typename ... on CorrectionReceived { id }
  }
}"""
RESOLVE = """mutation ($id: ID!, $note: String) {
  resolveCorrection(id: $id, note: $note) {
    __typename
    ... on CorrectionResolved { correction { open } }
    ... on ValidationError { field message }
  }
}"""
OPEN = "query ($slug: String!) { corrections(articleSlug: $slug) { id } }"
HOSTILE = 'Amended to remove <script>alert("x")</script> & a wrong figure.'


@pytest.fixture
async def site(db: AsyncEngine, news_section: None) -> AsyncIterator[httpx.AsyncClient]:
    """With PUBLIC_BASE_URL and the result cache, as in production."""
    async with serve(db, settings=Settings(public_base_url=BASE + "/")) as client:
        yield client


async def add(client: httpx.AsyncClient, editor: dict, slug: str, text: str) -> dict:
    return (await gql(client, ADD, {"slug": slug, "text": text}, editor))["addCorrectionNote"]


async def notes(db: AsyncEngine) -> int:
    async with db.connect() as conn:
        return await conn.scalar(sa.select(sa.func.count()).select_from(CorrectionNote)) or 0


async def test_a_note_is_dated_under_the_story_and_the_story_counts_as_updated(
    site: httpx.AsyncClient, editor: dict, db: AsyncEngine
) -> None:
    await saved_story(site, editor, "budget")
    async with db.begin() as conn:  # last changed yesterday, before anything was read
        await conn.execute(
            sa.update(Article).values(updated_at=datetime.now(UTC) - timedelta(days=1))
        )
    before = (await gql(site, STORY, {"slug": "budget"}))["article"]
    feed_before = feedparser.parse((await site.get("/feeds/latest.atom")).content)
    page_before = await site.get("/articles/budget")
    assert "Corrections" not in page_before.text

    added = await add(site, editor, "budget", f"  {HOSTILE}  ")
    assert added["__typename"] == "CorrectionNoteAdded"
    assert added["note"]["text"] == HOSTILE

    after = (await gql(site, STORY, {"slug": "budget"}))["article"]
    assert after["corrections"] == [added["note"]]
    assert after["updatedAt"] > before["updatedAt"]
    assert after["updatedAt"] == added["note"]["createdAt"]

    page = (await site.get("/articles/budget")).text
    section = page[page.index('id="corrections-heading"') :]
    assert (
        "Amended to remove &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; a wrong" in section
    )
    assert "<script>alert" not in page
    ld = [
        json.loads(block)
        for block in re.findall(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    ]
    news = next(
        item
        for block in ld
        for item in block.get("@graph", [block])
        if item["@type"] == "NewsArticle"
    )
    assert news["correction"] == [
        {"@type": "CorrectionComment", "text": HOSTILE, "datePublished": added["note"]["createdAt"]}
    ]
    assert news["dateModified"] == after["updatedAt"]

    # Feed readers hear of it as an update of the same entry.
    feed = feedparser.parse((await site.get("/feeds/latest.atom")).content)
    assert feed.entries[0].id == feed_before.entries[0].id
    assert feed.entries[0].updated_parsed > feed_before.entries[0].updated_parsed


async def test_resolving_a_suggestion_with_a_note_publishes_it(
    site: httpx.AsyncClient, editor: dict, db: AsyncEngine
) -> None:
    await saved_story(site, editor, "budget")
    suggestion = (await gql(site, SUGGEST, {"slug": "budget"}))["suggestCorrection"]["id"]

    refused = (await gql(site, RESOLVE, {"id": suggestion, "note": "  "}, editor))[
        "resolveCorrection"
    ]
    assert refused == {
        "__typename": "ValidationError",
        "field": "note",
        "message": "write what was corrected",
    }
    # Nothing changed: still open, no note.
    assert len((await gql(site, OPEN, {"slug": "budget"}, editor))["corrections"]) == 1
    assert await notes(db) == 0

    text = "This article was amended on 5 March 2024 to correct the first paragraph."
    resolved = await gql(site, RESOLVE, {"id": suggestion, "note": text}, editor)
    assert resolved["resolveCorrection"] == {
        "__typename": "CorrectionResolved",
        "correction": {"open": False},
    }
    story = (await gql(site, STORY, {"slug": "budget"}))["article"]
    assert [note["text"] for note in story["corrections"]] == [text]


@pytest.mark.parametrize(
    ("slug", "text", "field", "message"),
    [
        ("budget", " \n ", "text", "write what was corrected"),
        ("budget", "x" * 2_001, "text", "a note is at most 2,000 characters"),
        ("draft", "Amended.", "slug", "the story was never published"),
    ],
)
async def test_bad_notes_are_refused_and_change_nothing(
    site: httpx.AsyncClient,
    editor: dict,
    db: AsyncEngine,
    slug: str,
    text: str,
    field: str,
    message: str,
) -> None:
    await saved_story(site, editor, "budget")
    await saved_story(site, editor, "draft", publish=False)
    before = (await gql(site, STORY, {"slug": "budget"}))["article"]
    refused = await add(site, editor, slug, text)
    assert refused["__typename"] == "ValidationError"
    assert refused["field"] == field and refused["message"].startswith(message)
    assert await notes(db) == 0
    assert (await gql(site, STORY, {"slug": "budget"}))["article"] == before


async def test_notes_need_an_editor_and_a_story(site: httpx.AsyncClient, editor: dict) -> None:
    await saved_story(site, editor, "budget")
    error = await gql_error(site, ADD, {"slug": "budget", "text": "Amended."})
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    missing = await add(site, editor, "no-such-story", "Amended.")
    assert missing == {"__typename": "NotFound", "message": "no story 'no-such-story'"}
