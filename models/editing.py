"""Editors' writes: stories with revisions, publication, soft delete.

Every function runs inside the caller's transaction and writes the search outbox rows of what
it changes there too, so a change and its way to the search index commit or fail together.
Expected failures raise InvalidInput naming the input field; nothing is written then.
Sections, topics and people are models/catalogue.py.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from slugify import slugify
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.article import (
    Article,
    ArticleAuthor,
    ArticleRevision,
    ArticleTopic,
    Author,
    Section,
    text_hash,
)
from models.base import utcnow
from models.enums import ArticleStatus, BlockType
from models.errors import InvalidInput, NotFoundError
from models.images import check_images
from models.outbox import enqueue_articles
from models.topic import Topic
from models.webhook import EventKind, record

SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
MAX_TITLE = 300
MAX_BLOCK = 20_000
MAX_BLOCKS = 500


@dataclass(frozen=True, slots=True)
class ArticleDraft:
    """A story as an editor submits it."""

    slug: str
    title: str
    section: str
    # (block type, text), or (block type, text, image id) for an image block.
    body: Sequence[tuple[str, str] | tuple[str, str, int]]
    dek: str | None = None
    authors: Sequence[str] = ()
    topics: Sequence[str] = ()
    language: str = "en"
    lead_image: int | None = None


@dataclass(slots=True)
class Saved:
    article: Article
    created: bool
    changes: list[str] = field(default_factory=list)


def _validate(draft: ArticleDraft) -> None:
    if not SLUG.match(draft.slug) or len(draft.slug) > 200:
        raise InvalidInput(
            "slug", "use lowercase letters, digits and single hyphens, e.g. my-story"
        )
    if not draft.title.strip():
        raise InvalidInput("title", "a story needs a headline")
    if len(draft.title) > MAX_TITLE:
        raise InvalidInput("title", f"at most {MAX_TITLE} characters")
    if not draft.body:
        raise InvalidInput("body", "a story needs at least one block")
    if len(draft.body) > MAX_BLOCKS:
        raise InvalidInput("body", f"at most {MAX_BLOCKS} blocks")
    for number, block in enumerate(draft.body, start=1):
        kind, text = block[0], block[1]
        if kind not in set(BlockType):
            raise InvalidInput("body", f"block {number}: unknown type {kind!r}")
        if (kind == BlockType.IMAGE) != (len(block) == 3):
            raise InvalidInput(
                "body", f"block {number}: an IMAGE block, and only one, names an image"
            )
        if not text.strip() and kind != BlockType.IMAGE:
            raise InvalidInput("body", f"block {number} is empty")
        if len(text) > MAX_BLOCK:
            raise InvalidInput("body", f"block {number}: at most {MAX_BLOCK} characters")
    if not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*", draft.language):
        raise InvalidInput("language", "a language code such as en or pt-BR")
    for name in [*draft.topics, *draft.authors]:
        if not slugify(name):
            raise InvalidInput(
                "topics" if name in draft.topics else "authors",
                f"{name!r} has no letters or digits",
            )


def _block(block: tuple[str, str] | tuple[str, str, int]) -> dict[str, str]:
    stored = {"type": str(block[0]), "text": block[1]}
    if len(block) == 3:
        stored["image"] = str(block[2])
    return stored


def stored_block(block: dict[str, str]) -> tuple[str, str] | tuple[str, str, int]:
    """A stored body block as a draft's."""
    if "image" in block:
        return (block["type"], block["text"], int(block["image"]))
    return (block["type"], block["text"])


def snapshot(article: Article, topics: Sequence[str], authors: Sequence[str]) -> dict[str, Any]:
    """What a revision keeps: every field an editor can change."""
    return {
        "title": article.title,
        "dek": article.dek,
        "body": article.body,
        "section_id": article.section_id,
        "language": article.language,
        "topics": list(topics),
        "authors": list(authors),
        "lead_image_id": article.lead_image_id,
    }


