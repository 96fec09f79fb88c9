"""Linking extracted people across stories, storing mentions and quotes, editors' decisions."""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from api.services import SearchService
from models import Article, Mention, Person
from models.importer import import_lines
from models.mentions import pin_person, remove_person
from models.people_queue import PeopleWorker, count_pending
from models.session import AsyncSession
from tests.conftest import SAMPLE, SAMPLE_SLUG, contract, gql
from tests.support import SAMPLE_PEOPLE, story

SAMPLE_LINES = SAMPLE.read_text().splitlines()
ARTICLE_PAGE = contract("article-page")
PERSON_PAGE = contract("person-page")
SITE_SEARCH = contract("site-search")


@pytest.fixture
async def extracted(sessions: async_sessionmaker[AsyncSession], db: AsyncEngine) -> PeopleWorker:
    await import_lines(sessions, SAMPLE_LINES)
    worker = PeopleWorker(db)
    await worker.drain()
    return worker


async def people_of(engine: AsyncEngine, slug: str) -> dict[str, str | None]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(Person.slug, Mention.role)
            .join(Mention, Mention.person_id == Person.id)
            .join(Article, Article.id == Mention.article_id)
            .where(Article.slug == slug, Mention.suppressed.is_(False))
        )
        return dict(rows.all())


async def test_the_article_page_shows_the_five_people_with_roles(
    client: httpx.AsyncClient, extracted: PeopleWorker
) -> None:
    article = (await gql(client, ARTICLE_PAGE, {"slug": SAMPLE_SLUG}))["article"]

    assert [(p["person"]["name"], p["role"]) for p in article["people"]] == list(
        SAMPLE_PEOPLE.items()
    )
    assert article["people"][0]["person"]["slug"] == "dmitry-peskov"


async def test_the_person_page_shows_peskovs_quotes(
    client: httpx.AsyncClient, extracted: PeopleWorker
) -> None:
    person = (await gql(client, PERSON_PAGE, {"slug": "dmitry-peskov"}))["person"]

    assert person["name"] == "Dmitry Peskov"
    assert person["articles"]["nodes"][0]["slug"] == SAMPLE_SLUG
    assert len(person["quotes"]) == 2
    assert person["quotes"][0]["text"].startswith("once again highlight")
    assert person["quotes"][0]["article"]["slug"] == SAMPLE_SLUG


async def test_a_surname_in_another_story_links_to_the_same_person(
    sessions: async_sessionmaker[AsyncSession], db: AsyncEngine, extracted: PeopleWorker
) -> None:
    await import_lines(sessions, [story("later", "Putin said on Tuesday that talks would go on.")])
    await extracted.drain()

    assert await people_of(db, "later") == {"vladimir-putin": None}
    async with db.connect() as conn:
        putins = (
            await conn.execute(sa.select(sa.func.count()).where(Person.name.like("%Putin%")))
        ).scalar()
    assert putins == 1


async def test_an_ambiguous_surname_does_not_guess(
    sessions: async_sessionmaker[AsyncSession], db: AsyncEngine
) -> None:
    await import_lines(
        sessions,
        [
            story(
                "one", "Labour MP John Smith spoke first.", "Later Jane Smith, a Tory MP, answered."
            ),
            story("two", "Mr Smith said the vote would be close."),
        ],
    )
    await PeopleWorker(db).drain()

    assert set(await people_of(db, "one")) == {"john-smith", "jane-smith"}
    assert set(await people_of(db, "two")) == {"smith"}


async def test_editors_pins_and_removals_survive_re_extraction(
    sessions: async_sessionmaker[AsyncSession], db: AsyncEngine, extracted: PeopleWorker
) -> None:
    async with sessions.begin() as session:
        article = await session.scalar(sa.select(Article.id).where(Article.slug == SAMPLE_SLUG))
        ids = dict((await session.execute(sa.select(Person.slug, Person.id))).all())
        extra = Person(slug="annalena-baerbock", name="Annalena Baerbock", aliases=[])
        session.add(extra)
        await session.flush()
        await pin_person(session, article, extra.id, "Foreign Minister")
        await remove_person(session, article, ids["alexander-graf-lambsdorff"])
        await session.execute(sa.update(Article).values(people_hash=None))

    assert await count_pending(db) == 2
    await extracted.drain()

    people = await people_of(db, SAMPLE_SLUG)
    assert people["annalena-baerbock"] == "Foreign Minister"
    assert "alexander-graf-lambsdorff" not in people
    assert len(people) == 5


async def test_a_failed_extraction_keeps_the_story_and_is_retried(
    sessions: async_sessionmaker[AsyncSession], db: AsyncEngine
) -> None:
    await import_lines(sessions, SAMPLE_LINES[:1])
    worker = PeopleWorker(db)

    def broken(*_: object) -> None:
        raise RuntimeError("model crashed")

    worker.extractor.extract_many = broken  # type: ignore[method-assign]
    worker.extractor.extract = broken  # type: ignore[method-assign]
    assert await worker.run_once() == 1

    async with db.begin() as conn:
        row = (await conn.execute(sa.select(Article.__table__))).one()
        assert row.people_error == "RuntimeError: model crashed"
        assert row.people_attempts == 1 and row.people_retry_at is not None
        assert await count_pending(db) == 0, "it waits out its back-off"
        await conn.execute(sa.update(Article).values(people_retry_at=None))
    assert await PeopleWorker(db).drain() == 1
    assert len(await people_of(db, SAMPLE_SLUG)) == 5


async def test_search_finds_the_story_by_person_and_role(
    search_client: httpx.AsyncClient, extracted: PeopleWorker, search: SearchService
) -> None:
    await search.worker.drain()
    for query in ("Peskov", "Kremlin spokesman", "Pistorius"):
        result = (await gql(search_client, SITE_SEARCH, {"q": query}))["search"]
        assert result["hits"][0]["article"]["slug"] == SAMPLE_SLUG, query
    people = {f["value"]: f["count"] for f in result["facets"]["people"]}
    assert people["boris-pistorius"] == 1
    filtered = await gql(
        search_client, SITE_SEARCH, {"q": "", "filter": {"people": ["olaf-scholz"]}}
    )
    assert [h["article"]["slug"] for h in filtered["search"]["hits"]] == [SAMPLE_SLUG]
