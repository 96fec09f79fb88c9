"""The one-statement limit: the article page, without `related`, as ONE PostgreSQL statement.

A hand-written Starlette endpoint over asyncpg: PostgreSQL builds the whole answer with
`json_build_object` and `json_agg` (the story, its section, bylines, topics, body blocks, people
and comment count) and hands it back as bytes, which go out as they came: no ORM, no GraphQL, no
Python object per field, one round trip. It is what any server answering this page from this
database costs at least, the bar for our API's compiled path and for PostGraphile (which also
compiles a query into one statement, but through GraphQL). The answer is the same JSON as our API's
page without `related` (api/site/contract/article-page.graphql): bench/suite.py compares the two
for a sample of stories before measuring, and tests/test_bench.py on the sample story.

Served by `uvicorn bench.one_statement:app`, with DATABASE_URL.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import orjson
from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

# As many connections as PostGraphile is given (bench/postgraphile.py): wrk sends 8 at a time.
POOL_SIZE = 10


def _iso(column: str) -> str:
    """A timestamptz as Python's `isoformat()` writes it in UTC, as our API answers it
    (json_build_object would drop trailing zeros of the fraction and use the session's zone)."""
    utc = f"({column} AT TIME ZONE 'UTC')"
    return (
        f"to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || "
        f"CASE WHEN extract(microseconds FROM {utc})::bigint % 1000000 = 0 THEN '' "
        f"ELSE to_char({utc}, '.US') END || '+00:00'"
    )


# What readers may see, as models/ decides it: a published story that is not deleted
# (models.article.is_published); people whose mention is not suppressed, in the story's order
# (models.person.mentions_by_article); published comments, replies only under a published
# parent (models.comment.visible_comments). The id is api.relay.to_global_id's base64.
PAGE = f"""
SELECT convert_to(json_build_object('data', json_build_object('article', (
  SELECT json_build_object(
    'id', translate(encode(convert_to('Article:' || a.id, 'UTF8'), 'base64'), E'+/\\n', '-_'),
    'slug', a.slug,
    'title', a.title,
    'dek', a.dek,
    'section', json_build_object('slug', s.slug, 'name', s.name),
    'publishedAt', {_iso("a.published_at")},
    'updatedAt', {_iso("a.updated_at")},
    'authors', (
      SELECT coalesce(json_agg(json_build_object('name', au.name) ORDER BY aa.position), '[]')
      FROM article_authors aa JOIN authors au ON au.id = aa.author_id
      WHERE aa.article_id = a.id),
    'topics', (
      SELECT coalesce(
        json_agg(json_build_object('slug', t.slug, 'name', t.name) ORDER BY at.position), '[]')
      FROM article_topics at JOIN topics t ON t.id = at.topic_id
      WHERE at.article_id = a.id),
    'body', (
      SELECT coalesce(json_agg(json_build_object(
        '__typename', CASE block ->> 'type' WHEN 'heading' THEN 'Heading' ELSE 'Paragraph' END,
        'text', block -> 'text') ORDER BY n), '[]')
      FROM json_array_elements(a.body) WITH ORDINALITY AS blocks(block, n)),
    'people', (
      SELECT coalesce(json_agg(json_build_object(
        'mentionCount', m.mention_count,
        'role', m.role,
        'person', json_build_object('slug', p.slug, 'name', p.name)
      ) ORDER BY m.position, p.name), '[]')
      FROM mentions m JOIN people p ON p.id = m.person_id
      WHERE m.article_id = a.id AND NOT m.suppressed),
    'commentCount', (
      SELECT count(*)
      FROM comments c LEFT JOIN comments parent ON parent.id = c.parent_id
      WHERE c.article_id = a.id AND c.status = 'published'
        AND (c.parent_id IS NULL OR parent.status = 'published'))
  )
  FROM articles a JOIN sections s ON s.id = a.section_id
  WHERE a.slug = $1 AND a.status = 'published' AND a.deleted_at IS NULL
)))::text, 'UTF8')
"""


async def article_page(request: Request) -> Response:
    slug = orjson.loads(await request.body())["variables"]["slug"]
    pool: asyncpg.Pool = request.app.state.pool
    # bytea: the JSON's UTF-8 bytes as PostgreSQL sent them, never decoded to a str here.
    answer: bytes = await pool.fetchval(PAGE, slug)
    return Response(answer, media_type="application/json")


def dsn(database_url: str) -> str:
    """asyncpg's DSN for our SQLAlchemy URL (`postgresql+asyncpg://…` → `postgresql://…`)."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    pool = await asyncpg.create_pool(
        dsn(os.environ["DATABASE_URL"]), min_size=POOL_SIZE, max_size=POOL_SIZE
    )
    app.state.pool = pool
    try:
        yield
    finally:
        await pool.close()


app = Starlette(routes=[Route("/article", article_page, methods=["POST"])], lifespan=lifespan)
