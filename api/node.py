"""The Node interface and `node(id:)`: any object fetched back by its global ID."""

from __future__ import annotations

import strawberry

from api import cache
from api.context import Info
from api.relay import from_global_id


@strawberry.interface(description="An object with a global ID, fetchable with `node(id:)`.")
class Node:
    id: strawberry.ID = strawberry.field(description="Opaque global ID.")


async def resolve_node(info: Info, id: strawberry.ID) -> Node | None:
    from api.article import Article, Section
    from api.comment import Comment
    from api.images import Image
    from api.person import Person
    from api.topic import Topic

    type_name, pk = from_global_id(id)
    loaders = info.context.loaders
    kinds = {
        "Article": (loaders.article_by_id, Article.from_row),
        "Section": (loaders.section_by_id, Section.from_row),
        "Topic": (loaders.topic_by_id, Topic.from_row),
        "Person": (loaders.person_by_id, Person.from_row),
        "Comment": (loaders.comment_by_id, Comment.from_row),
        "Image": (loaders.image_by_id, Image.from_row),
    }
    if type_name not in kinds:
        return None
    loader, build = kinds[type_name]
    row = await loader.load(pk)
    if row is None:
        cache.read(cache.LIST, cache.ANY_COMMENT)  # it may yet be published, or approved
        return None
    return build(row)
