"""Domain models and their SQL: SQLAlchemy 2 tables, queries and migrations; no GraphQL, no HTTP."""

from models.article import (
    Article,
    ArticleAuthor,
    ArticleRevision,
    ArticleTopic,
    Author,
    Section,
)
from models.base import Base
from models.comment import Comment, CommentReport
from models.correction import Correction, CorrectionNote
from models.enums import ArticleStatus, BlockType, CommentStatus, CorrectionStatus, Role
from models.images import Image
from models.outbox import OutboxEntry
from models.person import Mention, Person
from models.related import RelatedArticle, RelatedChange, RelatedState
from models.token import ApiToken
from models.topic import Topic
from models.webhook import Webhook, WebhookDelivery, WebhookEvent

__all__ = [
    "ApiToken",
    "Article",
    "ArticleAuthor",
    "ArticleRevision",
    "ArticleStatus",
    "ArticleTopic",
    "Author",
    "Base",
    "BlockType",
    "Comment",
    "CommentReport",
    "CommentStatus",
    "Correction",
    "CorrectionNote",
    "CorrectionStatus",
    "Image",
    "Mention",
    "OutboxEntry",
    "Person",
    "RelatedArticle",
    "RelatedChange",
    "RelatedState",
    "Role",
    "Section",
    "Topic",
    "Webhook",
    "WebhookDelivery",
    "WebhookEvent",
]

# Imported for its flush listener: every session notes what it changed (see models.changes).
from models import changes as changes
