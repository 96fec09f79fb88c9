"""Editors' mutations: roles enforced on the server, validation, revisions, people and topics."""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from api.services import SearchService
from models import Article, ArticleRevision, Mention, OutboxEntry, Person
from tests.conftest import contract, gql, gql_error, make_token, post
from tests.support import SAVE_DOCUMENT, article_input, save

ARTICLE_PAGE = contract("article-page")
DRAFTS = "{ drafts { totalCount nodes { slug status } } }"
REVISIONS = "query ($slug: String!) { revisions(slug: $slug) { number editor changes title } }"
RESTORE = """
mutation ($slug: String!, $number: Int!) {
  restoreRevision(slug: $slug, number: $number) {
    __typename ... on ArticleSaved { article { title } } ... on ValidationError { field message }
  }
}"""
DELETE = "mutation ($slug: String!) { deleteArticle(slug: $slug) { __typename } }"
RESTORE_ARTICLE = "mutation ($slug: String!) { restoreArticle(slug: $slug) { __typename } }"
UNPUBLISH = "mutation ($slug: String!) { unpublishArticle(slug: $slug) { __typename } }"
PERSON = """mutation ($name: String!, $aliases: [String!]) {
  createPerson(name: $name, aliases: $aliases) { __typename ... on PersonSaved { person { slug } } }
}"""
MERGE = """mutation ($from: String!, $into: String!) {
  mergePeople(from: $from, into: $into) {
    __typename ... on PersonSaved { person { slug name aliases articles { totalCount } } }
  }
}"""


async def count(engine: AsyncEngine, model: type) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(sa.select(sa.func.count()).select_from(model))).scalar_one()


async def test_an_editor_creates_a_draft_that_readers_cannot_see(
    client: httpx.AsyncClient, editor: dict, news_section: None
) -> None:
    saved = await save(client, editor)

    assert saved["__typename"] == "ArticleSaved"
    assert saved["article"]["status"] == "DRAFT"
    assert (await gql(client, ARTICLE_PAGE, {"slug": "new-story"}))["article"] is None
    as_editor = await gql(client, ARTICLE_PAGE, {"slug": "new-story"}, editor)
    assert as_editor["article"]["title"] == "A new story"
    assert [b["__typename"] for b in as_editor["article"]["body"]] == [
        "Paragraph",
        "Heading",
        "Paragraph",
    ]
    drafts = (await gql(client, DRAFTS, headers=editor))["drafts"]
    assert drafts == {"totalCount": 1, "nodes": [{"slug": "new-story", "status": "DRAFT"}]}


async def test_publishing_shows_the_story_to_readers(
    client: httpx.AsyncClient, editor: dict, news_section: None
) -> None:
    await save(client, editor)
    published = await gql(
        client, SAVE_DOCUMENT, {"slug": "new-story"}, editor, operationName="PublishArticle"
    )
    article = published["publishArticle"]["article"]
    assert article["status"] == "PUBLISHED" and article["publishedAt"]
    reader = await gql(client, ARTICLE_PAGE, {"slug": "new-story"})
    assert reader["article"]["topics"] == [{"slug": "elections", "name": "Elections"}]
    assert reader["article"]["authors"] == [{"name": "Ada Editor"}]

    await gql(client, UNPUBLISH, {"slug": "new-story"}, editor)
    assert (await gql(client, ARTICLE_PAGE, {"slug": "new-story"}))["article"] is None


async def test_publishing_an_unknown_story_is_not_found(
    client: httpx.AsyncClient, editor: dict
) -> None:
    data = await gql(
        client, SAVE_DOCUMENT, {"slug": "nope"}, editor, operationName="PublishArticle"
    )
    assert data["publishArticle"]["__typename"] == "NotFound"


@pytest.mark.parametrize(
    ("headers_for", "code"),
    [(None, "UNAUTHENTICATED"), ("moderator", "FORBIDDEN"), ("bogus", "UNAUTHENTICATED")],
)
async def test_editor_mutations_need_an_editor_token_and_write_nothing(
    client: httpx.AsyncClient,
    db: AsyncEngine,
    news_section: None,
    headers_for: str | None,
    code: str,
) -> None:
    headers = None
    if headers_for == "moderator":
        headers = await make_token(db, "moderator")
    elif headers_for == "bogus":
        headers = {"Authorization": "Bearer nr_not-a-real-token"}

    error = await gql_error(
        client, SAVE_DOCUMENT, {"input": article_input()}, headers, operationName="SaveArticle"
    )

    assert error["extensions"]["code"] == code
    assert await count(db, Article) == 0
    assert await count(db, OutboxEntry) == 0


