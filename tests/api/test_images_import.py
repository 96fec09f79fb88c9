"""Lead images in imported feeds: a file beside the feed or an address, stored as uploads are."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from api.cli.images import feed_images
from api.settings import Settings
from models import Article, Image
from models.importer import import_lines
from tests.conftest import SAMPLE

DEMO = SAMPLE.parent


@pytest.fixture
def pictures_server() -> Iterator[str]:
    """A real HTTP server handing out the demo's pictures."""
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(DEMO / "images")
    )
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def _with_image(**lead_image: object) -> str:
    record = json.loads(SAMPLE.read_text().splitlines()[0])
    record["lead_image"] = {"alt": "An illustration", **lead_image}
    return json.dumps(record)


async def _lead_images(engine: AsyncEngine) -> list[tuple[int, int, str]]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            sa.select(Image.width, Image.height, Image.alt).join(
                Article, Article.lead_image_id == Image.id
            )
        )
        return [tuple(row) for row in rows]


async def test_the_demo_story_is_imported_with_its_lead_image(
    sessions: async_sessionmaker[AsyncSession], db: AsyncEngine, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path)
    lines = SAMPLE.read_text().splitlines()

    report = await import_lines(sessions, lines, images=feed_images(settings, SAMPLE))

    assert report.errors == [] and report.created == 2
    [(width, height, alt)] = await _lead_images(db)
    assert (width, height) == (1600, 900) and alt.startswith("An illustration")
    assert len(list((tmp_path / "media").rglob("*.webp"))) == 4


async def test_a_lead_image_is_fetched_by_address(
    sessions: async_sessionmaker[AsyncSession],
    db: AsyncEngine,
    tmp_path: Path,
    pictures_server: str,
) -> None:
    feed = tmp_path / "feed.jsonl"
    line = _with_image(url=f"{pictures_server}/taurus-illustration.jpg")

    report = await import_lines(
        sessions, [line], images=feed_images(Settings(data_dir=tmp_path), feed)
    )

    assert report.errors == []
    assert [w for w, _, _ in await _lead_images(db)] == [1600]


@pytest.mark.parametrize(
    ("lead_image", "message"),
    [
        ({"path": "images/missing.jpg"}, "lead_image.path: cannot read"),
        ({"path": "sample-articles.jsonl"}, "lead_image.file: not a picture"),
        ({"url": "{server}/missing.jpg"}, "answered 404"),
        ({"path": "images/taurus-illustration.jpg", "alt": " "}, "lead_image.alt"),
        ({"alt": "no source"}, "a path or a url"),
    ],
)
async def test_a_bad_lead_image_is_reported_and_stores_nothing(
    sessions: async_sessionmaker[AsyncSession],
    db: AsyncEngine,
    tmp_path: Path,
    pictures_server: str,
    lead_image: dict,
    message: str,
) -> None:
    if "url" in lead_image:
        lead_image = {"url": lead_image["url"].format(server=pictures_server)}
    settings = Settings(data_dir=tmp_path)

    report = await import_lines(
        sessions, [_with_image(**lead_image)], images=feed_images(settings, SAMPLE)
    )

    assert len(report.errors) == 1 and message in report.errors[0][1]
    async with db.connect() as conn:
        assert (await conn.execute(sa.select(sa.func.count()).select_from(Image))).scalar() == 0
        assert (await conn.execute(sa.select(sa.func.count()).select_from(Article))).scalar() == 0
    assert not (tmp_path / "media").exists()
