"""Every connection pages both ways, as Relay's connection spec has it: `first`/`after` forward,
`last`/`before` backward, each page in the list's order, the same items either way."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from api.relay import MAX_PAGE_SIZE
from models import Mention, Person
from models.importer import import_lines
from models.session import AsyncSession
from tests.conftest import gql, gql_error, make_token

ARGUMENTS = "first: $first, after: $after, last: $last, before: $before"
SELECTION = """{
  totalCount
  pageInfo { hasPreviousPage hasNextPage startCursor endCursor }
  edges { cursor node { id } }
}"""
STORY = "story-0"


@dataclass(frozen=True)
class Listed:
    """A connection of the fixture's data: the document that pages it, where it sits in the
    answer, how many items it has, its default page size and who may read it."""

    document: str
    path: tuple[str | int, ...]
    size: int
    default: int
    role: str | None = None


def listed(
    around: str,
    field: str,
    path: tuple[str | int, ...],
    size: int,
    default: int,
    role: str | None = None,
    order: str = "",
) -> Listed:
    """`around` holds the connection as `PAGE`: `field`, with `order` before the paging
    arguments, aliased `c`."""
    page = f"c: {field}({order}{ARGUMENTS}) {SELECTION}"
    variables = "$first: Int, $after: String, $last: Int, $before: String"
    document = f"query ({variables}) {around.replace('PAGE', page)}"
    return Listed(document, (*path, "c"), size, default, role)


ON_STORY = f'{{ article(slug: "{STORY}") {{ PAGE }} }}'
CONNECTIONS = {
    "articles": listed("{ PAGE }", "articles", (), 7, 10),
    "articles oldest": listed("{ PAGE }", "articles", (), 7, 10, order="orderBy: OLDEST, "),
    "topic articles": listed('{ topic(slug: "paging") { PAGE } }', "articles", ("topic",), 7, 10),
    "person articles": listed(
        '{ person(slug: "person-0") { PAGE } }', "articles", ("person",), 7, 10
    ),
    "topics": listed("{ PAGE }", "topics", (), 8, 50),
    "people": listed("{ PAGE }", "people", (), 7, 50),
    "comments": listed(ON_STORY, "comments", ("article",), 7, 20),
    "comments newest": listed(ON_STORY, "comments", ("article",), 7, 20, order="order: NEWEST, "),
    "replies": listed(
        ON_STORY.replace("PAGE", "comments(first: 1) { nodes { PAGE } }"),
        "replies",
        ("article", "comments", "nodes", 0),
        7,
        5,
    ),
    "drafts": listed("{ PAGE }", "drafts", (), 6, 20, role="editor"),
    "moderation queue": listed("{ PAGE }", "moderationQueue", (), 6, 20, role="moderator"),
}


def _when(day: int, minute: int = 0) -> str:
    return (datetime(2024, 1, 1, 12, tzinfo=UTC) + timedelta(days=day, minutes=minute)).isoformat()


def _story(number: int, **changes: object) -> str:
    # Stories 3 and 4 share a publication time, drafts 2 and 3 an update time, comments 2 and 3
    # and replies 4 and 5 a time posted: the id must order them, both ways.
    record = {
        "slug": f"story-{number}",
        "title": f"Story {number}",
        "section": "news",
        "published_at": _when(3 if number == 4 else number),
        "topics": ["Paging", f"Topic {number}"],
        "body": [{"type": "paragraph", "text": f"Story number {number}."}],
        **changes,
    }
    return json.dumps(record)


def _comments() -> list[dict[str, object]]:
    threads = [
        {"id": f"c{n}", "body": f"Comment {n}", "created_at": _when(0, 2 if n == 3 else n)}
        for n in range(7)
    ]
    replies = [
        {
            "id": f"r{n}",
            "parent_id": "c0",
            "body": f"Reply {n}",
            "created_at": _when(1, 4 if n == 5 else n),
        }
        for n in range(7)
    ]
    pending = [
        {"id": f"p{n}", "body": f"Held {n}", "status": "pending", "created_at": _when(2, n)}
        for n in range(6)
    ]
    return threads + replies + pending


@pytest.fixture
async def paged(sessions: async_sessionmaker[AsyncSession], db: AsyncEngine) -> dict[str, dict]:
    """Seven stories on one topic (eight topics), seven people all in every story, seven
    comments with seven replies under the first and six held ones, six drafts; and the tokens
    that read the editors' and moderators' lists."""
    lines = [_story(0, comments=_comments()), *(_story(n) for n in range(1, 7))]
    lines += [
        _story(
            10 + n,
            status="draft",
            published_at=None,
            topics=[],
            updated_at=_when(2 if n == 3 else n),
        )
        for n in range(6)
    ]
    report = await import_lines(sessions, lines)
    assert report.errors == []
    async with db.begin() as conn:
        people = (
            await conn.execute(
                sa.insert(Person).returning(Person.id),
                [{"slug": f"person-{n}", "name": f"Person {n}", "aliases": []} for n in range(7)],
            )
        ).scalars()
        stories = (
            await conn.execute(sa.text("SELECT id FROM articles WHERE status = 'published'"))
        ).scalars()
        mentioned = [pk for pk in people]
        await conn.execute(
            sa.insert(Mention),
            [{"article_id": a, "person_id": p} for a in list(stories) for p in mentioned],
        )
    return {
        "editor": await make_token(db, "editor"),
        "moderator": await make_token(db, "moderator"),
    }


async def page(
    client: httpx.AsyncClient, spec: Listed, tokens: dict[str, dict], **arguments: object
) -> dict:
    data = await gql(client, spec.document, arguments, tokens[spec.role] if spec.role else None)
    for key in spec.path:
        data = data[key]
    return data


def ids(connection: dict) -> list[str]:
    return [edge["node"]["id"] for edge in connection["edges"]]


async def walk_forward(
    client: httpx.AsyncClient, spec: Listed, tokens: dict, size: int, after: str | None = None
) -> list[dict]:
    pages = [await page(client, spec, tokens, first=size, after=after)]
    while pages[-1]["pageInfo"]["hasNextPage"]:
        pages.append(
            await page(client, spec, tokens, first=size, after=pages[-1]["pageInfo"]["endCursor"])
        )
    return pages


async def walk_backward(
    client: httpx.AsyncClient, spec: Listed, tokens: dict, size: int, before: str | None = None
) -> list[dict]:
    pages = [await page(client, spec, tokens, last=size, before=before)]
    while pages[-1]["pageInfo"]["hasPreviousPage"]:
        start = pages[-1]["pageInfo"]["startCursor"]
        pages.append(await page(client, spec, tokens, last=size, before=start))
    return pages


def assert_page_info(connection: dict) -> None:
    edges, info = connection["edges"], connection["pageInfo"]
    assert info["startCursor"] == (edges[0]["cursor"] if edges else None)
    assert info["endCursor"] == (edges[-1]["cursor"] if edges else None)


@pytest.mark.parametrize("name", CONNECTIONS)
@pytest.mark.parametrize("size", [1, 3])
async def test_paging_back_from_the_end_reads_the_forward_pages_in_reverse(
    client: httpx.AsyncClient, paged: dict, name: str, size: int
) -> None:
    spec = CONNECTIONS[name]
    forward = await walk_forward(client, spec, paged, size)
    backward = await walk_backward(client, spec, paged, size)

    items = [item for p in forward for item in ids(p)]
    assert len(items) == len(set(items)) == spec.size == forward[0]["totalCount"]
    # Backward pages are the list cut from its end: with a page of one, the forward pages.
    expected = [items[max(0, end - size) : end] for end in range(len(items), 0, -size)]
    assert [ids(p) for p in backward] == expected
    if size == 1:
        assert [ids(p) for p in backward] == [ids(p) for p in reversed(forward)]
    for number, p in enumerate(forward):
        assert_page_info(p)
        assert p["pageInfo"]["hasNextPage"] is (number < len(forward) - 1)
        assert p["pageInfo"]["hasPreviousPage"] is False
    for number, p in enumerate(backward):
        assert_page_info(p)
        assert p["pageInfo"]["hasPreviousPage"] is (number < len(backward) - 1)
        assert p["pageInfo"]["hasNextPage"] is False
        assert p["totalCount"] == spec.size


async def _a_forward_cursor_reads_back_with_before(
    client: httpx.AsyncClient, paged: dict, spec: Any
) -> None:
    first, second = (await walk_forward(client, spec, paged, 2))[:2]

    back = await page(client, spec, paged, last=2, before=second["pageInfo"]["startCursor"])
    assert back["edges"] == first["edges"]
    assert back["pageInfo"]["hasPreviousPage"] is False
    assert back["pageInfo"]["startCursor"] == first["pageInfo"]["startCursor"]
    # Both cursors: the items strictly between them, from either end.
    around = {"after": first["edges"][0]["cursor"], "before": second["edges"][1]["cursor"]}
    between = [first["edges"][1], second["edges"][0]]
    assert (await page(client, spec, paged, first=5, **around))["edges"] == between
    assert (await page(client, spec, paged, last=5, **around))["edges"] == between
    assert (await page(client, spec, paged, last=1, **around))["pageInfo"]["hasPreviousPage"]


async def _empty_pages_have_no_cursors(client: httpx.AsyncClient, paged: dict, spec: Any) -> None:
    start = (await page(client, spec, paged, first=1))["pageInfo"]["startCursor"]

    none_before = await page(client, spec, paged, last=3, before=start)
    assert none_before["edges"] == []
    assert none_before["pageInfo"] == {
        "hasPreviousPage": False,
        "hasNextPage": False,
        "startCursor": None,
        "endCursor": None,
    }
    # An empty page still says whether items lie beyond it, in the direction asked.
    zero = await page(client, spec, paged, last=0)
    assert zero["edges"] == [] and zero["pageInfo"]["hasPreviousPage"] is True
    assert zero["pageInfo"]["startCursor"] is None and zero["pageInfo"]["endCursor"] is None


async def _the_default_page_is_read_forward(
    client: httpx.AsyncClient, paged: dict, spec: Any
) -> None:
    default = await page(client, spec, paged)
    # Relay clients send the direction they do not page in as null.
    assert await page(client, spec, paged, first=None, last=None) == default
    assert default == await page(client, spec, paged, first=spec.default)
    assert len(default["edges"]) == min(spec.default, spec.size)


# Arguments refused, the argument the error names, and words its message must hold.
REFUSED = [
    ({"first": 2, "last": 2}, "last", "not both"),
    ({"first": 0, "last": 0}, "last", "not both"),
    ({"last": -1}, "last", "-1"),
    ({"last": MAX_PAGE_SIZE + 1}, "last", str(MAX_PAGE_SIZE + 1)),
    ({"last": 2, "before": "not-a-cursor"}, "before", "not a cursor"),
]


async def _bad_backward_arguments_are_refused_naming_the_argument(
    client: httpx.AsyncClient, paged: dict, spec: Any
) -> None:
    headers = paged[spec.role] if spec.role else None
    for arguments, argument, says in REFUSED:
        error = await gql_error(client, spec.document, arguments, headers)

        assert error["extensions"]["code"] == "BAD_USER_INPUT", arguments
        assert error["extensions"]["argument"] == argument, arguments
        assert f'"{argument}"' in error["message"] and says in error["message"], arguments


@pytest.mark.parametrize("name", CONNECTIONS)
async def test_cursors_empty_pages_defaults_and_refusals_of_each_connection(
    client: httpx.AsyncClient, paged: dict, name: str
) -> None:
    # One test per connection for four checks: the data they read costs most of the time.
    spec = CONNECTIONS[name]
    await _a_forward_cursor_reads_back_with_before(client, paged, spec)
    await _empty_pages_have_no_cursors(client, paged, spec)
    await _the_default_page_is_read_forward(client, paged, spec)
    await _bad_backward_arguments_are_refused_naming_the_argument(client, paged, spec)


# Walks from any item to both ends, in pages of any size: every item once, none twice.
WALKS = st.tuples(
    st.sampled_from(sorted(CONNECTIONS)),
    st.integers(0, 7),
    st.lists(st.integers(1, 4), min_size=1, max_size=3),
    st.lists(st.integers(1, 4), min_size=1, max_size=3),
)


@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(walk=WALKS)
async def test_walks_both_ways_from_any_item_meet_every_item_once(
    client: httpx.AsyncClient, paged: dict, walk: tuple[str, int, list[int], list[int]]
) -> None:
    name, pivot, forward_sizes, backward_sizes = walk
    spec = CONNECTIONS[name]
    every = await page(client, spec, paged, first=spec.size)
    at = every["edges"][min(pivot, spec.size - 1)]

    seen = [at["node"]["id"]]
    cursor: str | None = at["cursor"]
    for number in range(spec.size + 1):
        size = forward_sizes[number % len(forward_sizes)]
        forward = await page(client, spec, paged, first=size, after=cursor)
        seen += ids(forward)
        cursor = forward["pageInfo"]["endCursor"]
        if not forward["pageInfo"]["hasNextPage"]:
            break
    before: list[str] = []
    cursor = at["cursor"]
    for number in range(spec.size + 1):
        size = backward_sizes[number % len(backward_sizes)]
        backward = await page(client, spec, paged, last=size, before=cursor)
        before = ids(backward) + before
        cursor = backward["pageInfo"]["startCursor"]
        if not backward["pageInfo"]["hasPreviousPage"]:
            break

    assert before + seen == ids(every)
