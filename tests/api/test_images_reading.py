"""Readers and pictures: the article page's figure and cards, and the compiled path's answers
beside the resolvers' for stories with pictures."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import extruct
import httpx
import pytest
from PIL import Image as PILImage
from sqlalchemy.ext.asyncio import AsyncEngine

from api import compiled
from api.query_limits import Limits
from api.schema import build_schema
from api.services import SearchService
from api.settings import Settings
from models.session import ReadPool
from tests.conftest import gql, serve
from tests.support import PUBLISH, save

UPLOAD = """mutation ($file: Upload!) {
  uploadImage(file: $file, alt: "Rooftops at dusk", caption: "The old town", credit: "Ada Lens") {
    ... on ImageUploaded { image { id } }
  }
}"""
TYPENAMES = '{ article(slug: "new-story") { title body { __typename ... on Paragraph { text } } } }'
LEAD = '{ article(slug: "new-story") { title leadImage { alt url srcset width height } } }'
BLOCK = '{ article(slug: "new-story") { body { ... on ImageBlock { caption image { alt } } } } }'


def _jpeg() -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (1600, 900), (200, 120, 40)).save(out, "JPEG")
    return out.getvalue()


async def _story_with_pictures(client: httpx.AsyncClient, editor: dict) -> None:
    operations = {"query": UPLOAD, "variables": {"file": None}}
    answer = await client.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": ("dusk.jpg", _jpeg(), "image/jpeg")},
        headers=editor,
    )
    image_id = answer.json()["data"]["uploadImage"]["image"]["id"]
    body = [
        {"type": "PARAGRAPH", "text": "First."},
        {"type": "IMAGE", "text": "", "image": image_id},
        {"type": "PARAGRAPH", "text": "Last."},
    ]
    saved = await save(client, editor, leadImage=image_id, body=body)
    assert saved["__typename"] == "ArticleSaved"
    await gql(client, PUBLISH, {"slug": "new-story"}, editor)


@pytest.fixture
async def both(
    db: AsyncEngine, tmp_path: Path, editor: dict, news_section: None
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """The resolvers' app and the compiled one, over one story with a lead image and a
    picture in its body."""
    resolvers = Settings(data_dir=tmp_path, result_cache=False, compiled_queries=False)
    compiling = Settings(data_dir=tmp_path, result_cache=False, compiled_queries=True)
    async with serve(db, None, resolvers) as one, serve(db, None, compiling) as other:
        await _story_with_pictures(one, editor)
        yield one, other


@pytest.mark.parametrize("query", [TYPENAMES, LEAD, BLOCK], ids=["typenames", "lead", "block"])
async def test_both_paths_answer_the_same_bytes_for_stories_with_pictures(
    both: tuple[httpx.AsyncClient, httpx.AsyncClient], db: AsyncEngine, query: str
) -> None:
    answers = [await client.post("/graphql", json={"query": query}) for client in both]
    assert answers[0].content == answers[1].content
    assert "errors" not in answers[0].json()
    if db.dialect.name == "postgresql":
        # The compiler covers a picture block's type name, and leaves the pictures themselves
        # to the resolvers.
        pool = ReadPool(db.url, 1)
        try:
            found = await compiled.answer(build_schema(), pool, query, None, {}, Limits())
        finally:
            await pool.close()
        assert (found is not None) == (query is TYPENAMES)


async def test_the_article_page_shows_the_lead_image_and_cards_name_it(
    both: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    page = await both[0].get("/articles/new-story")
    html = page.text

    assert page.status_code == 200
    assert '<figure class="lead-image">' in html and '<figure class="body-image">' in html
    assert 'alt="Rooftops at dusk"' in html and 'width="1600" height="900"' in html
    assert 'sizes="(min-width: 44rem) 42rem, 100vw"' in html and "-640.webp 640w" in html
    assert "The old town" in html and '<span class="credit">Ada Lens</span>' in html
    meta = extruct.extract(html, base_url="http://test", syntaxes=["opengraph", "json-ld"])
    og = dict(meta["opengraph"][0]["properties"])
    assert og["og:image"].startswith("http://test/media/") and og["og:image"].endswith("-1600.jpg")
    assert 'name="twitter:card" content="summary_large_image"' in html
    news = next(item for item in meta["json-ld"] if item["@type"] == "NewsArticle")
    assert news["image"]["url"] == og["og:image"]
    served = await both[0].get(og["og:image"].removeprefix("http://test"))
    assert served.headers["content-type"] == "image/jpeg"


SEARCH = """{ search(query: "First") {
  hits { article { slug leadImage { alt url(width: 640) } } } } }"""


async def test_search_documents_and_hits_carry_the_lead_image(
    db: AsyncEngine, tmp_path: Path, editor: dict, news_section: None, search: SearchService
) -> None:
    async with serve(db, search, Settings(data_dir=tmp_path, result_cache=False)) as client:
        await _story_with_pictures(client, editor)
        await search.worker.drain()
        hits = (await gql(client, SEARCH))["search"]["hits"]
        client_ = search.client
        async with httpx.AsyncClient(base_url=client_.url) as meili:
            headers = client_._headers  # the client's own key
            found = await meili.get(f"/indexes/{client_.articles}/documents", headers=headers)

    assert [hit["article"]["slug"] for hit in hits] == ["new-story"]
    picture = hits[0]["article"]["leadImage"]
    assert picture["alt"] == "Rooftops at dusk"
    document = found.json()["results"][0]
    assert picture["url"] == "http://test/media/" + document["lead_image"]
    assert document["lead_image_alt"] == "Rooftops at dusk"
