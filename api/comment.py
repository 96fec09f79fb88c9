"""GraphQL types for reader comments and their replies; no SQL here."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import datetime
from enum import Enum
from types import SimpleNamespace
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from api import cache
from api.catalogue import root_list
from api.context import Info
from api.node import Node
from api.permissions import require
from api.relay import (
    After,
    Before,
    Connection,
    Last,
    first_argument,
    from_global_id,
    page_request,
    paged,
    to_global_id,
)
from api.results import NotFound, RateLimited, ValidationError
from models import comment as comment_model
from models import screening
from models.enums import CommentStatus as CommentStatusValue
from models.enums import Role
from models.errors import InvalidInput

if TYPE_CHECKING:
    from api.article import Article

COMMENT_KEY = (datetime, int)


def comment_key(row: Any) -> tuple[Any, ...]:
    return (row.created_at, row.id)


@strawberry.enum(description="Order of comments by time posted.")
class CommentOrder(Enum):
    OLDEST = "oldest"
    NEWEST = "newest"


# Registered on the models' class itself, which fields name (see api/article.py's ArticleStatus).
CommentStatus = strawberry.enum(
    CommentStatusValue,
    name="CommentStatus",
    description="Where a comment is in moderation; readers only see PUBLISHED.",
)


@strawberry.type(description="A reader's comment; its body is plain text, never HTML.")
class Comment(Node):
    pk: strawberry.Private[int]
    article_id: strawberry.Private[int]
    author_name: str | None = strawberry.field(description="Display name; null if anonymous.")
    body: str = strawberry.field(description="Plain text as written; render it as text.")
    is_spoiler: bool
    status: CommentStatusValue
    created_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> Comment:
        cache.read(cache.tag("comments", row.article_id))
        return cls(
            id=to_global_id("Comment", row.id),
            pk=row.id,
            article_id=row.article_id,
            author_name=row.author_name,
            body=row.body,
            is_spoiler=row.is_spoiler,
            status=CommentStatus(row.status),
            created_at=row.created_at,
        )

    @strawberry.field(description="Published replies to this comment.")
    async def reply_count(self, info: Info) -> int:
        return await info.context.loaders.reply_count_by_parent.load(self.pk) or 0

    @strawberry.field(description="Published replies, oldest first.")
    async def replies(
        self,
        info: Info,
        first: Annotated[int | None, first_argument(5)] = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[Comment]:
        loaders = info.context.loaders
        request = page_request(info, first, after, last, before, COMMENT_KEY, descending=False)
        return await paged(
            loaders.replies_by_parent,
            loaders.reply_count_by_parent,
            self.pk,
            request,
            Comment.from_row,
            comment_key,
        )

    @strawberry.field(description="The story the comment is on.")
    async def article(
        self, info: Info
    ) -> Annotated[Article, strawberry.lazy("api.article")] | None:
        from api.article import Article

        cache.read(cache.tag("article", self.article_id))
        row = await info.context.loaders.article_by_id.load(self.article_id)
        return Article.from_row(row) if row is not None else None


# Readers' writes and moderation ----------------------------------------------------------------


@strawberry.input(description="A reader's comment or reply; plain text, never HTML.")
class PostCommentInput:
    article_slug: str
    parent_id: strawberry.ID | None = strawberry.field(
        default=None, description="Reply to this comment; a reply to a reply joins its thread."
    )
    author_name: str = strawberry.field(description="Display name; empty for anonymous.")
    body: str = strawberry.field(description="1 to 5,000 characters after trimming.")
    is_spoiler: bool = False


@strawberry.type(description="The comment as stored: PUBLISHED, or PENDING moderation.")
class CommentPosted:
    comment: Comment


@strawberry.type
class CommentReported:
    received: bool = True


@strawberry.type
class CommentModerated:
    comment: Comment


@strawberry.type
class CommentsClosed:
    article_slug: str
    closed: bool


PostCommentResult = Annotated[
    CommentPosted | ValidationError | RateLimited, strawberry.union("PostCommentResult")
]
ReportCommentResult = Annotated[
    CommentReported | NotFound | RateLimited, strawberry.union("ReportCommentResult")
]
ModerateResult = Annotated[CommentModerated | NotFound, strawberry.union("ModerateCommentResult")]
CloseResult = Annotated[CommentsClosed | NotFound, strawberry.union("CloseCommentsResult")]


def _comment_pk(global_id: str, argument: str) -> int | None:
    type_name, pk = from_global_id(global_id, argument)
    return pk if type_name == "Comment" else None


def _reporter(info: Info) -> str:
    # Reports count once per reader; the address is kept only as a hash.
    return hashlib.sha256(info.context.client_address.encode()).hexdigest()


def _moderator(info: Info) -> None:
    require(info.context.viewer, Role.MODERATOR, bad_token=info.context.bad_token)


async def _moderate(info: Info, id: strawberry.ID, status: CommentStatusValue) -> ModerateResult:
    _moderator(info)
    pk = _comment_pk(id, "id")
    if pk is None:
        return NotFound(message="no such comment")
    async with info.context.write() as session:
        comment = await comment_model.moderate(session, pk, status)
        row = _row(comment) if comment else None
    if row is None:
        return NotFound(message="no such comment")
    return CommentModerated(comment=Comment.from_row(row))


def _row(comment: Any) -> Any:
    return SimpleNamespace(**{c.key: getattr(comment, c.key) for c in comment.__table__.c})


async def _close(info: Info, slug: str, closed: bool) -> CloseResult:
    _moderator(info)
    async with info.context.write() as session:
        article = await comment_model.set_comments_closed(session, slug, closed)
    if article is None:
        return NotFound(message=f"no story {slug!r}")
    return CommentsClosed(article_slug=slug, closed=closed)


@strawberry.type
class CommentMutation:
    @strawberry.mutation(description="Post a comment or reply; screened comments wait as PENDING.")
    async def post_comment(self, info: Info, input: PostCommentInput) -> PostCommentResult:
        context = info.context
        parent = None
        if input.parent_id is not None:
            parent = _comment_pk(input.parent_id, "parentId")
            if parent is None:
                return ValidationError(field="parentId", message="not a comment ID")
        # Screening reads the whole text (570 ms for 900 KB): lengths are checked before it,
        # as the model checks them, and a refused comment does not count against the limit.
        if not 1 <= len(input.body.strip()) <= comment_model.MAX_BODY:
            return ValidationError(
                field="body", message=f"write 1 to {comment_model.MAX_BODY} characters"
            )
        if len((input.author_name or "").strip()) > comment_model.MAX_AUTHOR_NAME:
            message = f"at most {comment_model.MAX_AUTHOR_NAME} characters"
            return ValidationError(field="authorName", message=message)
        assert context.services is not None  # every served request has them (api/view.py)
        wait = await context.services.rate_limits.retry_after("comment", context.client_address)
        if wait is not None:
            return RateLimited(retry_after_seconds=wait)
        verdict = await asyncio.to_thread(screening.screen, input.body, input.author_name)
        try:
            async with context.write() as session:
                comment = await comment_model.post_comment(
                    session,
                    article_slug=input.article_slug,
                    parent_id=parent,
                    author_name=input.author_name,
                    body=input.body,
                    is_spoiler=input.is_spoiler,
                    needs_moderation=verdict.needs_moderation,
                )
                row = _row(comment)
        except InvalidInput as exc:
            return ValidationError.of(exc)
        return CommentPosted(comment=Comment.from_row(row))

    @strawberry.mutation(description="Report a comment; enough reports send it to moderation.")
    async def report_comment(
        self, info: Info, id: strawberry.ID, reason: str | None = None
    ) -> ReportCommentResult:
        context = info.context
        pk = _comment_pk(id, "id")
        if pk is None:
            return NotFound(message="no such comment")
        assert context.services is not None  # every served request has them (api/view.py)
        wait = await context.services.rate_limits.retry_after("report", context.client_address)
        if wait is not None:
            return RateLimited(retry_after_seconds=wait)
        async with context.write() as session:
            comment = await comment_model.report_comment(
                session,
                pk,
                _reporter(info),
                (reason or "")[:500] or None,
                context.services.settings.reports_to_hide,
            )
        if comment is None:
            return NotFound(message="no such comment")
        return CommentReported()

    @strawberry.mutation(description="Moderators: publish a held comment.")
    async def approve_comment(self, info: Info, id: strawberry.ID) -> ModerateResult:
        return await _moderate(info, id, CommentStatusValue.PUBLISHED)

    @strawberry.mutation(description="Moderators: reject a comment; readers never see it.")
    async def reject_comment(self, info: Info, id: strawberry.ID) -> ModerateResult:
        return await _moderate(info, id, CommentStatusValue.REJECTED)

    @strawberry.mutation(description="Moderators: stop new comments on a story.")
    async def close_comments(self, info: Info, article_slug: str) -> CloseResult:
        return await _close(info, article_slug, True)

    @strawberry.mutation(description="Moderators: allow comments on a story again.")
    async def reopen_comments(self, info: Info, article_slug: str) -> CloseResult:
        return await _close(info, article_slug, False)


@strawberry.type
class CommentQuery:
    moderation_queue = root_list(
        comment_model.pending_comments,
        comment_model.count_pending,
        Comment,
        Comment.from_row,
        comment_key,
        COMMENT_KEY,
        page_size=20,
        descending=False,
        description="Moderators: comments waiting for a decision, oldest first.",
        check=_moderator,
    )