async def _names(session: AsyncSession, article_id: int) -> tuple[list[str], list[str]]:
    topics = await session.scalars(
        sa.select(Topic.name)
        .join(ArticleTopic, ArticleTopic.topic_id == Topic.id)
        .where(ArticleTopic.article_id == article_id)
        .order_by(ArticleTopic.position)
    )
    authors = await session.scalars(
        sa.select(Author.name)
        .join(ArticleAuthor, ArticleAuthor.author_id == Author.id)
        .where(ArticleAuthor.article_id == article_id)
        .order_by(ArticleAuthor.position)
    )
    return list(topics), list(authors)


async def _ids_for(
    session: AsyncSession, model: type[Topic | Author], names: Sequence[str]
) -> list[int]:
    """The ids of these topics or authors, in order, creating the new ones.

    Two editors saving stories with the same new topic at once must both succeed: a new row
    is inserted ON CONFLICT DO NOTHING and read back, and new rows are inserted in one order
    (by slug) whatever the story's, so two saves cannot each wait for the other's row.
    """
    by_slug = {slugify(name): name.strip() for name in names}
    rows = await session.execute(sa.select(model.slug, model.id).where(model.slug.in_(by_slug)))
    found: dict[str, int] = {slug: pk for slug, pk in rows}
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    for slug in sorted(set(by_slug) - set(found)):
        await session.execute(
            insert(model).values(slug=slug, name=by_slug[slug]).on_conflict_do_nothing()
        )
        created = await session.scalar(
            sa.select(model.id).where(sa.or_(model.slug == slug, model.name == by_slug[slug]))
        )
        assert created is not None  # inserted now, or by the save that won the race
        found[slug] = created
    return [found[slugify(name)] for name in names]


async def _set_links(
    session: AsyncSession, article_id: int, topics: Sequence[str], authors: Sequence[str]
) -> None:
    topic_ids = await _ids_for(session, Topic, topics)
    author_ids = await _ids_for(session, Author, authors)
    await session.execute(sa.delete(ArticleTopic).where(ArticleTopic.article_id == article_id))
    await session.execute(sa.delete(ArticleAuthor).where(ArticleAuthor.article_id == article_id))
    session.add_all(
        ArticleTopic(article_id=article_id, topic_id=topic_id, position=position)
        for position, topic_id in enumerate(dict.fromkeys(topic_ids))
    )
    session.add_all(
        ArticleAuthor(article_id=article_id, author_id=author_id, position=position)
        for position, author_id in enumerate(dict.fromkeys(author_ids))
    )


async def _record_revision(
    session: AsyncSession, article: Article, editor: str, changes: list[str], state: dict[str, Any]
) -> None:
    last = await session.scalar(
        sa.select(sa.func.max(ArticleRevision.number)).where(
            ArticleRevision.article_id == article.id
        )
    )
    session.add(
        ArticleRevision(
            article_id=article.id,
            number=(last or 0) + 1,
            editor=editor,
            changes=changes,
            snapshot=state,
        )
    )


async def save_article(session: AsyncSession, draft: ArticleDraft, editor: str) -> Saved:
    """Create a story as a draft, or update the one with this slug, keeping a revision."""
    _validate(draft)
    await check_images(session, draft.lead_image, draft.body)
    section_id = await session.scalar(sa.select(Section.id).where(Section.slug == draft.section))
    if section_id is None:
        raise InvalidInput(
            "section", f"no section {draft.section!r}; editors create sections first"
        )
    article = await session.scalar(
        sa.select(Article).where(Article.slug == draft.slug).with_for_update()
    )
    created = article is None
    if article is None:
        article = Article(slug=draft.slug, status=ArticleStatus.DRAFT, created_at=utcnow())
        session.add(article)
        before: dict[str, Any] = {}
    else:
        if article.deleted_at is not None:
            raise InvalidInput("slug", "a deleted story has this slug; restore it first")
        before = snapshot(article, *await _names(session, article.id))
    article.title = draft.title.strip()
    article.dek = (draft.dek or "").strip() or None
    article.body = [_block(block) for block in draft.body]
    article.lead_image_id = draft.lead_image
    article.section_id = section_id
    article.language = draft.language
    article.updated_at = utcnow()
    article.content_hash = text_hash(article.title, article.dek, article.body)
    await session.flush()
    topics = [name.strip() for name in draft.topics]
    authors = [name.strip() for name in draft.authors]
    await _set_links(session, article.id, topics, authors)
    after = snapshot(article, topics, authors)
    changes = [key for key in after if before.get(key) != after[key]]
    await _record_revision(session, article, editor, changes, after)
    enqueue_articles(session, [article.id])
    if changes and _readable(article):
        await record(session, EventKind.ARTICLE_UPDATED, article)
    return Saved(article=article, created=created, changes=changes)


