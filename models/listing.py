"""Reader-facing story lists: by filter, by topic, by author and by person; published stories
only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import InstrumentedAttribute

from models.article import (
    ARTICLE_ORDER,
    SUMMARY_COLUMNS,
    Article,
    ArticleAuthor,
    ArticleTopic,
    Section,
    is_published,
)
from models.base import AnyRow, Columns
from models.lookup import counted
from models.pagination import Page, PageRequest, fetch_page, fetch_pages_by_parent
from models.person import Mention, Person
from models.topic import Topic


@dataclass(frozen=True, slots=True)
class ArticleFilter:
    """What a reader can narrow a story list by; every given condition must hold."""

    topics: Sequence[str] = ()
    people: Sequence[str] = ()
    section: str | None = None
    published_after: datetime | None = None
    published_before: datetime | None = None
    language: str | None = None


def _filtered(stmt: sa.Select[*Columns], where: ArticleFilter) -> sa.Select[*Columns]:
    for slug in where.topics:
        stmt = stmt.where(
            Article.id.in_(
                sa.select(ArticleTopic.article_id)
                .join(Topic, Topic.id == ArticleTopic.topic_id)
                .where(Topic.slug == slug)
            )
        )
    for slug in where.people:
        stmt = stmt.where(
            Article.id.in_(
                sa.select(Mention.article_id)
                .join(Person, Person.id == Mention.person_id)
                .where(Person.slug == slug, Mention.suppressed.is_(False))
            )
        )
    if where.section is not None:
        stmt = stmt.where(
            Article.section_id.in_(sa.select(Section.id).where(Section.slug == where.section))
        )
    if where.published_after is not None:
        stmt = stmt.where(Article.published_at >= where.published_after)
    if where.published_before is not None:
        stmt = stmt.where(Article.published_at < where.published_before)
    if where.language is not None:
        stmt = stmt.where(Article.language == where.language)
    return stmt


async def published_articles(
    conn: AsyncConnection, where: ArticleFilter, page: PageRequest
) -> Page:
    """One page of published articles matching the filter, ordered by publication time."""
    stmt = _filtered(sa.select(*SUMMARY_COLUMNS).where(is_published()), where)
    return await fetch_page(conn, stmt, ARTICLE_ORDER, page)


async def count_published_articles(conn: AsyncConnection, where: ArticleFilter) -> int:
    stmt = _filtered(sa.select(sa.func.count()).select_from(Article).where(is_published()), where)
    return (await conn.execute(stmt)).scalar_one()


# A story's topics, bylines and mentions are each a link table from the story to its parent
# (topic, author, person): one query of each kind serves all three.


async def _pages_by_parent(
    conn: AsyncConnection,
    parent: InstrumentedAttribute[int],
    article: InstrumentedAttribute[int],
    parent_ids: Sequence[int],
    page: PageRequest,
    *also: sa.ColumnElement[bool],
) -> dict[int, Page]:
    stmt = (
        sa.select(*SUMMARY_COLUMNS)
        .join(parent.class_, article == Article.id)
        .where(is_published(), *also)
    )
    return await fetch_pages_by_parent(conn, stmt, parent, parent_ids, ARTICLE_ORDER, page)


async def _counts_by_parent(
    conn: AsyncConnection,
    parent: InstrumentedAttribute[int],
    article: InstrumentedAttribute[int],
    parent_ids: Sequence[int],
    *also: sa.ColumnElement[bool],
) -> dict[int, int]:
    stmt = (
        sa.select(parent, sa.func.count())
        .join(Article, Article.id == article)
        .where(parent.in_(parent_ids), is_published(), *also)
        .group_by(parent)
    )
    return counted(await conn.execute(stmt), parent_ids)


async def published_articles_by_topic(
    conn: AsyncConnection, topic_ids: Sequence[int], page: PageRequest
) -> dict[int, Page]:
    """A page of each topic's published articles, for many topics in one statement."""
    return await _pages_by_parent(
        conn, ArticleTopic.topic_id, ArticleTopic.article_id, topic_ids, page
    )


async def count_published_articles_by_topic(
    conn: AsyncConnection, topic_ids: Sequence[int]
) -> dict[int, int]:
    return await _counts_by_parent(conn, ArticleTopic.topic_id, ArticleTopic.article_id, topic_ids)


async def published_articles_by_author(
    conn: AsyncConnection, author_ids: Sequence[int], page: PageRequest
) -> dict[int, Page]:
    """A page of each author's published articles, in one statement."""
    return await _pages_by_parent(
        conn, ArticleAuthor.author_id, ArticleAuthor.article_id, author_ids, page
    )


async def count_published_articles_by_author(
    conn: AsyncConnection, author_ids: Sequence[int]
) -> dict[int, int]:
    return await _counts_by_parent(
        conn, ArticleAuthor.author_id, ArticleAuthor.article_id, author_ids
    )


