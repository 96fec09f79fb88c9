"""GraphQL for related stories: the lists the related-stories job stored (models/related.py),
read from SQL, so `related` answers whether or not the search engine does; no SQL here."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from api import cache
from api.context import Info
from api.errors import require_between

if TYPE_CHECKING:
    from api.article import Article

MAX_RELATED = 20


def list_tags(article_ids: Iterable[int]) -> set[str]:
    """What to drop from the result cache when these stories' lists changed: every page that
    showed a list read its story (`article:N`)."""
    return {cache.tag("article", article_id) for article_id in article_ids}


async def related_of(info: Info, article_id: int, limit: int) -> list[Article]:
    """The story's related stories that are published now, best first."""
    from api.article import Article

    require_between("limit", limit, 0, MAX_RELATED)
    cache.read(*list_tags([article_id]))
    if limit == 0:
        return []
    rows = await info.context.loaders.related_by_article.load((article_id, limit))
    return [Article.from_row(row) for row in rows]
