"""Status enums stored as short strings; shared by models and, through them, the API."""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa


class ArticleStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    UNPUBLISHED = "unpublished"
    # Set to publish itself at `articles.scheduled_at` (models/scheduling.py); readers see
    # nothing of it until then.
    SCHEDULED = "scheduled"


class CommentStatus(StrEnum):
    PUBLISHED = "published"
    PENDING = "pending"
    REJECTED = "rejected"


class Role(StrEnum):
    EDITOR = "editor"
    MODERATOR = "moderator"


class CorrectionStatus(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class BlockType(StrEnum):
    PARAGRAPH = "paragraph"
    HEADING = "heading"
    IMAGE = "image"


def string_enum(enum: type[StrEnum], name: str) -> sa.Enum:
    """A portable enum column: a VARCHAR with a CHECK constraint, no native PostgreSQL type.

    Native enum types need their own migrations for every new value; a CHECK does not.
    """
    return sa.Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        # 16 fits every status; longer names (a webhook event's) get room for themselves.
        length=max(16, *(len(member.value) for member in enum)),
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )
