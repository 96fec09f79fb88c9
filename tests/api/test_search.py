"""Site search, suggestions and related stories through GraphQL, on a real Meilisearch."""

from __future__ import annotations

import json
from itertools import islice

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from api.services import SearchService
from models.importer import import_lines
from models.people_queue import PeopleWorker
from models.session import AsyncSession
from search.client import SearchClient
from search.server import free_port
from search.worker import OutboxWorker
from tests.conftest import BBC, SAMPLE, SAMPLE_SLUG, contract, gql, gql_error, serve

SITE_SEARCH = contract("site-search")
SEARCH_SUGGEST = contract("search-suggest")
RELATED_WIDGET = contract("related-widget")
SAMPLE_LINES = SAMPLE.read_text().splitlines()


def story(**changes: object) -> str:
    record = json.loads(SAMPLE_LINES[1])
    record.update(changes)
    return json.dumps(record)


@pytest.fixture
async def indexed(sessions: async_sessionmaker[AsyncSession], search: SearchService) -> None:
    """The sample, 60 BBC stories and a draft, imported and drained into the index (more than
    six pages of hits: paging crosses several)."""
    lines = [*SAMPLE_LINES, *islice(BBC.read_text().splitlines(), 60)]
    lines.append(story(slug="secret-draft", status="draft", title="Pistorius zorblax draft plans"))
    report = await import_lines(sessions, lines)
    assert report.errors == []
    await search.worker.drain()


def slugs(result: dict) -> list[str]:
    return [hit["article"]["slug"] for hit in result["hits"]]


@pytest.mark.parametrize("typo", ["Pistorious", "Tauros", "pistorius taurus"])
async def test_search_with_a_typo_finds_the_sample(
    search_client: httpx.AsyncClient, indexed: None, typo: str
) -> None:
    result = (await gql(search_client, SITE_SEARCH, {"q": typo}))["search"]

    assert result["degraded"] is False
    assert slugs(result)[0] == SAMPLE_SLUG
    highlight = result["hits"][0]["highlight"]
    assert "<mark>" in highlight["snippet"]


async def test_highlights_are_escaped_html_with_marks(
    search_client: httpx.AsyncClient,
    sessions: async_sessionmaker[AsyncSession],
    search: SearchService,
) -> None:
    title = "Kremlin <script>alert(1)</script> & <img src=x onerror=boom>"
    await import_lines(sessions, [story(slug="xss", title=title)])
    await search.worker.drain()

    hit = (await gql(search_client, SITE_SEARCH, {"q": "kremlin"}))["search"]["hits"][0]

    assert hit["article"]["title"] == title, "the article itself keeps its text as written"
    assert hit["highlight"]["title"] == (
        "<mark>Kremlin</mark> &lt;script&gt;alert(1)&lt;/script&gt; &amp; "
        "&lt;img src=x onerror=boom&gt;"
    )


async def test_facets_count_topics_sections_and_years(
    search_client: httpx.AsyncClient, indexed: None
) -> None:
    result = (await gql(search_client, SITE_SEARCH, {"q": ""}))["search"]

    assert result["totalHits"] == 62
    sections = {f["value"]: f["count"] for f in result["facets"]["sections"]}
    assert sections["news"] == 2
    assert sum(sections.values()) == 62
    topics = {f["value"]: f["count"] for f in result["facets"]["topics"]}
    assert topics == {"war-in-ukraine": 2, "germany": 1, "crimea": 1, "kremlin": 1}
    years = {f["value"]: f["count"] for f in result["facets"]["years"]}
    assert years["2024"] == 2
    assert sum(years.values()) == 62


async def test_facet_labels_are_the_names_readers_see(
    search_client: httpx.AsyncClient, indexed: None
) -> None:
    query = """{ search(query: "Peskov") { facets {
        topics { value label } people { value label } sections { value label } years { value label }
    } } }"""
    facets = (await gql(search_client, query))["search"]["facets"]
    labels = {kind: {f["value"]: f["label"] for f in values} for kind, values in facets.items()}
    assert labels["topics"]["war-in-ukraine"] == "War in Ukraine"
    assert labels["sections"]["news"] == "News"
    assert labels["years"] == {"2024": "2024"}


async def test_a_topic_filter_narrows_the_hits(
    search_client: httpx.AsyncClient, indexed: None
) -> None:
    variables = {"q": "", "filter": {"topics": ["war-in-ukraine", "germany"]}}
    result = (await gql(search_client, SITE_SEARCH, variables))["search"]
    assert slugs(result) == [SAMPLE_SLUG]
    assert result["totalHits"] == 1


async def test_empty_query_lists_the_newest_stories(
    search_client: httpx.AsyncClient, indexed: None
) -> None:
    result = (await gql(search_client, SITE_SEARCH, {"q": "   "}))["search"]
    dates = [hit["article"]["publishedAt"] for hit in result["hits"]]
    assert dates == sorted(dates, reverse=True)
    assert slugs(result)[:2] == [
        SAMPLE_SLUG,
        "ukraine-jails-couple-for-helping-russia-strike-hospital",
    ]
    assert result["totalPages"] == 7


