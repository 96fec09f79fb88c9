"""The raw limit: the article page written by hand as one Starlette endpoint, no GraphQL.

It reads the same rows with the same model queries, asks Meilisearch for the same related
stories, and answers the same JSON as `api/site/contract/article-page.graphql`. What our API costs
on top of this is what GraphQL execution costs. Served by `uvicorn bench.raw_limit:app`.
"""

from __future__ import annotations

import base64
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from models import article, comment, document, person, topic
from models.session import create_engine
from search import articles as search_articles
from search.client import SearchClient

RELATED = 4
_TYPENAMES = {"paragraph": "Paragraph", "heading": "Heading"}


def _global_id(type_name: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{pk}".encode()).decode()


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


async def article_page(request: Request) -> Response:
    slug = (await request.json())["variables"]["slug"]
    engine, search = request.app.state.engine, request.app.state.search
    async with engine.connect() as conn:
        row = await article.published_article_by_slug(conn, slug)
        if row is None:
            return Response(b'{"data":{"article":null}}', media_type="application/json")
        ids = [row.id]
        section = (await article.sections_by_ids(conn, [row.section_id]))[row.section_id]
        authors = (await article.authors_by_article(conn, ids))[row.id]
        topics = (await topic.topics_by_article(conn, ids))[row.id]
        mentions = (await person.mentions_by_article(conn, ids))[row.id]
        comments = (await comment.comment_counts_by_article(conn, ids))[row.id]
        source = (await document.published_sources(conn, ids))[row.id]
    related_ids = await search_articles.related_articles(search, source, RELATED)
    async with engine.connect() as conn:
        found = await article.published_articles_by_ids(conn, related_ids)
    related = [found[pk] for pk in related_ids if pk in found]
    page: dict[str, Any] = {
        "id": _global_id("Article", row.id),
        "slug": row.slug,
        "title": row.title,
        "dek": row.dek,
        "section": {"slug": section.slug, "name": section.name},
        "publishedAt": _time(row.published_at),
        "updatedAt": _time(row.updated_at),
        "authors": [{"name": a.name} for a in authors],
        "topics": [{"slug": t.slug, "name": t.name} for t in topics],
        "body": [{"__typename": _TYPENAMES[b["type"]], "text": b["text"]} for b in row.body],
        "people": [
            {
                "mentionCount": m.mention_count,
                "role": m.role,
                "person": {"slug": m.slug, "name": m.name},
            }
            for m in mentions
        ],
        "commentCount": comments,
        "related": [
            {"slug": r.slug, "title": r.title, "dek": r.dek, "publishedAt": _time(r.published_at)}
            for r in related
        ],
    }
    return Response(orjson.dumps({"data": {"article": page}}), media_type="application/json")


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    app.state.engine = create_engine(os.environ["DATABASE_URL"])
    app.state.search = SearchClient(
        os.environ["MEILI_URL"],
        os.environ.get("MEILI_MASTER_KEY"),
        prefix=os.environ.get("MEILI_INDEX_PREFIX", ""),
    )
    yield
    await app.state.search.aclose()
    await app.state.engine.dispose()


app = Starlette(routes=[Route("/article", article_page, methods=["POST"])], lifespan=lifespan)
