"""Loading stories from JSON Lines: validation of each record and idempotent upserts by slug."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any, Protocol

import sqlalchemy as sa
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic import ValidationError as PydanticValidationError
from slugify import slugify
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models.article import Article, ArticleAuthor, ArticleTopic, Author, Section, text_hash
from models.base import utcnow
from models.comment import Comment
from models.enums import ArticleStatus, BlockType, CommentStatus
from models.errors import InvalidInput
from models.images import Upload, store_image
from models.media import MediaStore
from models.outbox import Priority, enqueue_articles
from models.topic import Topic

SLUG_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
BATCH_SIZE = 200
# SQLite has one writer at a time, and a waiting writer retries every 100 ms at most: an
# import beside the server commits small batches and pauses after each, or the server's own
# writes (an editor's publish) wait out their busy timeout and fail.
SQLITE_BATCH_SIZE = 50
SQLITE_PAUSE_SECONDS = 0.1

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class _Record(BaseModel):
    # A misspelt key is a mistake in the feed, not something to drop silently.
    model_config = ConfigDict(extra="forbid", frozen=True)


class BlockRecord(_Record):
    type: BlockType
    text: Text

    @model_validator(mode="after")
    def _no_pictures(self) -> BlockRecord:
        # A picture in the body needs an uploaded image; feeds bring a lead image only.
        if self.type is BlockType.IMAGE:
            raise ValueError("image blocks are not imported; give the story a lead_image")
        return self


class LeadImageRecord(_Record):
    """A story's picture: a file (relative to the JSON Lines file) or an address to fetch."""

    path: Annotated[str, StringConstraints(min_length=1)] | None = None
    url: Annotated[str, StringConstraints(pattern=r"^https?://", max_length=2000)] | None = None
    alt: Text
    caption: str | None = None
    credit: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> LeadImageRecord:
        if (self.path is None) == (self.url is None):
            raise ValueError("give a path or a url, one of them")
        return self


class ImageLoader(Protocol):
    """Reads a lead image's bytes (api/cli: files beside the feed, or HTTP with limits);
    raises RecordError when it cannot."""

    async def __call__(self, record: LeadImageRecord) -> bytes: ...


@dataclass(frozen=True)
class ImageImport:
    """What the importer needs to store lead images; without it they are skipped, counted."""

    load: ImageLoader
    store: MediaStore
    max_bytes: int
    max_pixels: int


class CommentRecord(_Record):
    id: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    author_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = (
        None
    )
    body: Annotated[str, StringConstraints(min_length=1)]
    is_spoiler: bool = False
    parent_id: str | None = None
    status: CommentStatus = CommentStatus.PUBLISHED
    created_at: AwareDatetime | None = None


class ArticleRecord(_Record):
    slug: Annotated[str, StringConstraints(pattern=SLUG_PATTERN, max_length=200)]
    title: Text
    dek: str | None = None
    section: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    published_at: AwareDatetime | None = None
    updated_at: AwareDatetime | None = None
    authors: list[Text] = Field(default_factory=list)
    language: Annotated[str, StringConstraints(min_length=2, max_length=16)] = "en"
    status: ArticleStatus = ArticleStatus.PUBLISHED
    topics: list[Text] = Field(default_factory=list)
    body: Annotated[list[BlockRecord], Field(min_length=1)]
    comments: list[CommentRecord] = Field(default_factory=list)
    source: str | None = None
    source_id: str | None = None
    lead_image: LeadImageRecord | None = None

    def content_hash(self) -> str:
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()


class RecordError(ValueError):
    """A record that is well-formed JSON but cannot be stored as it stands."""


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    # Lead images not stored because the caller gave no ImageImport (tests' plain imports).
    images_skipped: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.errors)