async def test_a_revoked_token_is_refused(client: httpx.AsyncClient, db: AsyncEngine) -> None:
    from models.session import session_factory
    from models.token import revoke_token

    headers = await make_token(db, "editor", "leaving")
    async with session_factory(db).begin() as session:
        assert await revoke_token(session, "leaving")
    error = await gql_error(client, DRAFTS, headers=headers)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": "   "}, "title"),
        ({"slug": "Not A Slug"}, "slug"),
        ({"slug": "trailing-"}, "slug"),
        ({"section": "nowhere"}, "section"),
        ({"body": []}, "body"),
        ({"body": [{"type": "PARAGRAPH", "text": "  "}]}, "body"),
    ],
)
async def test_invalid_input_is_a_validation_error_and_writes_nothing(
    client: httpx.AsyncClient,
    db: AsyncEngine,
    editor: dict,
    news_section: None,
    changes: dict,
    field: str,
) -> None:
    result = await save(client, editor, **changes)

    assert result["__typename"] == "ValidationError"
    assert result["field"] == field
    assert result["message"]
    assert await count(db, Article) == 0
    assert await count(db, ArticleRevision) == 0


async def test_markup_in_text_is_stored_and_returned_as_plain_text(
    client: httpx.AsyncClient, editor: dict, news_section: None
) -> None:
    title = "<script>alert('x')</script> & <img src=x onerror=alert(1)>"
    body = "'; DROP TABLE articles; -- <b>bold</b>"
    await save(client, editor, title=title, body=[{"type": "PARAGRAPH", "text": body}])
    page = (await gql(client, ARTICLE_PAGE, {"slug": "new-story"}, editor))["article"]
    assert page["title"] == title
    assert page["body"][0]["text"] == body


async def test_every_save_keeps_a_revision_that_can_be_restored(
    client: httpx.AsyncClient, editor: dict, news_section: None
) -> None:
    await save(client, editor)
    await save(client, editor, title="A changed headline")
    revisions = (await gql(client, REVISIONS, {"slug": "new-story"}, editor))["revisions"]
    assert [(r["number"], r["title"]) for r in revisions] == [
        (2, "A changed headline"),
        (1, "A new story"),
    ]
    assert revisions[0]["changes"] == ["title"]
    assert revisions[0]["editor"].startswith("editor-")

    restored = await gql(client, RESTORE, {"slug": "new-story", "number": 1}, editor)

    assert restored["restoreRevision"]["article"]["title"] == "A new story"
    after = (await gql(client, REVISIONS, {"slug": "new-story"}, editor))["revisions"]
    assert after[0]["number"] == 3 and after[0]["changes"] == ["title"]
    missing = await gql(client, RESTORE, {"slug": "new-story", "number": 9}, editor)
    assert missing["restoreRevision"]["field"] == "number"


async def test_a_deleted_story_disappears_and_can_be_restored(
    client: httpx.AsyncClient, editor: dict, news_section: None
) -> None:
    await save(client, editor)
    await gql(client, SAVE_DOCUMENT, {"slug": "new-story"}, editor, operationName="PublishArticle")

    await gql(client, DELETE, {"slug": "new-story"}, editor)
    assert (await gql(client, ARTICLE_PAGE, {"slug": "new-story"}))["article"] is None
    assert (await gql(client, ARTICLE_PAGE, {"slug": "new-story"}, editor))["article"] is None

    await gql(client, RESTORE_ARTICLE, {"slug": "new-story"}, editor)
    assert (await gql(client, ARTICLE_PAGE, {"slug": "new-story"}))["article"]["title"]


