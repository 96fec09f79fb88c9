"""What feeds and sitemaps list: readers' stories newest first with their bylines and categories,
and every page a crawler may visit, in blocks of bounded size; no HTTP or XML here.

Only what readers may see (`is_published`) is ever listed. A section, topic, person or author has
a feed whenever it exists (as `person(slug)` answers for any person), but is listed in a sitemap
only once it has a published story to show: a person on no story, or only on stories an editor
took them off, is not worth a crawler's visit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, NamedTuple, TypeAlias

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import InstrumentedAttribute

from models.article import (
    SECTION_NAMES,
    Article,
    ArticleAuthor,
    ArticleTopic,
    Author,
    Section,
    authors_by_article,
    is_published,
)
from models.base import AnyRow, Columns
from models.person import Mention, Person
from models.topic import Topic, topics_by_article

# Ids are INTEGER columns: PostgreSQL refuses a larger bound outright.
_MAX_ID = 2**31 - 1

Kind: TypeAlias = Literal["section", "topic", "person", "author"]
# What a sitemap lists: stories, or the pages of one kind of subject.
Listed: TypeAlias = Literal["article", "section", "topic", "person", "author"]

_SUBJECTS: dict[Kind, type[Section | Topic | Person | Author]] = {
    "section": Section,
    "topic": Topic,
    "person": Person,
    "author": Author,
}


@dataclass(frozen=True, slots=True)
class Subject:
    """What a feed is about."""

    kind: Kind
    id: int
    slug: str
    name: str
    description: str | None


@dataclass(frozen=True, slots=True)
class Category:
    kind: Literal["section", "topic"]
    slug: str
    name: str


@dataclass(frozen=True, slots=True)
class Story:
    slug: str
    title: str
    dek: str | None
    language: str
    published_at: datetime
    updated_at: datetime
    authors: tuple[str, ...]
    # The section first, then the topics in the newsroom's order.
    categories: tuple[Category, ...]


@dataclass(frozen=True, slots=True)
class Headline:
    """A story as the Google News sitemap names it."""

    slug: str
    title: str
    language: str
    published_at: datetime


@dataclass(frozen=True, slots=True)
class Location:
    """A page for a sitemap, and when what it shows last changed."""

    slug: str
    lastmod: datetime | None


@dataclass(frozen=True, slots=True)
class Block:
    """One sitemap's share of a kind (ids `(number - 1) * size + 1` to `number * size`), and
    the newest change among its pages."""

    number: int
    lastmod: datetime | None


async def subject_by_slug(conn: AsyncConnection, kind: Kind, slug: str) -> Subject | None:
    """The section, topic, person or author with this slug, or None."""
    model = _SUBJECTS[kind]
    row = (await conn.execute(sa.select(model.__table__).where(model.slug == slug))).first()
    if row is None:
        return None
    # Topics and people have a description; sections and authors do not.
    return Subject(kind, row.id, row.slug, row.name, row._mapping.get("description"))


def _of(subject: Subject) -> sa.ColumnElement[bool]:
    if subject.kind == "section":
        return Article.section_id == subject.id
    if subject.kind == "topic":
        return Article.id.in_(
            sa.select(ArticleTopic.article_id).where(ArticleTopic.topic_id == subject.id)
        )
    if subject.kind == "person":
        # As the person's GraphQL `articles`: not the stories an editor took them off.
        return Article.id.in_(
            sa.select(Mention.article_id).where(
                Mention.person_id == subject.id, Mention.suppressed.is_(False)
            )
        )
    return Article.id.in_(
        sa.select(ArticleAuthor.article_id).where(ArticleAuthor.author_id == subject.id)
    )


def _newest_first(stmt: sa.Select[*Columns]) -> sa.Select[*Columns]:
    # The readable index (published_at, id) answers this ordering without a sort.
    return stmt.order_by(Article.published_at.desc(), Article.id.desc())


async def newest_stories(conn: AsyncConnection, subject: Subject | None, limit: int) -> list[Story]:
    """The `limit` newest published stories, of `subject` or of the whole site, with their
    authors and categories: three statements whatever the limit."""
    stmt = (
        sa.select(
            Article.id,
            Article.slug,
            Article.title,
            Article.dek,
            Article.language,
            Article.published_at,
            Article.updated_at,
            *SECTION_NAMES,
        )
        .join(Section, Section.id == Article.section_id)
        .where(is_published())
    )
    if subject is not None:
        stmt = stmt.where(_of(subject))
    rows = list(await conn.execute(_newest_first(stmt).limit(limit)))
    ids = [row.id for row in rows]
    authors = await authors_by_article(conn, ids)
    topics = await topics_by_article(conn, ids)
    return [_story(row, authors[row.id], topics[row.id]) for row in rows]


def _story(row: AnyRow, authors: Sequence[AnyRow], topics: Sequence[AnyRow]) -> Story:
    section = Category("section", row.section_slug, row.section_name)
    return Story(
        slug=row.slug,
        title=row.title,
        dek=row.dek,
        language=row.language,
        # Publishing always sets it; an imported story might not have.
        published_at=row.published_at or row.updated_at,
        updated_at=row.updated_at,
        authors=tuple(author.name for author in authors),
        categories=(section, *(Category("topic", topic.slug, topic.name) for topic in topics)),
    )


async def published_since(conn: AsyncConnection, since: datetime, limit: int) -> list[Headline]:
    """Published stories that went out at `since` or later, newest first, at most `limit`."""
    stmt = sa.select(Article.slug, Article.title, Article.language, Article.published_at).where(
        is_published(), Article.published_at >= since
    )
    rows = await conn.execute(_newest_first(stmt).limit(limit))
    return [Headline(row.slug, row.title, row.language, row.published_at) for row in rows]


class _Readable(NamedTuple):
    """Each page of a kind with its published stories: the column naming the page's id, the
    tables to select from and the conditions."""

    owner: InstrumentedAttribute[int]
    tables: sa.FromClause
    where: tuple[sa.ColumnElement[bool], ...]


def _readable(listed: Listed) -> _Readable:
    articles = Article.__table__
    if listed == "article":
        return _Readable(Article.id, articles, (is_published(),))
    if listed == "section":
        return _Readable(Article.section_id, articles, (is_published(),))
    if listed == "topic":
        joined = sa.join(ArticleTopic, Article, ArticleTopic.article_id == Article.id)
        return _Readable(ArticleTopic.topic_id, joined, (is_published(),))
    if listed == "person":
        joined = sa.join(Mention, Article, Mention.article_id == Article.id)
        return _Readable(Mention.person_id, joined, (is_published(), Mention.suppressed.is_(False)))
    joined = sa.join(ArticleAuthor, Article, ArticleAuthor.article_id == Article.id)
    return _Readable(ArticleAuthor.author_id, joined, (is_published(),))


async def blocks(conn: AsyncConnection, listed: Listed, size: int) -> list[Block]:
    """The blocks of `size` ids that hold at least one page to list, in order.

    Blocks are cut by id, not by position, so a story keeps its sitemap for good: publishing
    or editing one changes that sitemap's lastmod alone, and crawlers can skip the rest.
    """
    owner, tables, where = _readable(listed)
    number = ((owner - 1) // size + 1).label("number")
    stmt = (
        sa.select(number, sa.func.max(Article.updated_at).label("lastmod"))
        .select_from(tables)
        .where(*where)
        # By the output column's name: the expression repeated would carry parameters of its
        # own, which PostgreSQL cannot tell are the same as the SELECT's.
        .group_by(sa.literal_column("number"))
        .order_by(number)
    )
    return [Block(row.number, row.lastmod) for row in await conn.execute(stmt)]


async def locations(
    conn: AsyncConnection, listed: Listed, number: int, size: int
) -> list[Location]:
    """The pages of block `number` in id order: at most `size`, read by primary key range."""
    first, last = (number - 1) * size + 1, min(number * size, _MAX_ID)
    if first > last:
        return []
    owner, tables, where = _readable(listed)
    if listed == "article":
        stmt = (
            sa.select(Article.slug, Article.updated_at.label("lastmod"))
            .where(*where, Article.id.between(first, last))
            .order_by(Article.id)
        )
    else:
        model = _SUBJECTS[listed]
        # A page lists the subject's stories: it changed when the newest of them did.
        stmt = (
            sa.select(model.slug, sa.func.max(Article.updated_at).label("lastmod"))
            .select_from(tables)
            .join(model, model.id == owner)
            .where(*where, owner.between(first, last))
            .group_by(model.id, model.slug)
            .order_by(model.id)
        )
    return [Location(row.slug, row.lastmod) for row in await conn.execute(stmt)]
