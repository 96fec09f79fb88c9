"""Per-request DataLoaders, one per relation, named by what they load and by which key.

Each batch opens its own pooled connection: loaders of different relations run concurrently,
and one connection cannot serve two statements at once.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from strawberry.dataloader import DataLoader

from models import article, comment, document, listing, people, person, topic
from models.pagination import Page, PageRequest

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Fetch = Callable[[AsyncConnection, Sequence[K]], Awaitable[dict[K, V]]]
FetchPages = Callable[[AsyncConnection, Sequence[K], PageRequest], Awaitable[dict[K, Page]]]


class Loaders:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        by_key, paged = self._by_key, self._paged
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
        self.thread_count_by_article = by_key(comment.thread_counts_by_article)
        self.reply_count_by_parent = by_key(comment.reply_counts_by_parent)
        self.article_count_by_topic = by_key(listing.count_published_articles_by_topic)
        self.article_count_by_person = by_key(listing.count_published_articles_by_person)
        self.article_source_by_id = by_key(document.published_sources)
        self.quotes_by_person = self._limited(people.quotes_by_person)
        self.threads_by_article = paged(comment.threads_by_article)
        self.replies_by_parent = paged(comment.replies_by_parent)
        self.articles_by_topic = paged(listing.published_articles_by_topic)
        self.articles_by_person = paged(listing.published_articles_by_person)

    def _by_key(self, fetch: Fetch[K, V]) -> DataLoader[K, V | None]:
        async def load(keys: list[K]) -> list[V | None]:
            async with self._engine.connect() as conn:
                found = await fetch(conn, list(dict.fromkeys(keys)))
            return [found.get(key) for key in keys]

        return DataLoader(load_fn=load)

    def _paged(self, fetch: FetchPages[K]) -> DataLoader[tuple[K, PageRequest], Page]:
        """Keys are (parent, page request); parents asking for the same page share a statement."""

        async def load(keys: list[tuple[K, PageRequest]]) -> list[Page]:
            parents_by_request: dict[PageRequest, list[K]] = defaultdict(list)
            for parent, request in dict.fromkeys(keys):
                parents_by_request[request].append(parent)
            pages: dict[tuple[K, PageRequest], Page] = {}
            async with self._engine.connect() as conn:
                for request, parents in parents_by_request.items():
                    found = await fetch(conn, parents, request)
                    pages.update(((parent, request), found[parent]) for parent in parents)
            return [pages[key] for key in keys]

        return DataLoader(load_fn=load)

    def _limited(
        self, fetch: Callable[[AsyncConnection, Sequence[int], int], Awaitable[dict[int, Any]]]
    ) -> DataLoader[tuple[int, int], Any]:
        """Keys are (parent, how many); parents asking for as many share a statement."""

        async def load(keys: list[tuple[int, int]]) -> list[Any]:
            by_limit: dict[int, list[int]] = defaultdict(list)
            for parent, limit in dict.fromkeys(keys):
                by_limit[limit].append(parent)
            found: dict[tuple[int, int], Any] = {}
            async with self._engine.connect() as conn:
                for limit, parents in by_limit.items():
                    rows = await fetch(conn, parents, limit)
                    found.update(((parent, limit), rows[parent]) for parent in parents)
            return [found[key] for key in keys]

        return DataLoader(load_fn=load)


async def read(engine: AsyncEngine, query: Callable[..., Awaitable[V]], *args: Any) -> V:
    """Run one root-level read on its own pooled connection."""
    async with engine.connect() as conn:
        return await query(conn, *args)