async def test_merging_people_moves_every_mention(
    client: httpx.AsyncClient, editor: dict, db: AsyncEngine, sample: None
) -> None:
    await gql(client, PERSON, {"name": "Vladimir Putin"}, editor)
    await gql(client, PERSON, {"name": "Putin", "aliases": ["V. Putin"]}, editor)
    async with db.begin() as conn:
        ids = dict((await conn.execute(sa.select(Person.slug, Person.id))).all())
        await conn.execute(
            sa.insert(Mention).values(
                [
                    {"article_id": 1, "person_id": ids["putin"], "mention_count": 2},
                    {"article_id": 2, "person_id": ids["putin"], "mention_count": 1},
                    {"article_id": 1, "person_id": ids["vladimir-putin"], "mention_count": 1},
                ]
            )
        )

    merged = await gql(client, MERGE, {"from": "putin", "into": "vladimir-putin"}, editor)

    person = merged["mergePeople"]["person"]
    assert person["slug"] == "vladimir-putin"
    assert set(person["aliases"]) == {"Putin", "V. Putin"}
    assert person["articles"]["totalCount"] == 2
    async with db.connect() as conn:
        counts = dict(
            (await conn.execute(sa.select(Mention.article_id, Mention.mention_count))).all()
        )
        assert (await conn.execute(sa.select(sa.func.count()).select_from(Person))).scalar() == 1
    assert counts == {1: 3, 2: 1}


async def test_moderators_cannot_edit_people(client: httpx.AsyncClient, moderator: dict) -> None:
    body = await post(client, PERSON, {"name": "Someone"}, moderator)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


TOPIC = """mutation ($name: String!) {
  createTopic(name: $name) {
    __typename ... on TopicSaved { topic { slug name } } ... on ValidationError { field }
  }
}"""
RENAME_TOPIC = """mutation ($slug: String!, $name: String!) {
  renameTopic(slug: $slug, name: $name) { __typename ... on TopicSaved { topic { slug name } } }
}"""
SECTION = """mutation ($name: String!) {
  createSection(name: $name) {
    __typename ... on SectionSaved { slug name } ... on ValidationError { field }
  }
}"""
RENAME_PERSON = """mutation ($slug: String!, $name: String!) {
  renamePerson(slug: $slug, name: $name) { ... on PersonSaved { person { slug name aliases } } }
}"""
ALIAS = """mutation ($slug: String!, $alias: String!) {
  addPersonAlias(slug: $slug, alias: $alias) { ... on PersonSaved { person { aliases } } }
}"""


async def test_editors_manage_sections_topics_and_people(
    client: httpx.AsyncClient, editor: dict
) -> None:
    assert (await gql(client, SECTION, {"name": "World News"}, editor))["createSection"] == {
        "__typename": "SectionSaved",
        "slug": "world-news",
        "name": "World News",
    }
    again = (await gql(client, SECTION, {"name": "world news"}, editor))["createSection"]
    assert again == {"__typename": "ValidationError", "field": "name"}
    created = (await gql(client, TOPIC, {"name": "Climate"}, editor))["createTopic"]
    assert created["topic"] == {"slug": "climate", "name": "Climate"}
    renamed = await gql(client, RENAME_TOPIC, {"slug": "climate", "name": "Climate crisis"}, editor)
    assert renamed["renameTopic"]["topic"] == {"slug": "climate", "name": "Climate crisis"}
    missing = await gql(client, RENAME_TOPIC, {"slug": "nope", "name": "X"}, editor)
    assert missing["renameTopic"]["__typename"] == "NotFound"

    await gql(client, PERSON, {"name": "Olaf Scholz"}, editor)
    alias = await gql(client, ALIAS, {"slug": "olaf-scholz", "alias": "Scholz"}, editor)
    assert alias["addPersonAlias"]["person"]["aliases"] == ["Scholz"]
    person = await gql(
        client, RENAME_PERSON, {"slug": "olaf-scholz", "name": "Chancellor Scholz"}, editor
    )
    assert person["renamePerson"]["person"] == {
        "slug": "olaf-scholz",
        "name": "Chancellor Scholz",
        "aliases": ["Scholz", "Olaf Scholz"],
    }


async def test_a_renamed_topic_is_found_in_search_under_its_new_name(
    search_client: httpx.AsyncClient, editor: dict, sample: None, search: SearchService
) -> None:
    await search.worker.drain()
    await gql(search_client, RENAME_TOPIC, {"slug": "crimea", "name": "Krym peninsula"}, editor)
    await search.worker.drain()

    result = await gql(search_client, contract("site-search"), {"q": "krym"})

    hits = result["search"]["hits"]
    assert [h["article"]["slug"] for h in hits] == [
        "kremlin-says-leaked-german-officers-call-proves-west-involved-in-ukraine"
    ]
