"""The ledger of the topology run: every write the API acknowledged, what reads must show because
of them, and the check after the run that each one is in SQL and in the search index.

A read is stale when it shows less than a write acknowledged before the read began: an older
title (titles end in `version <n>`), a published story not found, fewer comments than were
acknowledged or an acknowledged comment missing from its thread, or a latest-stories list
without the story published last (when the list holds older ones).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from api.relay import from_global_id
from models import Article
from models.article import ArticleRevision
from models.comment import Comment
from models.enums import ArticleStatus

VERSION = re.compile(r"version (\d+)$")


@dataclass
class Story:
    """A story of the run's own, which the editors create, publish and retitle."""

    slug: str
    number: int
    sent: int = 0  # the last version sent, acknowledged or not: the next one is newer
    version: int = 0  # the last version acknowledged
    titles: list[str] = field(default_factory=list)
    published_at: str | None = None

    def title(self, run: str, version: int) -> str:
        return f"Topology {run}: story {self.number} version {version}"


@dataclass
class Thread:
    """A story's comments: how many readers saw before the run, and the run's acknowledged ones."""

    comment_count: int = 0
    top_level: int = 0
    acknowledged: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Posted:
    id: str
    slug: str
    body: str
    status: str


@dataclass(frozen=True)
class Expectation:
    version: int = 0
    published: bool = False
    comment_count: int = 0
    top_level: int = 0
    comment_ids: tuple[str, ...] = ()
    latest: tuple[str, datetime] | None = None


class Ledger:
    def __init__(self, run: str) -> None:
        self.run = run
        self.stories: dict[str, Story] = {}
        self.threads: dict[str, Thread] = {}
        self.comments: list[Posted] = []
        self.pending: list[Posted] = []  # acknowledged, held for moderation by the screening
        self.latest: tuple[str, datetime] | None = None

    def new_story(self) -> Story:
        number = len(self.stories) + 1
        story = Story(f"topology-{self.run}-{number}", number)
        self.stories[story.slug] = story
        return story

    def published(self) -> list[Story]:
        return [s for s in self.stories.values() if s.published_at is not None]

    def published_slug(self, rng: random.Random) -> str | None:
        stories = self.published()
        return rng.choice(stories).slug if stories else None

    # What writes tell the ledger, once acknowledged --------------------------------------------

    def saved(self, story: Story, version: int, title: str) -> None:
        story.version = max(story.version, version)
        story.titles.append(title)

    def made_public(self, story: Story, published_at: str) -> None:
        story.published_at = published_at
        at = datetime.fromisoformat(published_at)
        if self.latest is None or at >= self.latest[1]:
            self.latest = (story.slug, at)

    def commented(self, posted: Posted) -> None:
        if posted.status != "PUBLISHED":
            self.pending.append(posted)
            return
        self.comments.append(posted)
        self.threads.setdefault(posted.slug, Thread()).acknowledged.append(posted.id)

    # What reads must show ----------------------------------------------------------------------

    def expectation(self, operation: str, variables: dict[str, Any]) -> Expectation | None:
        if operation == "latest-articles":
            plain = "filter" not in variables and "after" not in variables
            return Expectation(latest=self.latest) if plain and self.latest else None
        slug = variables.get("slug")
        if operation not in ("article-page", "comments-thread") or slug is None:
            return None
        story, thread = self.stories.get(slug), self.threads.get(slug)
        if story is None and thread is None:
            return None
        thread = thread or Thread()
        return Expectation(
            version=story.version if story else 0,
            published=bool(story and story.published_at),
            comment_count=thread.comment_count + len(thread.acknowledged),
            top_level=thread.top_level + len(thread.acknowledged),
            comment_ids=tuple(thread.acknowledged),
        )

    def stale(
        self,
        operation: str,
        answer: dict[str, Any],
        expected: Expectation | None,
    ) -> str | None:
        """What the answer lacks of the writes acknowledged before it was asked for, or None."""
        if expected is None:
            return None
        data = answer["data"]
        if operation == "latest-articles":
            assert expected.latest is not None
            slug, at = expected.latest
            nodes = data["articles"]["nodes"]
            listed = {n["slug"] for n in nodes}
            older = any(datetime.fromisoformat(n["publishedAt"]) < at for n in nodes)
            return f"latest list without {slug}" if slug not in listed and older else None
        article = data.get("article")
        if article is None:
            return "published story not found" if expected.published else None
        if "title" in article and expected.version:
            match = VERSION.search(article["title"])
            shown = int(match.group(1)) if match else 0
            if shown < expected.version:
                return f"title version {shown}, version {expected.version} was acknowledged"
        if article.get("commentCount", expected.comment_count) < expected.comment_count:
            return f"commentCount {article['commentCount']}, expected {expected.comment_count}"
        comments = article.get("comments")
        if comments is not None:
            if (shown := comments["totalCount"]) < expected.top_level:
                return f"{shown} comments in the thread, {expected.top_level} expected"
            shown_ids = {node["id"] for node in comments["nodes"]}
            if comments["totalCount"] == len(comments["nodes"]):
                missing = [i for i in expected.comment_ids if i not in shown_ids]
                if missing:
                    return f"acknowledged comments missing from the thread: {missing[:3]}"
        return None