async def published_articles_by_person(
    conn: AsyncConnection, person_ids: Sequence[int], page: PageRequest
) -> dict[int, Page]:
    """A page of each person's published articles, newest first, in one statement."""
    return await _pages_by_parent(
        conn, Mention.person_id, Mention.article_id, person_ids, page, Mention.suppressed.is_(False)
    )


async def count_published_articles_by_person(
    conn: AsyncConnection, person_ids: Sequence[int]
) -> dict[int, int]:
    return await _counts_by_parent(
        conn, Mention.person_id, Mention.article_id, person_ids, Mention.suppressed.is_(False)
    )


def _text_matches(words: Sequence[str]) -> list[sa.ColumnElement[bool]]:
    """Every word must occur in the headline, the standfirst or the body (case-insensitive)."""
    body = sa.func.lower(sa.cast(Article.body, sa.Text))
    return [
        sa.or_(
            sa.func.lower(Article.title).contains(word.lower(), autoescape=True),
            sa.func.lower(sa.func.coalesce(Article.dek, "")).contains(
                word.lower(), autoescape=True
            ),
            body.contains(word.lower(), autoescape=True),
        )
        for word in words
    ]


async def search_published(
    conn: AsyncConnection,
    words: Sequence[str],
    where: ArticleFilter,
    *,
    offset: int,
    limit: int,
    newest_first: bool = True,
) -> tuple[list[AnyRow], int]:
    """A plain SQL text search, for when the search engine is unreachable: slower and without
    typo tolerance, but it never shows what readers may not see."""
    stmt = _filtered(
        sa.select(*SUMMARY_COLUMNS).where(is_published(), *_text_matches(words)), where
    )
    order = [c.desc() if newest_first else c.asc() for c in ARTICLE_ORDER]
    rows = list(await conn.execute(stmt.order_by(*order).offset(offset).limit(limit)))
    total = (
        await conn.execute(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery()))
    ).scalar_one()
    return rows, total


async def published_with_word_prefix(
    conn: AsyncConnection, prefix: str, limit: int
) -> list[AnyRow]:
    """Published stories with a headline or standfirst word starting with `prefix`, newest
    first."""
    return list(
        await conn.execute(
            sa.select(*SUMMARY_COLUMNS)
            .where(
                is_published(),
                sa.or_(_word_starts(Article.title, prefix), _word_starts(Article.dek, prefix)),
            )
            .order_by(*(c.desc() for c in ARTICLE_ORDER))
            .limit(limit)
        )
    )


def _word_starts(column: sa.SQLColumnExpression[str | None], prefix: str) -> sa.ColumnElement[bool]:
    lowered = sa.func.lower(column)
    needle = prefix.lower()
    return sa.or_(
        lowered.startswith(needle, autoescape=True),
        lowered.contains(" " + needle, autoescape=True),
    )


async def _named_with_prefix(
    conn: AsyncConnection, model: type[Topic | Person], prefix: str, limit: int, visible: Any
) -> list[AnyRow]:
    return list(
        await conn.execute(
            sa.select(model.__table__)
            .where(_word_starts(model.name, prefix), visible)
            .order_by(model.name)
            .limit(limit)
        )
    )


async def topics_with_prefix(conn: AsyncConnection, prefix: str, limit: int) -> list[AnyRow]:
    """Topics named with a word starting with `prefix` that have a published story."""
    has_story = sa.exists().where(
        ArticleTopic.topic_id == Topic.id, ArticleTopic.article_id == Article.id, is_published()
    )
    return await _named_with_prefix(conn, Topic, prefix, limit, has_story)


async def people_with_prefix(conn: AsyncConnection, prefix: str, limit: int) -> list[AnyRow]:
    """People with a name word starting with `prefix` who are in a published story."""
    in_story = sa.exists().where(
        Mention.person_id == Person.id,
        Mention.article_id == Article.id,
        Mention.suppressed.is_(False),
        is_published(),
    )
    return await _named_with_prefix(conn, Person, prefix, limit, in_story)


async def names_by_kind_and_slug(
    conn: AsyncConnection, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], str]:
    """Display names keyed by ("topics" | "people" | "sections", slug)."""
    wanted: dict[str, list[str]] = {"topics": [], "people": [], "sections": []}
    for kind, slug in keys:
        wanted.setdefault(kind, []).append(slug)
    names = await names_by_slug(conn, wanted["topics"], wanted["people"], wanted["sections"])
    return {(kind, slug): name for kind, found in names.items() for slug, name in found.items()}


async def names_by_slug(
    conn: AsyncConnection, topics: Sequence[str], people: Sequence[str], sections: Sequence[str]
) -> dict[str, dict[str, str]]:
    """Display names for facet values, in one round trip per kind that is asked for."""
    names: dict[str, dict[str, str]] = {"topics": {}, "people": {}, "sections": {}}
    for kind, model, slugs in (
        ("topics", Topic, topics),
        ("people", Person, people),
        ("sections", Section, sections),
    ):
        if slugs:
            rows = await conn.execute(
                sa.select(model.slug, model.name).where(model.slug.in_(slugs))
            )
            names[kind] = {row.slug: row.name for row in rows}
    return names
