"""Readers' comments: screening, threads, reports, moderation and rate limits."""

from __future__ import annotations

import json

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.conftest import SAMPLE, SAMPLE_SLUG, contract, gql, post, serve

POST_COMMENT = contract("post-comment")
COMMENTS_THREAD = contract("comments-thread")
SUGGEST_CORRECTION = contract("suggest-correction")
SAMPLE_COMMENTS = json.loads(SAMPLE.read_text().splitlines()[0])["comments"]
QUEUE = "{ moderationQueue { totalCount nodes { id body status } } }"
APPROVE = """mutation ($id: ID!) {
  approveComment(id: $id) { __typename ... on CommentModerated { comment { status } } }
}"""
REJECT = "mutation ($id: ID!) { rejectComment(id: $id) { __typename } }"
REPORT = "mutation ($id: ID!) { reportComment(id: $id) { __typename } }"
CLOSE = "mutation ($slug: String!) { closeComments(articleSlug: $slug) { __typename } }"
CORRECTIONS = (
    """query ($slug: String!) { corrections(articleSlug: $slug) { id quote message open } }"""
)
RESOLVE = "mutation ($id: ID!) { resolveCorrection(id: $id) { __typename } }"


def comment(body: str = "Good piece.", **changes: object) -> dict:
    return {"input": {"articleSlug": SAMPLE_SLUG, "authorName": "Reader", "body": body, **changes}}


async def post_comment(client: httpx.AsyncClient, variables: dict, **headers: str) -> dict:
    return (await gql(client, POST_COMMENT, variables, headers or None))["postComment"]


async def test_the_third_sample_comment_waits_for_moderation(
    client: httpx.AsyncClient, sample: None
) -> None:
    third = SAMPLE_COMMENTS[2]
    result = await post_comment(client, comment(third["body"], authorName=third["author_name"]))

    assert result["__typename"] == "CommentPosted"
    assert result["comment"]["status"] == "PENDING"
    assert result["comment"]["body"] == third["body"]
    thread = (await gql(client, COMMENTS_THREAD, {"slug": SAMPLE_SLUG}))["article"]
    assert thread["commentCount"] == 5, "a held comment is not shown or counted"


async def test_a_civil_comment_is_published_as_written(
    client: httpx.AsyncClient, sample: None
) -> None:
    body = "  <b>Not bold</b> & <script>alert(1)</script>\nSecond line  "
    result = await post_comment(client, comment(body, isSpoiler=True))

    assert result["comment"] == {
        "id": result["comment"]["id"],
        "status": "PUBLISHED",
        "authorName": "Reader",
        "body": body,
        "isSpoiler": True,
    }
    thread = (await gql(client, COMMENTS_THREAD, {"slug": SAMPLE_SLUG}))["article"]
    assert thread["comments"]["nodes"][-1]["body"] == body


async def test_link_spam_waits_for_moderation(client: httpx.AsyncClient, sample: None) -> None:
    spam = "Cheap pills at http://spam.example/a and www.pills.example and http://x.example"
    assert (await post_comment(client, comment(spam)))["comment"]["status"] == "PENDING"


async def test_replies_join_the_thread_of_their_parent(
    client: httpx.AsyncClient, sample: None
) -> None:
    thread = (await gql(client, COMMENTS_THREAD, {"slug": SAMPLE_SLUG}))["article"]
    parent = thread["comments"]["nodes"][1]["id"]
    reply = await post_comment(client, comment("I agree.", parentId=parent))
    nested = await post_comment(client, comment("Me too.", parentId=reply["comment"]["id"]))
    assert nested["__typename"] == "CommentPosted"

    thread = (await gql(client, COMMENTS_THREAD, {"slug": SAMPLE_SLUG}))["article"]
    node = thread["comments"]["nodes"][1]
    assert node["replyCount"] == 2
    assert [r["body"] for r in node["replies"]["nodes"]] == ["I agree.", "Me too."]
    assert thread["comments"]["totalCount"] == 5 and thread["commentCount"] == 7


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        (comment("   "), "body"),
        (comment("x" * 5001), "body"),
        (comment(articleSlug="no-such-story"), "articleSlug"),
        (comment(parentId="Q29tbWVudDo5OTk5"), "parentId"),
        (comment(parentId="QXJ0aWNsZTox"), "parentId"),
    ],
)
async def test_bad_comments_are_refused_with_the_field(
    client: httpx.AsyncClient, sample: None, variables: dict, field: str
) -> None:
    result = await post_comment(client, variables)
    assert result == {"__typename": "ValidationError", "field": field, "message": result["message"]}
    thread = (await gql(client, COMMENTS_THREAD, {"slug": SAMPLE_SLUG}))["article"]
    assert thread["commentCount"] == 5


