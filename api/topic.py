"""GraphQL types and queries for topics; no SQL here."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from api import cache
from api.article import stories_by
from api.context import Info
from api.loaders import read
from api.node import Node
from api.relay import (
    NAME_KEY,
    After,
    Before,
    Connection,
    Last,
    alphabetical,
    first_argument,
    page_request,
    to_global_id,
)
from models import topic as topic_model


@strawberry.type(description="A subject stories are filed under, such as War in Ukraine.")
class Topic(Node):
    pk: strawberry.Private[int]
    slug: str
    name: str
    description: str | None

    @classmethod
    def from_row(cls, row: Any) -> Topic:
        cache.read(cache.tag("topic", row.id))
        return cls(
            id=to_global_id("Topic", row.id),
            pk=row.id,
            slug=row.slug,
            name=row.name,
            description=row.description,
        )

    articles = stories_by(
        lambda loaders: (loaders.articles_by_topic, loaders.article_count_by_topic),
        "Published stories on this topic, newest first by default.",
    )


@strawberry.type
class TopicQuery:
    @strawberry.field(description="A topic by its slug, or null.")
    async def topic(self, info: Info, slug: str) -> Topic | None:
        row = await read(info.context.engine, topic_model.topic_by_slug, slug)
        if row is None:
            cache.read(cache.LIST)
            return None
        return Topic.from_row(row)

    @strawberry.field(description="All topics, alphabetically.")
    async def topics(
        self,
        info: Info,
        first: Annotated[int | None, first_argument(50)] = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
    ) -> Connection[Topic]:
        return await alphabetical(
            info.context.engine,
            topic_model.topics,
            topic_model.count_topics,
            page_request(info, first, after, last, before, NAME_KEY, descending=False),
            Topic.from_row,
        )
