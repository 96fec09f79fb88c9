"""GraphQL types and queries for people mentioned in stories; no SQL here."""

from __future__ import annotations

from typing import Any

import strawberry

from api import cache
from api.article import Article, stories_by
from api.catalogue import by_name, by_slug
from api.context import Info
from api.errors import require_between
from api.node import Node
from api.relay import MAX_PAGE_SIZE, to_global_id
from models import person as person_model


@strawberry.type(description="Something a person said, quoted in a story.")
class Quote:
    text: str
    article: Article


@strawberry.type(description="A real person named in stories.")
class Person(Node):
    pk: strawberry.Private[int]
    slug: str
    name: str
    aliases: list[str] = strawberry.field(description="Other names the person appears under.")
    description: str | None

    @classmethod
    def from_row(cls, row: Any) -> Person:
        pk = getattr(row, "person_id", None) or row.id
        cache.read(cache.tag("person", pk))
        return cls(
            id=to_global_id("Person", pk),
            pk=pk,
            slug=row.slug,
            name=row.name,
            aliases=list(row.aliases or ()),
            description=row.description,
        )

    articles = stories_by(
        lambda loaders: (loaders.articles_by_person, loaders.article_count_by_person),
        "Published stories that mention the person, newest first.",
    )

    @strawberry.field(description="Direct quotes attributed to the person, newest story first.")
    async def quotes(self, info: Info, first: int = 5) -> list[Quote]:
        require_between("first", first, 0, MAX_PAGE_SIZE)
        cache.read(cache.LIST)
        loaders = info.context.loaders
        rows = await loaders.quotes_by_person.load((self.pk, first))
        articles = await loaders.article_by_id.load_many([row.article_id for row in rows])
        return [
            Quote(text=row.text, article=Article.from_row(article))
            for row, article in zip(rows, articles, strict=True)
            if article is not None
        ]


@strawberry.type(description="A person as a story mentions them.")
class Mention:
    person: Person
    role: str | None = strawberry.field(
        description='The role the story gives the person, e.g. "Kremlin spokesman".'
    )
    mention_count: int = strawberry.field(description="How often the story names the person.")

    @classmethod
    def from_row(cls, row: Any) -> Mention:
        return cls(person=Person.from_row(row), role=row.role, mention_count=row.mention_count)


@strawberry.type
class PersonQuery:
    person = by_slug(
        person_model.person_by_slug,
        Person,
        Person.from_row,
        "A person by slug, e.g. dmitry-peskov, or null.",
    )
    people = by_name(
        person_model.people,
        person_model.count_people,
        Person,
        Person.from_row,
        "Everyone mentioned in stories, alphabetically.",
    )