async def test_a_reply_to_another_storys_comment_is_refused(
    client: httpx.AsyncClient, sample: None
) -> None:
    thread = (await gql(client, COMMENTS_THREAD, {"slug": SAMPLE_SLUG}))["article"]
    other = comment(
        "Wrong thread",
        articleSlug="ukraine-jails-couple-for-helping-russia-strike-hospital",
        parentId=thread["comments"]["nodes"][0]["id"],
    )
    assert (await post_comment(client, other))["field"] == "parentId"


async def test_comments_on_drafts_and_closed_stories_are_refused(
    client: httpx.AsyncClient, sample: None, moderator: dict, db: AsyncEngine
) -> None:
    await gql(client, CLOSE, {"slug": SAMPLE_SLUG}, moderator)
    assert (await post_comment(client, comment()))["message"] == "comments on this story are closed"
    async with db.begin() as conn:
        await conn.execute(sa.text("UPDATE articles SET status = 'draft'"))
    other = comment(articleSlug="ukraine-jails-couple-for-helping-russia-strike-hospital")
    assert (await post_comment(client, other))["field"] == "articleSlug"


async def test_moderators_approve_and_reject_the_queue(
    client: httpx.AsyncClient, sample: None, moderator: dict
) -> None:
    spam = "Deals: http://a.example http://b.example http://c.example"
    held = [
        (await post_comment(client, comment(body)))["comment"]["id"]
        for body in (SAMPLE_COMMENTS[2]["body"], spam)
    ]
    queue = (await gql(client, QUEUE, headers=moderator))["moderationQueue"]
    assert [n["id"] for n in queue["nodes"]] == held
    assert {n["status"] for n in queue["nodes"]} == {"PENDING"}

    approved = await gql(client, APPROVE, {"id": held[0]}, moderator)
    assert approved["approveComment"]["comment"]["status"] == "PUBLISHED"
    await gql(client, REJECT, {"id": held[1]}, moderator)

    assert (await gql(client, QUEUE, headers=moderator))["moderationQueue"]["totalCount"] == 0
    thread = (await gql(client, COMMENTS_THREAD, {"slug": SAMPLE_SLUG}))["article"]
    assert thread["commentCount"] == 6


async def test_readers_cannot_moderate(client: httpx.AsyncClient, sample: None) -> None:
    body = await post(client, QUEUE)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_enough_reports_hide_a_comment(db: AsyncEngine, sample: None) -> None:
    async with serve(db, None) as client:
        thread = (await gql(client, COMMENTS_THREAD, {"slug": SAMPLE_SLUG}))["article"]
        target = thread["comments"]["nodes"][0]["id"]
        for _ in range(3):  # one reader reporting three times counts once
            assert (await gql(client, REPORT, {"id": target}))["reportComment"][
                "__typename"
            ] == "CommentReported"
        still = (await gql(client, COMMENTS_THREAD, {"slug": SAMPLE_SLUG}))["article"]
        assert still["commentCount"] == 5
    async with db.begin() as conn:
        await conn.execute(
            sa.text(
                "INSERT INTO comment_reports (comment_id, reporter, created_at) "
                "VALUES (1, 'a', '2024-03-05 00:00:00'), (1, 'b', '2024-03-05 00:00:00')"
            )
        )
    async with serve(db, None) as client:
        await gql(client, REPORT, {"id": target})
        hidden = (await gql(client, COMMENTS_THREAD, {"slug": SAMPLE_SLUG}))["article"]
        assert hidden["commentCount"] == 4


async def test_posting_too_fast_is_rate_limited(client: httpx.AsyncClient, sample: None) -> None:
    results = [await post_comment(client, comment(f"Comment {n}")) for n in range(6)]
    assert [r["__typename"] for r in results[:5]] == ["CommentPosted"] * 5
    assert results[5]["__typename"] == "RateLimited"
    assert 1 <= results[5]["retryAfterSeconds"] <= 60


async def test_a_correction_must_quote_the_story(
    client: httpx.AsyncClient, sample: None, editor: dict
) -> None:
    quote = "Ambassador Alexander Graf Lambsdorff left the ministry building"
    received = await gql(
        client,
        SUGGEST_CORRECTION,
        {"input": {"articleSlug": SAMPLE_SLUG, "quote": quote, "message": "He is called Graf"}},
    )
    assert received["suggestCorrection"]["__typename"] == "CorrectionReceived"
    refused = await gql(
        client,
        SUGGEST_CORRECTION,
        {"input": {"articleSlug": SAMPLE_SLUG, "quote": "words not in it", "message": "?"}},
    )
    assert refused["suggestCorrection"]["__typename"] == "ValidationError"
    assert refused["suggestCorrection"]["field"] == "quote"

    listed = (await gql(client, CORRECTIONS, {"slug": SAMPLE_SLUG}, editor))["corrections"]
    assert [(c["quote"], c["open"]) for c in listed] == [(quote, True)]
    await gql(client, RESOLVE, {"id": listed[0]["id"]}, editor)
    assert (await gql(client, CORRECTIONS, {"slug": SAMPLE_SLUG}, editor))["corrections"] == []
