"""Domain models and their SQL: SQLAlchemy 2 tables, queries and migrations; no GraphQL, no HTTP."""

from models.article import Article, ArticleAuthor, ArticleTopic, Author, Section
from models.base import Base
from models.comment import Comment
from models.enums import ArticleStatus, BlockType, CommentStatus
from models.outbox import OutboxEntry
from models.person import Mention, Person
from models.topic import Topic

__all__ = [
    "Article",
    "ArticleAuthor",
    "ArticleStatus",
    "ArticleTopic",
    "Author",
    "Base",
    "BlockType",
    "Comment",
    "CommentStatus",
    "Mention",
    "OutboxEntry",
    "Person",
    "Section",
    "Topic",
]
