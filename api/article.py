"""GraphQL types and queries for articles, their sections, authors and body blocks; no SQL here."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, Protocol

import strawberry

from api import cache, urls
from api.comment import COMMENT_KEY, Comment, CommentOrder, comment_key
from api.context import Info
from api.errors import BadUserInput
from api.images import Image, ImageBlock
from api.loaders import Loaders, read
from api.node import Node
from api.permissions import can
from api.relay import (
    After,
    Before,
    Connection,
    Last,
    first_argument,
    in_utc_range,
    page_request,
    paged,
    read_page,
    to_global_id,
)
from models import article as article_model
from models import enums, listing
from models.enums import Role
from models.pagination import PageRequest

if TYPE_CHECKING:
    from api.person import Mention
    from api.topic import Topic


@strawberry.type(description="A section of the site, such as News or Sport.")
class Section(Node):
    slug: str
    name: str

    @classmethod
    def from_row(cls, row: Any) -> Section:
        cache.read(cache.tag("section", row.id))
        return cls(id=to_global_id("Section", row.id), slug=row.slug, name=row.name)


@strawberry.type(description="A paragraph of body text.")
class Paragraph:
    text: str


@strawberry.type(description="A subheading inside the body.")
class Heading:
    text: str


@strawberry.type(description="A dated note under a story saying what was amended and why.")
class CorrectionNote:
    text: str
    created_at: datetime


Block = Annotated[Paragraph | Heading | ImageBlock, strawberry.union("Block")]
_BLOCK_TYPES: dict[str, type[Paragraph | Heading]] = {"paragraph": Paragraph, "heading": Heading}


# The models' enum, exposed as it is: one declaration of a story's statuses. strawberry.enum
# registers it on the class itself and returns that class, so fields name `enums.ArticleStatus`
# (to mypy the name below is a variable, not a type).
ArticleStatus = strawberry.enum(
    enums.ArticleStatus,
    name="ArticleStatus",
    description="Where a story is in its life; readers only ever see PUBLISHED.",
)


@strawberry.enum(description="Order of story lists by publication time.")
class ArticleOrder(Enum):
    NEWEST = "newest"
    OLDEST = "oldest"


class _Conditions(Protocol):
    topics: list[str] | None
    people: list[str] | None
    section: str | None
    published_after: datetime | None
    published_before: datetime | None


def story_filter(given: _Conditions, language: str | None = None) -> listing.ArticleFilter:
    """The models' filter for what a story list or search is narrowed by (search/ takes the
    same one); BadUserInput for a time without its time zone, since a bare time is ambiguous."""
    _require_time_zones(given.published_after, given.published_before)
    return listing.ArticleFilter(
        topics=tuple(given.topics or ()),
        people=tuple(given.people or ()),
        section=given.section,
        published_after=given.published_after,
        published_before=given.published_before,
        language=language,
    )


def _require_time_zones(
    published_after: datetime | None, published_before: datetime | None
) -> None:
    for name, value in (("publishedAfter", published_after), ("publishedBefore", published_before)):
        if value is not None and value.tzinfo is None:
            raise BadUserInput(f"filter.{name}", "a date-time must include a time zone")
        try:
            if value is not None:
                in_utc_range(value)
        except ValueError as exc:
            raise BadUserInput(f"filter.{name}", str(exc)) from None


@strawberry.input(description="Narrows a story list; every given condition must hold.")
class ArticleFilter:
    topics: list[str] | None = strawberry.field(
        default=None, description="Topic slugs; a story must have all of them."
    )
    people: list[str] | None = strawberry.field(
        default=None, description="Person slugs; a story must mention all of them."
    )
    section: str | None = strawberry.field(default=None, description="A section slug.")
    published_after: datetime | None = strawberry.field(
        default=None, description="Published at or after this time (ISO 8601 with time zone)."
    )
    published_before: datetime | None = strawberry.field(
        default=None, description="Published before this time (ISO 8601 with time zone)."
    )
    language: str | None = strawberry.field(default=None, description="Language code, e.g. en.")

    def to_model(self) -> listing.ArticleFilter:
        return story_filter(self, self.language)


class _Parent(Protocol):
    pk: int


def stories_by(pick: Callable[[Loaders], tuple[Any, Any]], description: str) -> Any:
    """The `articles` field of a topic, a person or an author: one page of their published
    stories, through the paged and the count loaders `pick` chooses."""

    async def articles(
        root: _Parent,
        info: Info,
        first: Annotated[int | None, first_argument(10)] = None,
        after: After = None,
        order_by: ArticleOrder = ArticleOrder.NEWEST,
        last: Last = None,
        before: Before = None,
    ) -> Connection[Article]:
        loader, count_loader = pick(info.context.loaders)
        request = article_page(info, first, after, last, before, order_by)
        cache.read(cache.LIST)
        return await paged(loader, count_loader, root.pk, request, Article.from_row, article_key)

    return strawberry.field(resolver=articles, description=description)


@strawberry.type(description="A byline.")
class Author:
    pk: strawberry.Private[int]
    slug: str
    name: str

    articles = stories_by(
        lambda loaders: (loaders.articles_by_author, loaders.article_count_by_author),
        "Published stories with this byline, newest first by default.",
    )


@strawberry.type(description="A story.")
class Article(Node):
    pk: strawberry.Private[int]
    slug: str
    title: str
    dek: str | None = strawberry.field(description="The standfirst under the headline.")
    language: str
    status: enums.ArticleStatus
    published_at: datetime | None
    updated_at: datetime
    section_id: strawberry.Private[int]
    scheduled_at: datetime | None = strawberry.field(
        description="When a SCHEDULED story publishes itself (readers never see one before)."
    )
    loaded_body: strawberry.Private[list[dict[str, str]] | None] = None
    lead_image_id: strawberry.Private[int | None] = None

    @classmethod
    def from_row(cls, row: Any) -> Article:
        cache.read(cache.tag("article", row.id))
        return cls(
            id=to_global_id("Article", row.id),
            pk=row.id,
            slug=row.slug,
            title=row.title,
            dek=row.dek,
            language=row.language,
            status=ArticleStatus(row.status),
            published_at=row.published_at,
            updated_at=row.updated_at,
            # Rows of every read carry it but the search hits', whose stories are published.
            scheduled_at=getattr(row, "scheduled_at", None),
            section_id=row.section_id,
            loaded_body=getattr(row, "body", None),
            lead_image_id=row.lead_image_id,
        )

    @strawberry.field(
        description="The story's address on the reader site: PUBLIC_BASE_URL, else the "
        "address the request was sent to, and /articles/{slug}."
    )
    def url(self, info: Info) -> str:
        return info.context.base_url + urls.article_path(self.slug)

    @strawberry.field
    async def section(self, info: Info) -> Section:
        return Section.from_row(await info.context.loaders.section_by_id.load(self.section_id))

    @strawberry.field(description="Bylines in order.")
    async def authors(self, info: Info) -> list[Author]:
        rows = await info.context.loaders.authors_by_article.load(self.pk)
        return [Author(pk=row.id, slug=row.slug, name=row.name) for row in rows or ()]

    @strawberry.field(description="Topics in the order the newsroom gave them.")
    async def topics(self, info: Info) -> list[Annotated[Topic, strawberry.lazy("api.topic")]]:
        from api.topic import Topic

        rows = await info.context.loaders.topics_by_article.load(self.pk)
        return [Topic.from_row(row) for row in rows or ()]

    @strawberry.field(description="The picture at the top of the story, or null.")
    async def lead_image(self, info: Info) -> Image | None:
        if self.lead_image_id is None:
            return None
        row = await info.context.loaders.image_by_id.load(self.lead_image_id)
        return None if row is None else Image.from_row(row)

    @strawberry.field(description="Paragraphs, subheadings and pictures, in reading order.")
    async def body(self, info: Info) -> list[Block]:
        blocks = self.loaded_body
        if blocks is None:
            blocks = await info.context.loaders.body_by_article.load(self.pk) or []
        images = info.context.loaders.image_by_id
        pictures = [images.load(int(block["image"])) for block in blocks if "image" in block]
        rows = iter(await asyncio.gather(*pictures))
        return [_block(block, next(rows) if "image" in block else None) for block in blocks]

    @strawberry.field(description="People the story mentions, with the role it gives them.")
    async def people(self, info: Info) -> list[Annotated[Mention, strawberry.lazy("api.person")]]:
        from api.person import Mention

        rows = await info.context.loaders.mentions_by_article.load(self.pk)
        return [Mention.from_row(row) for row in rows or ()]

    @strawberry.field(description="Correction notes published under the story, oldest first.")
    async def corrections(self, info: Info) -> list[CorrectionNote]:
        rows = await info.context.loaders.correction_notes_by_article.load(self.pk)
        return [CorrectionNote(text=row.text, created_at=row.created_at) for row in rows or ()]

    @strawberry.field(description="Published comments on the story, replies included.")
    async def comment_count(self, info: Info) -> int:
        cache.read(cache.tag("comments", self.pk))
        return await info.context.loaders.comment_count_by_article.load(self.pk) or 0

    @strawberry.field(description="Published top-level comments, each with its replies.")
    async def comments(
        self,
        info: Info,
        first: Annotated[int | None, first_argument(20)] = None,
        after: After = None,
        order: CommentOrder = CommentOrder.OLDEST,
        last: Last = None,
        before: Before = None,
    ) -> Connection[Comment]:
        cache.read(cache.tag("comments", self.pk))
        loaders = info.context.loaders
        descending = order is CommentOrder.NEWEST
        request = page_request(info, first, after, last, before, COMMENT_KEY, descending=descending)
        return await paged(
            loaders.threads_by_article,
            loaders.thread_count_by_article,
            self.pk,
            request,
            Comment.from_row,
            comment_key,
        )

    @strawberry.field(
        description="Stories to read next (limit 0 to 20): similar words, same people and "
        "topics, recent, not all alike; never this story or a near-duplicate of it, and only "
        "published ones. Computed ahead by a background job: empty until it has run for a "
        "new story, and unaffected by the search engine."
    )
    async def related(self, info: Info, limit: int = 5) -> list[Article]:
        from api.related import related_of

        return await related_of(info, self.pk, limit)


def _block(block: dict[str, str], image: Any) -> Paragraph | Heading | ImageBlock:
    if "image" in block:
        # Images are never deleted, so a block's image is always there.
        caption = block["text"].strip() or image.caption
        return ImageBlock(image=Image.from_row(image), caption=caption)
    return _BLOCK_TYPES[block["type"]](text=block["text"])


ARTICLE_KEY = (datetime, int)


def article_key(row: Any) -> tuple[Any, ...]:
    return (row.published_at, row.id)


def article_page(
    info: Info,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    order_by: ArticleOrder,
) -> PageRequest:
    """A page of stories in publication order, as every list of published stories pages."""
    descending = order_by is ArticleOrder.NEWEST
    return page_request(info, first, after, last, before, ARTICLE_KEY, descending=descending)


@strawberry.type
class ArticleQuery:
    @strawberry.field(description="An author by their slug, or null (no published byline yet).")
    async def author(self, info: Info, slug: str) -> Author | None:
        row = await read(info.context.engine, article_model.author_by_slug, slug)
        # Null until their first story is published, which any publish may make true.
        cache.read(cache.LIST)
        return None if row is None else Author(pk=row.id, slug=row.slug, name=row.name)

    @strawberry.field(
        description="A published story by its slug, or null. With an editor token, drafts and "
        "unpublished stories too."
    )
    async def article(self, info: Info, slug: str) -> Article | None:
        query = (
            article_model.article_by_slug
            if can(info.context.viewer, Role.EDITOR)
            else article_model.published_article_by_slug
        )
        row = await read(info.context.engine, query, slug)
        if row is None:
            cache.read(cache.LIST)  # publishing a story with this slug must end the "not found"
            return None
        return Article.from_row(row)

    @strawberry.field(description="Published stories, newest first by default.")
    async def articles(
        self,
        info: Info,
        first: Annotated[int | None, first_argument(10)] = None,
        after: After = None,
        filter: ArticleFilter | None = None,
        order_by: ArticleOrder = ArticleOrder.NEWEST,
        last: Last = None,
        before: Before = None,
    ) -> Connection[Article]:
        cache.read(cache.LIST)
        where = filter.to_model() if filter else listing.ArticleFilter()
        request = article_page(info, first, after, last, before, order_by)
        return await read_page(
            info.context.engine,
            listing.published_articles,
            listing.count_published_articles,
            request,
            Article.from_row,
            article_key,
            where,
        )

    @strawberry.field(description="Every section, by name.")
    async def sections(self, info: Info) -> list[Section]:
        cache.read(cache.LIST)
        rows = await read(info.context.engine, article_model.sections)
        return [Section.from_row(row) for row in rows]
