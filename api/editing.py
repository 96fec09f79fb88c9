"""Editors' mutations and queries: stories, revisions, sections, topics and people.

Every resolver starts with `require(..., Role.EDITOR)`: a missing or insufficient token is a
top-level UNAUTHENTICATED or FORBIDDEN error and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

import strawberry

from api.article import ARTICLE_KEY, Article
from api.catalogue import root_list
from api.context import Info
from api.errors import BadUserInput
from api.loaders import read
from api.permissions import require
from api.person import Person
from api.relay import from_global_id
from api.results import NotFound, ValidationError
from api.topic import Topic
from models import catalogue, drafts, editing, enums, mentions, scheduling
from models.article import Article as ArticleRow
from models.base import utcnow
from models.enums import Role
from models.errors import InvalidInput, NotFoundError

R = TypeVar("R")

# Registered on the models' class itself, which fields name (see api/article.py's ArticleStatus).
BlockType = strawberry.enum(enums.BlockType, name="BlockType")


@strawberry.input(description="A body block: a paragraph, a subheading or a picture.")
class BlockInput:
    type: enums.BlockType
    text: str = strawberry.field(
        default="", description="The text; for an IMAGE block its caption (empty: the image's)."
    )
    image: strawberry.ID | None = strawberry.field(
        default=None, description="IMAGE blocks: the ID uploadImage gave the picture."
    )

    def to_draft(self, number: int) -> tuple[str, str] | tuple[str, str, int]:
        if self.image is None:
            return (self.type.value, self.text)
        return (self.type.value, self.text, _image_pk(self.image, "body", f"block {number}: "))


def _image_pk(global_id: str, field: str, where: str = "") -> int:
    try:
        kind, pk = from_global_id(global_id, field)
    except BadUserInput:
        kind, pk = "", 0
    if kind != "Image":
        raise InvalidInput(field, f"{where}{global_id!r} is not an image's ID")
    return pk


@strawberry.input(description="A story as an editor saves it; created or updated by slug.")
class ArticleInput:
    slug: str
    title: str
    dek: str | None = None
    section: str = strawberry.field(description="The slug of an existing section.")
    authors: list[str] | None = None
    topics: list[str] | None = strawberry.field(
        default=None, description="Topic names; new names create topics."
    )
    body: list[BlockInput]
    language: str = "en"
    lead_image: strawberry.ID | None = strawberry.field(
        default=None, description="The ID uploadImage gave the picture at the top; null: none."
    )

    def to_draft(self) -> editing.ArticleDraft:
        return editing.ArticleDraft(
            slug=self.slug,
            title=self.title,
            dek=self.dek,
            section=self.section,
            body=[block.to_draft(n) for n, block in enumerate(self.body, 1)],
            authors=self.authors or (),
            topics=self.topics or (),
            language=self.language,
            lead_image=None if self.lead_image is None else _image_pk(self.lead_image, "leadImage"),
        )


@strawberry.type(description="The story as it was saved.")
class ArticleSaved:
    article: Article


@strawberry.type(description="One save of a story: who, when and which fields changed.")
class Revision:
    number: int
    editor: str
    created_at: datetime
    changes: list[str]
    title: str


@strawberry.type
class SectionSaved:
    slug: str
    name: str


@strawberry.type
class TopicSaved:
    topic: Topic


@strawberry.type
class PersonSaved:
    person: Person


SaveResult = Annotated[ArticleSaved | ValidationError, strawberry.union("SaveArticleResult")]
ArticleResult = Annotated[ArticleSaved | NotFound, strawberry.union("ArticleResult")]
PublishResult = Annotated[
    ArticleSaved | ValidationError | NotFound, strawberry.union("PublishArticleResult")
]
RestoreResult = Annotated[
    ArticleSaved | ValidationError | NotFound, strawberry.union("RestoreRevisionResult")
]
SectionResult = Annotated[SectionSaved | ValidationError, strawberry.union("SectionResult")]
TopicResult = Annotated[TopicSaved | ValidationError | NotFound, strawberry.union("TopicResult")]
PersonResult = Annotated[PersonSaved | ValidationError | NotFound, strawberry.union("PersonResult")]


def _editor(info: Info) -> str:
    return require(info.context.viewer, Role.EDITOR, bad_token=info.context.bad_token).name


async def _article_saved(info: Info, article: ArticleRow) -> ArticleSaved:
    row = await read(info.context.engine, drafts.article_row, article.id)
    return ArticleSaved(article=Article.from_row(row))


async def _write(info: Info, action: Any) -> Any:
    """Run one write in its own transaction (see `Context.write`)."""
    async with info.context.write() as session:
        return await action(session)


@strawberry.type
class EditorMutation:
    @strawberry.mutation(description="Create a story as a draft, or update it; keeps a revision.")
    async def save_article(self, info: Info, input: ArticleInput) -> SaveResult:
        editor = _editor(info)
        try:
            saved = await _write(info, lambda s: editing.save_article(s, input.to_draft(), editor))
        except InvalidInput as exc:
            return ValidationError.of(exc)
        return await _article_saved(info, saved.article)

    @strawberry.mutation(
        description="Publish a story now: it appears to readers and in search. With a future "
        "`at`, schedule it instead (status SCHEDULED, invisible to readers until then, when it "
        "publishes itself); calling again with another `at` reschedules it."
    )
    async def publish_article(
        self, info: Info, slug: str, at: datetime | None = None
    ) -> PublishResult:
        if at is None:
            return await _transition(info, editing.publish, slug)
        return await _scheduling(info, lambda s: scheduling.schedule(s, slug, at, utcnow()), slug)

    @strawberry.mutation(description="Take a story off the schedule; it goes back to the desk.")
    async def cancel_scheduled_publish(self, info: Info, slug: str) -> PublishResult:
        return await _scheduling(info, lambda s: scheduling.cancel(s, slug, utcnow()), slug)

    @strawberry.mutation(description="Take a story down: readers and search no longer see it.")
    async def unpublish_article(self, info: Info, slug: str) -> ArticleResult:
        return await _transition(info, editing.unpublish, slug)

    @strawberry.mutation(description="Delete a story (recoverable with restoreArticle).")
    async def delete_article(self, info: Info, slug: str) -> ArticleResult:
        return await _transition(info, editing.delete, slug)

    @strawberry.mutation(description="Bring back a deleted story as it was.")
    async def restore_article(self, info: Info, slug: str) -> ArticleResult:
        return await _transition(info, editing.restore, slug)

    @strawberry.mutation(description="Put a story back as a revision left it (a new revision).")
    async def restore_revision(self, info: Info, slug: str, number: int) -> RestoreResult:
        editor = _editor(info)
        try:
            saved = await _write(info, lambda s: editing.restore_revision(s, slug, number, editor))
        except NotFoundError:
            return NotFound(message=f"no story {slug!r}")
        except InvalidInput as exc:
            return ValidationError.of(exc)
        return await _article_saved(info, saved.article)

    @strawberry.mutation
    async def create_section(self, info: Info, name: str) -> SectionResult:
        _editor(info)
        try:
            section = await _write(info, lambda s: catalogue.create_section(s, name))
        except InvalidInput as exc:
            return ValidationError.of(exc)
        return SectionSaved(slug=section.slug, name=section.name)

    @strawberry.mutation
    async def create_topic(
        self, info: Info, name: str, description: str | None = None
    ) -> TopicResult:
        _editor(info)
        return await _topic(info, lambda s: catalogue.create_topic(s, name, description))

    @strawberry.mutation(description="Rename a topic; its slug stays, search follows at once.")
    async def rename_topic(self, info: Info, slug: str, name: str) -> TopicResult:
        _editor(info)
        return await _topic(info, lambda s: catalogue.rename_topic(s, slug, name))

    @strawberry.mutation
    async def create_person(
        self,
        info: Info,
        name: str,
        aliases: list[str] | None = None,
        description: str | None = None,
    ) -> PersonResult:
        _editor(info)
        return await _person(
            info, lambda s: catalogue.create_person(s, name, aliases or [], description)
        )

    @strawberry.mutation(description="Rename a person; the old name stays as an alias.")
    async def rename_person(self, info: Info, slug: str, name: str) -> PersonResult:
        _editor(info)
        return await _person(info, lambda s: catalogue.rename_person(s, slug, name))

    @strawberry.mutation
    async def add_person_alias(self, info: Info, slug: str, alias: str) -> PersonResult:
        _editor(info)
        return await _person(info, lambda s: catalogue.add_person_alias(s, slug, alias))

    @strawberry.mutation(
        description="Keep a person on a story whatever extraction finds, with this role."
    )
    async def pin_person(
        self, info: Info, article_slug: str, person_slug: str, role: str | None = None
    ) -> ArticleResult:
        _editor(info)
        return await _on_story(
            info,
            article_slug,
            person_slug,
            lambda s, a, p: mentions.pin_person(s, a, p, role),
        )

    @strawberry.mutation(description="Take a person off a story; extraction won't add them back.")
    async def remove_person(self, info: Info, article_slug: str, person_slug: str) -> ArticleResult:
        _editor(info)
        return await _on_story(info, article_slug, person_slug, mentions.remove_person)

    @strawberry.mutation(description="Merge `from` into `into`, with all mentions; `from` goes.")
    async def merge_people(
        self, info: Info, from_: Annotated[str, strawberry.argument(name="from")], into: str
    ) -> PersonResult:
        _editor(info)
        return await _person(info, lambda s: catalogue.merge_people(s, from_, into))


async def _transition(info: Info, action: Any, slug: str) -> ArticleResult:
    _editor(info)
    try:
        article = await _write(info, lambda s: action(s, slug))
    except NotFoundError:
        return NotFound(message=f"no story {slug!r}")
    return await _article_saved(info, article)


async def _scheduling(info: Info, action: Any, slug: str) -> PublishResult:
    _editor(info)
    try:
        article = await _write(info, action)
    except NotFoundError:
        return NotFound(message=f"no story {slug!r}")
    except InvalidInput as exc:
        return ValidationError.of(exc)
    return await _article_saved(info, article)


async def _on_story(info: Info, article_slug: str, person_slug: str, action: Any) -> ArticleResult:
    async def run(session: Any) -> ArticleRow | None:
        article, person_id = await drafts.story_and_person(session, article_slug, person_slug)
        if article is None or person_id is None:
            return None
        await action(session, article.id, person_id)
        return article

    article = await _write(info, run)
    if article is None:
        return NotFound(message=f"no story {article_slug!r} or no person {person_slug!r}")
    return await _article_saved(info, article)


async def _catalogue(
    info: Info, action: Any, kind: str, saved: Callable[[Any], R]
) -> R | NotFound | ValidationError:
    """A write to a topic or a person: `saved(row)`, or NotFound naming the `kind` and slug the
    models did not find, or the models' ValidationError."""
    try:
        row = await _write(info, action)
    except NotFoundError as exc:
        return NotFound(message=f"no {kind} {exc}")
    except InvalidInput as exc:
        return ValidationError.of(exc)
    return saved(row)


async def _topic(info: Info, action: Any) -> TopicResult:
    return await _catalogue(
        info, action, "topic", lambda row: TopicSaved(topic=Topic.from_row(row))
    )


async def _person(info: Info, action: Any) -> PersonResult:
    return await _catalogue(
        info, action, "person", lambda row: PersonSaved(person=Person.from_row(row))
    )


@strawberry.type
class EditorQuery:
    drafts = root_list(
        drafts.unpublished_page,
        drafts.unpublished_count,
        Article,
        Article.from_row,
        lambda r: (r.updated_at, r.id),
        ARTICLE_KEY,
        page_size=20,
        descending=True,
        description="Editors: stories not published (drafts, scheduled and taken down).",
        check=_editor,
    )

    @strawberry.field(description="Editors: every save of a story, newest first.")
    async def revisions(self, info: Info, slug: str) -> list[Revision]:
        _editor(info)
        rows = await read(info.context.engine, drafts.revisions_of, slug)
        return [
            Revision(
                number=r.number,
                editor=r.editor,
                created_at=r.created_at,
                changes=list(r.changes),
                title=r.snapshot["title"],
            )
            for r in rows
        ]