async def test_pages_walk_through_every_hit_without_a_cap(
    search_client: httpx.AsyncClient, indexed: None
) -> None:
    seen: list[str] = []
    for page in range(1, 8):
        result = (await gql(search_client, SITE_SEARCH, {"q": "", "page": page}))["search"]
        assert result["page"] == page
        seen += slugs(result)
    assert len(seen) == len(set(seen)) == 62


@pytest.mark.parametrize(
    "query",
    [
        'kremlin" OR id > 0',
        "section = news",
        "topic_slugs = war-in-ukraine OR 1=1",
        "Кремль",
        "'; DROP TABLE articles; --",
    ],
)
async def test_query_text_is_searched_as_text_never_as_a_filter(
    search_client: httpx.AsyncClient, indexed: None, query: str
) -> None:
    variables = {"q": query, "filter": {"section": "tech"}}
    result = (await gql(search_client, SITE_SEARCH, variables))["search"]
    assert all(hit["article"]["section"]["slug"] == "tech" for hit in result["hits"])
    assert result["degraded"] is False


async def test_filters_on_unknown_topics_find_nothing(
    search_client: httpx.AsyncClient, indexed: None
) -> None:
    variables = {"q": "", "filter": {"topics": ['nope" OR "x'], "people": ["nobody"]}}
    result = (await gql(search_client, SITE_SEARCH, variables))["search"]
    assert result["totalHits"] == 0 and result["hits"] == []


async def test_a_draft_is_never_found(search_client: httpx.AsyncClient, indexed: None) -> None:
    result = (await gql(search_client, SITE_SEARCH, {"q": "zorblax"}))["search"]
    assert "secret-draft" not in slugs(result)
    suggestions = (await gql(search_client, SEARCH_SUGGEST, {"prefix": "zorbl"}))["suggest"]
    assert suggestions["articles"] == []
    related = await gql(search_client, RELATED_WIDGET, {"slug": SAMPLE_SLUG, "limit": 20})
    assert "secret-draft" not in {a["slug"] for a in related["article"]["related"]}


@pytest.mark.parametrize(
    ("variables", "argument"),
    [({"q": "x", "page": 0}, "page"), ({"q": "x", "sort": "RELEVANCE", "page": -2}, "page")],
)
async def test_bad_paging_is_bad_input(
    search_client: httpx.AsyncClient, variables: dict, argument: str
) -> None:
    error = await gql_error(search_client, SITE_SEARCH, variables)
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert argument in error["message"]


async def test_more_than_fifty_hits_per_page_is_refused(search_client: httpx.AsyncClient) -> None:
    error = await gql_error(search_client, 'query { search(query: "x", hitsPerPage: 51) { page } }')
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "hitsPerPage" in error["message"]


async def test_suggest_matches_from_the_first_letter(
    search_client: httpx.AsyncClient, indexed: None
) -> None:
    suggestions = (await gql(search_client, SEARCH_SUGGEST, {"prefix": "K"}))["suggest"]
    assert SAMPLE_SLUG in {a["slug"] for a in suggestions["articles"]}
    assert {"slug": "kremlin", "name": "Kremlin"} in suggestions["topics"]
    assert len(suggestions["articles"]) <= 8


async def test_suggest_offers_stories_by_the_people_they_name_despite_a_typo(
    search_client: httpx.AsyncClient, indexed: None, db: AsyncEngine, search: SearchService
) -> None:
    """The sample's title does not name Boris Pistorius; the story does, and readers misspell."""
    await PeopleWorker(db, batch_size=1).run_once()  # the sample, imported first
    await search.worker.drain()
    suggestions = (await gql(search_client, SEARCH_SUGGEST, {"prefix": "Pistorious"}))["suggest"]
    assert SAMPLE_SLUG in {a["slug"] for a in suggestions["articles"]}


async def test_search_answers_from_sql_when_meilisearch_is_unreachable(
    client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await import_lines(sessions, SAMPLE_LINES)
    result = (await gql(client, SITE_SEARCH, {"q": "pistorius"}))["search"]

    assert result["degraded"] is True
    assert slugs(result) == [SAMPLE_SLUG]
    assert result["hits"][0]["highlight"]["title"].startswith("Kremlin")
    suggestions = (await gql(client, SEARCH_SUGGEST, {"prefix": "kre"}))["suggest"]
    assert [a["slug"] for a in suggestions["articles"]] == [SAMPLE_SLUG]
    related = (await gql(client, RELATED_WIDGET, {"slug": SAMPLE_SLUG}))["article"]["related"]
    assert related == []


async def test_search_and_suggest_answer_from_sql_when_meilisearch_stops_answering(
    db: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The app was given a search engine, and nothing listens where it is any more."""
    await import_lines(sessions, SAMPLE_LINES)
    gone = SearchClient(f"http://127.0.0.1:{free_port()}", "key", timeout=2)
    service = SearchService(client=gone, worker=OutboxWorker(db, gone))
    try:
        async with serve(db, service) as client:
            result = (await gql(client, SITE_SEARCH, {"q": "pistorius"}))["search"]
            suggestions = (await gql(client, SEARCH_SUGGEST, {"prefix": "kre"}))["suggest"]
    finally:
        await gone.aclose()

    assert result["degraded"] is True
    assert slugs(result) == [SAMPLE_SLUG]
    assert result["facets"]["topics"] == []
    assert [a["slug"] for a in suggestions["articles"]] == [SAMPLE_SLUG]
