"""What the search index needs to know about articles, read for many articles at once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from models.article import (
    SECTION_NAMES,
    Article,
    ArticleAuthor,
    ArticleTopic,
    Author,
    Section,
    is_published,
)
from models.images import Image
from models.person import Mention, Person
from models.renditions import key, widths_for
from models.topic import Topic

# The rendition a story card shows: 640 pixels wide, or the picture's own width if narrower.
CARD_WIDTH = 640


def card_rendition(sha256: str, width: int) -> str:
    """The file name of the rendition a card shows, in JPEG."""
    chosen = next((w for w in widths_for(width) if w >= CARD_WIDTH), widths_for(width)[-1])
    return key(sha256, chosen, "jpg")


@dataclass(slots=True)
class ArticleSource:
    """A published article with the names of everything attached to it."""

    id: int
    slug: str
    title: str
    dek: str | None
    body: list[dict[str, str]]
    language: str
    published_at: datetime
    section_slug: str
    section_name: str
    authors: list[str] = field(default_factory=list)
    topics: list[tuple[str, str]] = field(default_factory=list)  # (slug, name)
    people: list[tuple[str, str, list[str], str | None]] = field(default_factory=list)
    # (slug, name, aliases, role)
    # The lead image's rendition file for cards (models/renditions.py) and its alt text.
    lead_image: str | None = None
    lead_image_alt: str | None = None


async def published_sources(
    conn: AsyncConnection, article_ids: Sequence[int]
) -> dict[int, ArticleSource]:
    """Sources for the given ids that are published; the others are absent (to be removed)."""
    rows = await conn.execute(
        sa.select(
            Article.id,
            Article.slug,
            Article.title,
            Article.dek,
            Article.body,
            Article.language,
            Article.published_at,
            *SECTION_NAMES,
            Image.sha256,
            Image.width,
            Image.alt,
        )
        .join(Section, Section.id == Article.section_id)
        .outerjoin(Image, Image.id == Article.lead_image_id)
        .where(Article.id.in_(article_ids), is_published())
    )
    sources = {}
    for found in rows:
        values = dict(found._mapping)
        sha256, width, alt = values.pop("sha256"), values.pop("width"), values.pop("alt")
        source = sources[found.id] = ArticleSource(**values)
        if sha256 is not None:
            source.lead_image = card_rendition(sha256, width)
            source.lead_image_alt = alt
    if not sources:
        return sources
    ids = list(sources)
    for row in await conn.execute(
        sa.select(ArticleTopic.article_id, Topic.slug, Topic.name)
        .join(Topic, Topic.id == ArticleTopic.topic_id)
        .where(ArticleTopic.article_id.in_(ids))
        .order_by(ArticleTopic.article_id, ArticleTopic.position)
    ):
        sources[row.article_id].topics.append((row.slug, row.name))
    for author in await conn.execute(
        sa.select(ArticleAuthor.article_id, Author.name)
        .join(Author, Author.id == ArticleAuthor.author_id)
        .where(ArticleAuthor.article_id.in_(ids))
        .order_by(ArticleAuthor.article_id, ArticleAuthor.position)
    ):
        sources[author.article_id].authors.append(author.name)
    for mention in await conn.execute(
        sa.select(Mention.article_id, Mention.role, Person.slug, Person.name, Person.aliases)
        .join(Person, Person.id == Mention.person_id)
        .where(Mention.article_id.in_(ids), Mention.suppressed.is_(False))
        .order_by(Mention.article_id, Mention.position)
    ):
        sources[mention.article_id].people.append(
            (mention.slug, mention.name, list(mention.aliases or ()), mention.role)
        )
    return sources


async def published_ids_in_batches(
    conn: AsyncConnection, batch_size: int
) -> AsyncIterator[list[int]]:
    """Every published article id, in batches, by keyset so the scan stays cheap."""
    last = 0
    while True:
        ids = list(
            (
                await conn.execute(
                    sa.select(Article.id)
                    .where(is_published(), Article.id > last)
                    .order_by(Article.id)
                    .limit(batch_size)
                )
            ).scalars()
        )
        if not ids:
            return
        yield ids
        last = ids[-1]


async def count_published(conn: AsyncConnection) -> int:
    return (
        await conn.execute(sa.select(sa.func.count()).select_from(Article).where(is_published()))
    ).scalar_one()
