"""GraphQL types for reader comments and their replies; no SQL here."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from api.context import Info
from api.node import Node
from api.relay import Connection, build_connection, page_request, to_global_id
from models.enums import CommentStatus as CommentStatusValue

if TYPE_CHECKING:
    from api.article import Article

COMMENT_KEY = (datetime, int)


def comment_key(row: Any) -> tuple[Any, ...]:
    return (row.created_at, row.id)


@strawberry.enum(description="Order of comments by time posted.")
class CommentOrder(Enum):
    OLDEST = "oldest"
    NEWEST = "newest"


@strawberry.enum(description="Where a comment is in moderation; readers only see PUBLISHED.")
class CommentStatus(Enum):
    PUBLISHED = CommentStatusValue.PUBLISHED.value
    PENDING = CommentStatusValue.PENDING.value
    REJECTED = CommentStatusValue.REJECTED.value


@strawberry.type(description="A reader's comment; its body is plain text, never HTML.")
class Comment(Node):
    pk: strawberry.Private[int]
    article_id: strawberry.Private[int]
    author_name: str | None = strawberry.field(description="Display name; null if anonymous.")
    body: str = strawberry.field(description="Plain text as written; render it as text.")
    is_spoiler: bool
    status: CommentStatus
    created_at: datetime

    @classmethod
    def from_row(cls, row: Any) -> Comment:
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
        self, info: Info, first: int = 5, after: str | None = None
    ) -> Connection[Comment]:
        loaders = info.context.loaders
        request = page_request(first, after, COMMENT_KEY, descending=False)
        page = await loaders.replies_by_parent.load((self.pk, request))

        async def total() -> int:
            return await loaders.reply_count_by_parent.load(self.pk) or 0

        return build_connection(page.rows, page.has_next_page, Comment.from_row, comment_key, total)

    @strawberry.field(description="The story the comment is on.")
    async def article(
        self, info: Info
    ) -> Annotated[Article, strawberry.lazy("api.article")] | None:
        from api.article import Article

        row = await info.context.loaders.article_by_id.load(self.article_id)
        return Article.from_row(row) if row is not None else None