def parse_line(line: str) -> ArticleRecord:
    """Validate one JSON Lines record; raises RecordError with a readable reason."""
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        raise RecordError(f"not valid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(raw, dict):
        raise RecordError("expected a JSON object")
    try:
        record = ArticleRecord.model_validate(raw)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "record"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise RecordError(f"{where}: {first['msg']}{more}") from None
    if record.status is ArticleStatus.PUBLISHED and record.published_at is None:
        raise RecordError("published_at: required for a published story")
    known: set[str] = set()
    for comment in record.comments:
        if comment.parent_id is not None and comment.parent_id not in known:
            raise RecordError(f"comments: parent {comment.parent_id!r} must come before its reply")
        if comment.id is not None:
            known.add(comment.id)
    return record


def display_name(label: str) -> str:
    """A feed may name a section by slug ("news") or by name ("World News")."""
    return label.replace("-", " ").title() if label == slugify(label) else label


class _Upserter:
    """Writes records through one session, remembering the rows it looked up or created."""

    def __init__(
        self, session: AsyncSession, images: ImageImport | None, report: ImportReport
    ) -> None:
        self.session = session
        self.images = images
        self.report = report
        self._ids: dict[tuple[type, str], int] = {}

    async def _id_for(self, model: type[Section | Author | Topic], label: str) -> int:
        slug = slugify(label)
        if not slug:
            raise RecordError(f"{model.__tablename__}: {label!r} has no letters or digits")
        key = (model, slug)
        if key not in self._ids:
            found = await self.session.scalar(sa.select(model.id).where(model.slug == slug))
            if found is None:
                row = model(slug=slug, name=display_name(label) if model is Section else label)
                self.session.add(row)
                await self.session.flush()
                found = row.id
            self._ids[key] = found
        return self._ids[key]

    async def upsert(self, record: ArticleRecord) -> str:
        digest = record.content_hash()
        article = await self.session.scalar(sa.select(Article).where(Article.slug == record.slug))
        if article is not None and article.import_hash == digest:
            return "unchanged"
        outcome = "updated" if article is not None else "created"
        # Look up related rows before touching the article: a lookup autoflushes the session.
        section_id = await self._id_for(Section, record.section)
        topic_ids = [await self._id_for(Topic, name) for name in record.topics]
        author_ids = [await self._id_for(Author, name) for name in record.authors]
        lead_image_id = await self._lead_image(record.lead_image)
        if article is None:
            article = Article(slug=record.slug)
            self.session.add(article)
        article.title = record.title
        article.dek = record.dek or None
        article.body = [block.model_dump(mode="json") for block in record.body]
        article.section_id = section_id
        article.status = record.status
        article.language = record.language
        article.source = record.source
        article.source_id = record.source_id
        article.published_at = record.published_at
        # A feed without edit times: the story was last updated when it was published.
        article.updated_at = record.updated_at or record.published_at or utcnow()
        article.import_hash = digest
        article.lead_image_id = lead_image_id
        article.content_hash = text_hash(article.title, article.dek, article.body)
        await self.session.flush()
        await self._replace_links(article.id, topic_ids, author_ids)
        await self._add_comments(article, record)
        # An import of thousands of stories must not delay an editor's publish in search.
        enqueue_articles(self.session, [article.id], Priority.BULK)
        return outcome

    async def _lead_image(self, spec: LeadImageRecord | None) -> int | None:
        if spec is None:
            return None
        if self.images is None:
            self.report.images_skipped += 1
            return None
        data = await self.images.load(spec)
        upload = Upload(data, spec.alt, spec.caption, spec.credit)
        try:
            image = await store_image(
                self.session,
                self.images.store,
                upload,
                "import",
                max_bytes=self.images.max_bytes,
                max_pixels=self.images.max_pixels,
            )
        except InvalidInput as exc:
            raise RecordError(f"lead_image.{exc.field}: {exc.message}") from None
        return image.id

    async def _replace_links(
        self, article_id: int, topic_ids: list[int], author_ids: list[int]
    ) -> None:
        await self.session.execute(
            sa.delete(ArticleTopic).where(ArticleTopic.article_id == article_id)
        )
        await self.session.execute(
            sa.delete(ArticleAuthor).where(ArticleAuthor.article_id == article_id)
        )
        self.session.add_all(
            ArticleTopic(article_id=article_id, topic_id=topic_id, position=position)
            for position, topic_id in enumerate(dict.fromkeys(topic_ids))
        )
        self.session.add_all(
            ArticleAuthor(article_id=article_id, author_id=author_id, position=position)
            for position, author_id in enumerate(dict.fromkeys(author_ids))
        )

    async def _add_comments(self, article: Article, record: ArticleRecord) -> None:
        """Add the record's comments that are not stored yet; stored ones are left as they are,
        since moderators may have acted on them since the last import."""
        if not record.comments:
            return
        existing = dict(
            (
                await self.session.execute(
                    sa.select(Comment.external_id, Comment.id).where(
                        Comment.article_id == article.id
                    )
                )
            ).all()
        )
        start = record.published_at or utcnow()
        for position, item in enumerate(record.comments, start=1):
            external_id = item.id or _comment_digest(item)
            if external_id in existing:
                continue
            comment = Comment(
                article_id=article.id,
                parent_id=existing.get(item.parent_id) if item.parent_id else None,
                author_name=item.author_name or None,
                body=item.body,
                is_spoiler=item.is_spoiler,
                status=item.status,
                # Without a timestamp in the feed, keep the feed's order after publication.
                created_at=item.created_at or start + timedelta(minutes=position),
                external_id=external_id,
            )
            self.session.add(comment)
            await self.session.flush()
            existing[external_id] = comment.id


def _comment_digest(item: CommentRecord) -> str:
    text = json.dumps([item.author_name, item.body, item.parent_id], ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


async def import_lines(
    sessions: async_sessionmaker[AsyncSession],
    lines: Iterable[str],
    on_progress: Callable[[int], Any] | None = None,
    images: ImageImport | None = None,
) -> ImportReport:
    """Import JSON Lines records; each bad line is reported by number and skipped.

    Records are written in batches, one transaction each. When a batch fails in the database,
    it is retried a record at a time so that only the bad record is lost, and never half of it.
    """
    report = ImportReport()
    batch: list[tuple[int, ArticleRecord]] = []
    bind = sessions.kw.get("bind")
    sqlite = bind is not None and bind.dialect.name == "sqlite"
    batch_size = SQLITE_BATCH_SIZE if sqlite else BATCH_SIZE

    async def flush() -> None:
        if batch:
            await _write_batch(sessions, batch, report, images)
            if on_progress:
                on_progress(len(batch))
            batch.clear()
            if sqlite:
                await asyncio.sleep(SQLITE_PAUSE_SECONDS)

    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            batch.append((number, parse_line(line)))
        except RecordError as exc:
            report.errors.append((number, str(exc)))
            if on_progress:
                on_progress(1)
        if len(batch) >= batch_size:
            await flush()
    await flush()
    return report


async def _write_batch(
    sessions: async_sessionmaker[AsyncSession],
    batch: list[tuple[int, ArticleRecord]],
    report: ImportReport,
    images: ImageImport | None,
) -> None:
    try:
        async with sessions.begin() as session:
            upserter = _Upserter(session, images, report)
            outcomes = [await upserter.upsert(record) for _, record in batch]
    except (sa.exc.SQLAlchemyError, RecordError):
        outcomes = []
        for number, record in batch:
            try:
                async with sessions.begin() as session:
                    outcomes.append(await _Upserter(session, images, report).upsert(record))
            except (sa.exc.SQLAlchemyError, RecordError) as exc:
                report.errors.append((number, _describe(exc)))
    for outcome in outcomes:
        setattr(report, outcome, getattr(report, outcome) + 1)


def _describe(exc: Exception) -> str:
    if isinstance(exc, sa.exc.DBAPIError):
        return f"rejected by the database: {str(exc.orig).splitlines()[0]}"
    return str(exc)
