"""GraphQL types and queries for topics; no SQL here."""

from __future__ import annotations

from typing import Any

import strawberry

from api import cache
from api.article import stories_by
from api.catalogue import by_name, by_slug
from api.node import Node
from api.relay import to_global_id
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
    topic = by_slug(
        topic_model.topic_by_slug, Topic, Topic.from_row, "A topic by its slug, or null."
    )
    topics = by_name(
        topic_model.topics,
        topic_model.count_topics,
        Topic,
        Topic.from_row,
        "All topics, alphabetically.",
    )