async def verify(
    engine: AsyncEngine, ledger: Ledger, meili_url: str, meili_key: str, index: str
) -> dict[str, Any]:
    """Every acknowledged write in SQL, and every published story of the run in the search index
    as SQL holds it now; each one missing is a lost write."""
    lost: list[str] = []
    slugs = list(ledger.stories)
    async with engine.connect() as conn:
        rows = {
            r.slug: r
            for r in await conn.execute(
                sa.select(Article.id, Article.slug, Article.title, Article.status).where(
                    Article.slug.in_(slugs)
                )
            )
        }
        saved = {
            (r.slug, r.snapshot.get("title"))
            for r in await conn.execute(
                sa.select(Article.slug, ArticleRevision.snapshot)
                .join(ArticleRevision, ArticleRevision.article_id == Article.id)
                .where(Article.slug.in_(slugs))
            )
        }
        ids = {from_global_id(c.id)[1]: c for c in [*ledger.comments, *ledger.pending]}
        stored = {
            r.id: r
            for r in await conn.execute(
                sa.select(Comment.id, Comment.body, Comment.status).where(Comment.id.in_(ids))
            )
        }
    for story in ledger.stories.values():
        if story.titles and story.slug not in rows:
            lost.append(f"story {story.slug}: not in SQL at all")
            continue
        for title in story.titles:
            if (story.slug, title) not in saved:
                lost.append(f"save {title!r}: no such revision in SQL")
        if story.published_at and rows[story.slug].status != ArticleStatus.PUBLISHED:
            lost.append(f"publish {story.slug}: {rows[story.slug].status} in SQL")
    for pk, posted in ids.items():
        row = stored.get(pk)
        if row is None or row.body != posted.body or row.status.upper() != posted.status:
            lost.append(f"comment {posted.id} on {posted.slug}: {row and row.status} in SQL")
    searched = 0
    async with httpx.AsyncClient(
        base_url=meili_url, headers={"Authorization": f"Bearer {meili_key}"}, timeout=10
    ) as client:
        for story in ledger.published():
            row = rows.get(story.slug)
            if row is None:
                continue  # reported above
            answer = await client.get(f"/indexes/{index}/documents/{row.id}")
            searched += 1
            if answer.status_code == 404:
                lost.append(f"search: {story.slug} missing from the index")
            elif answer.json().get("title") != row.title:
                lost.append(f"search: {story.slug} indexed as {answer.json().get('title')!r}")
    return {
        "checked": {
            "saves": sum(len(s.titles) for s in ledger.stories.values()),
            "publishes": len(ledger.published()),
            "comments": len(ids),
            "search_documents": searched,
        },
        "lost": lost,
    }
