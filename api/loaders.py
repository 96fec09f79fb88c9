"""Per-request DataLoaders, one per relation, named by what they load and by which key.

Each batch opens its own pooled connection: loaders of different relations run concurrently,
and one connection cannot serve two statements at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from strawberry.dataloader import DataLoader

from models import (
    article,
    comment,
    correction,
    images,
    listing,
    mentions,
    person,
    related,
    topic,
)

K = TypeVar("K", bound=Hashable)
A = TypeVar("A", bound=Hashable)
V = TypeVar("V")

Fetch = Callable[[AsyncConnection, Sequence[K]], Awaitable[dict[K, V]]]
FetchGrouped = Callable[[AsyncConnection, Sequence[K], A], Awaitable[dict[K, V]]]


class Loaders:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = reading(engine)
        by_key, grouped = self._by_key, self._grouped
        self.article_by_id = by_key(article.published_articles_by_ids)
        self.body_by_article = by_key(article.bodies_by_article)
        self.section_by_id = by_key(article.sections_by_ids)
        self.authors_by_article = by_key(article.authors_by_article)
        self.topic_by_id = by_key(topic.topics_by_ids)
        self.topics_by_article = by_key(topic.topics_by_article)
        self.person_by_id = by_key(person.people_by_ids)
        self.mentions_by_article = by_key(person.mentions_by_article)
        self.comment_by_id = by_key(comment.visible_comments_by_ids)
        self.comment_count_by_article = by_key(comment.comment_counts_by_article)
        self.correction_notes_by_article = by_key(correction.notes_by_article)
        self.thread_count_by_article = by_key(comment.thread_counts_by_article)
        self.reply_count_by_parent = by_key(comment.reply_counts_by_parent)
        self.article_count_by_topic = by_key(listing.count_published_articles_by_topic)
        self.article_count_by_person = by_key(listing.count_published_articles_by_person)
        self.article_count_by_author = by_key(listing.count_published_articles_by_author)
        self.facet_label = by_key(listing.names_by_kind_and_slug)
        self.image_by_id = by_key(images.images_by_ids)
        self.quotes_by_person = grouped(mentions.quotes_by_person)
        self.threads_by_article = grouped(comment.threads_by_article)
        self.replies_by_parent = grouped(comment.replies_by_parent)
        self.articles_by_topic = grouped(listing.published_articles_by_topic)
        self.articles_by_person = grouped(listing.published_articles_by_person)
        self.articles_by_author = grouped(listing.published_articles_by_author)
        # Keyed by (story, limit): every story of a page asks with the same limit, one statement.
        self.related_by_article = grouped(related.related_by_article)

    def _by_key(self, fetch: Fetch[K, V]) -> DataLoader[K, V | None]:
        async def load(keys: list[K]) -> list[V | None]:
            async with self._engine.connect() as conn:
                found = await fetch(conn, list(dict.fromkeys(keys)))
            return [found.get(key) for key in keys]

        return DataLoader(load_fn=load)

    def _grouped(self, fetch: FetchGrouped[K, A, V]) -> DataLoader[tuple[K, A], V]:
        """Keys are (parent, argument): a page request, or how many. Parents asking with the
        same argument share one statement."""

        async def load(keys: list[tuple[K, A]]) -> list[V]:
            parents_by_argument: dict[A, list[K]] = defaultdict(list)
            for parent, argument in dict.fromkeys(keys):
                parents_by_argument[argument].append(parent)
            found: dict[tuple[K, A], V] = {}
            async with self._engine.connect() as conn:
                for argument, parents in parents_by_argument.items():
                    rows = await fetch(conn, parents, argument)
                    found.update(((parent, argument), rows[parent]) for parent in parents)
            return [found[key] for key in keys]

        return DataLoader(load_fn=load)


# Built once per engine: deriving it costs about 27 µs, once per request and per root read.
@lru_cache(maxsize=8)
def reading(engine: AsyncEngine) -> AsyncEngine:
    """The engine for reads: on PostgreSQL the same pool in autocommit, since a read is one
    statement and without a transaction it costs one round trip instead of BEGIN, the statement
    and ROLLBACK. SQLite runs in-process: nothing to save there."""
    if engine.dialect.name != "postgresql":
        return engine
    return engine.execution_options(isolation_level="AUTOCOMMIT")


async def read(engine: AsyncEngine, query: Callable[..., Awaitable[V]], *args: Any) -> V:
    """Run one root-level read on its own pooled connection."""
    async with reading(engine).connect() as conn:
        return await query(conn, *args)