def _readable(article: Article) -> bool:
    return article.status == ArticleStatus.PUBLISHED and article.deleted_at is None


async def find_article(session: AsyncSession, slug: str, *, deleted: bool = False) -> Article:
    """The story with this slug (a deleted one with `deleted`), locked for this write."""
    article = await session.scalar(sa.select(Article).where(Article.slug == slug).with_for_update())
    if article is None or (article.deleted_at is not None) != deleted:
        raise NotFoundError(slug)
    return article


async def publish(session: AsyncSession, slug: str) -> Article:
    return await _set_status(session, slug, ArticleStatus.PUBLISHED)


async def unpublish(session: AsyncSession, slug: str) -> Article:
    return await _set_status(session, slug, ArticleStatus.UNPUBLISHED)


async def _set_status(session: AsyncSession, slug: str, status: ArticleStatus) -> Article:
    article = await find_article(session, slug)
    published = status == ArticleStatus.PUBLISHED
    if _readable(article) != published:
        kind = EventKind.ARTICLE_PUBLISHED if published else EventKind.ARTICLE_UNPUBLISHED
        await record(session, kind, article)
    article.status = status
    if published:
        # A story keeps the time it first went out; republishing does not make it "new".
        article.published_at = article.published_at or utcnow()
    article.scheduled_at = None  # published or taken down now, a schedule it had is void
    article.updated_at = utcnow()
    enqueue_articles(session, [article.id])
    return article


async def delete(session: AsyncSession, slug: str) -> Article:
    """Soft delete: hidden everywhere, comments and revisions kept, restorable."""
    article = await find_article(session, slug)
    if _readable(article):
        await record(session, EventKind.ARTICLE_UNPUBLISHED, article)
    article.deleted_at = utcnow()
    enqueue_articles(session, [article.id])
    return article


async def restore(session: AsyncSession, slug: str) -> Article:
    article = await find_article(session, slug, deleted=True)
    article.deleted_at = None
    if _readable(article):
        await record(session, EventKind.ARTICLE_PUBLISHED, article)
    enqueue_articles(session, [article.id])
    return article


async def restore_revision(session: AsyncSession, slug: str, number: int, editor: str) -> Saved:
    """Put a story back as a revision left it; the restore is itself a new revision."""
    article = await find_article(session, slug)
    revision = await session.scalar(
        sa.select(ArticleRevision).where(
            ArticleRevision.article_id == article.id, ArticleRevision.number == number
        )
    )
    if revision is None:
        raise InvalidInput("number", f"{slug} has no revision {number}")
    state = revision.snapshot
    section_slug = await session.scalar(
        sa.select(Section.slug).where(Section.id == state["section_id"])
    )
    draft = ArticleDraft(
        slug=slug,
        title=state["title"],
        dek=state["dek"],
        section=section_slug or "",
        body=[stored_block(block) for block in state["body"]],
        authors=state["authors"],
        topics=state["topics"],
        language=state["language"],
        lead_image=state.get("lead_image_id"),
    )
    return await save_article(session, draft, editor)
