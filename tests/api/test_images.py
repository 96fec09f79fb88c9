"""Pictures: uploads over the GraphQL multipart request spec, what is refused, the renditions
served, and stories with a lead image and image blocks."""

from __future__ import annotations

import io
import json
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from PIL import Image as PILImage
from sqlalchemy.ext.asyncio import AsyncEngine

from api.settings import Settings
from models import Image
from tests.conftest import gql, make_token, serve
from tests.support import PUBLISH, save

UPLOAD = """mutation ($file: Upload!, $alt: String!, $caption: String, $credit: String) {
  uploadImage(file: $file, alt: $alt, caption: $caption, credit: $credit) {
    __typename
    ... on ImageUploaded { image { id width height alt caption credit url srcset
                                   small: url(width: 300) webp: url(format: WEBP) } }
    ... on ValidationError { field message }
  }
}"""
STORY = """query ($slug: String!) {
  article(slug: $slug) {
    leadImage { alt caption credit width height url(width: 640) }
    body { __typename ... on Paragraph { text }
           ... on ImageBlock { caption image { alt url } } }
  }
}"""


@pytest.fixture
async def images(db: AsyncEngine, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(data_dir=tmp_path, max_image_bytes=300_000, max_image_pixels=5_000_000)
    async with serve(db, None, settings) as client:
        yield client


def picture(fmt: str = "JPEG", size: tuple[int, int] = (1200, 800), **options: object) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", size, (30, 90, 160)).save(out, fmt, **options)
    return out.getvalue()


def gps_jpeg() -> bytes:
    exif = PILImage.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif.get_ifd(0x8825)[2] = (51.0, 30.0, 0.0)  # GPSLatitude
    exif[0x0112] = 1
    return picture(exif=exif.tobytes())


async def upload(
    client: httpx.AsyncClient,
    headers: dict,
    data: bytes,
    alt: str = "A blue field",
    name: str = "photo.jpg",
    status: int = 200,
    **variables: object,
) -> dict:
    operations = {"query": UPLOAD, "variables": {"file": None, "alt": alt, **variables}}
    response = await client.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": (name, data, "application/octet-stream")},
        headers=headers,
    )
    assert response.status_code == status, response.text
    return response.json()


async def stored(engine: AsyncEngine, root: Path) -> tuple[int, list[Path]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(sa.func.count()).select_from(Image))).scalar_one()
    return rows, sorted(p for p in (root / "media").rglob("*") if p.is_file())


async def test_an_editor_uploads_a_picture_and_its_renditions_are_served_for_ever(
    images: httpx.AsyncClient, editor: dict, db: AsyncEngine, tmp_path: Path
) -> None:
    answer = await upload(images, editor, picture(), caption=" Sky ", credit="Staff")

    image = answer["data"]["uploadImage"]["image"]
    assert (image["width"], image["height"], image["alt"]) == (1200, 800, "A blue field")
    assert (image["caption"], image["credit"]) == ("Sky", "Staff")
    assert image["url"].endswith("-1024.jpg") is False and image["url"].endswith("-1200.jpg")
    assert image["small"].endswith("-320.jpg") and image["webp"].endswith("-1200.webp")
    assert [part.rsplit(" ", 1)[1] for part in image["srcset"].split(", ")] == [
        "320w",
        "640w",
        "1024w",
        "1200w",
    ]
    served = await images.get(image["small"].removeprefix("http://test"))
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/jpeg"
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert PILImage.open(io.BytesIO(served.content)).size == (320, 213)
    webp = await images.get(image["webp"].removeprefix("http://test"))
    assert webp.headers["content-type"] == "image/webp"
    assert PILImage.open(io.BytesIO(webp.content)).format == "WEBP"
    rows, files = await stored(db, tmp_path)
    assert rows == 1 and len(files) == 8  # four widths, two formats
    assert (await images.get("/media/" + "0" * 64 + "-320.jpg")).status_code == 404
    assert (await images.get("/media/..%2Fnewsroom.db")).status_code == 404


async def test_renditions_carry_no_exif_or_gps(images: httpx.AsyncClient, editor: dict) -> None:
    original = gps_jpeg()
    assert PILImage.open(io.BytesIO(original)).getexif().get_ifd(0x8825)

    image = (await upload(images, editor, original))["data"]["uploadImage"]["image"]

    for url in (image["url"], image["webp"], image["small"]):
        served = await images.get(url.removeprefix("http://test"))
        out = PILImage.open(io.BytesIO(served.content))
        assert "exif" not in out.info and len(out.getexif()) == 0
        assert b"PhoneMaker" not in served.content


def huge_png_header() -> bytes:
    """A tiny PNG claiming 30,000 x 30,000 pixels: a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 30_000, 30_000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1000)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    ("data", "alt", "field", "words"),
    [
        (b"hello, not a picture", "x", "file", "JPEG, PNG or WebP"),
        (
            picture("GIF", (200, 100)),
            "x",
            "file",
            "GIF pictures are not accepted: send JPEG",
        ),
        (picture("TIFF", (200, 100)), "x", "file", "TIFF pictures are not accepted"),
        (b'<svg xmlns="http://www.w3.org/2000/svg"/>', "x", "file", "JPEG, PNG or WebP"),
        (b"", "x", "file", "empty"),
        (picture("PNG", (400, 300), compress_level=0), "x", "file", "MAX_IMAGE_BYTES"),
        (huge_png_header(), "x", "file", "MAX_IMAGE_PIXELS"),
        (picture()[:2000], "x", "file", "damaged"),
        (picture(), "", "alt", "describe the picture"),
        (picture(), "   ", "alt", "describe the picture"),
    ],
    ids=["text", "gif", "tiff", "svg", "empty", "too-big", "bomb", "cut-short", "no-alt", "blank"],
)
async def test_a_bad_upload_is_refused_and_stores_nothing(
    images: httpx.AsyncClient,
    editor: dict,
    db: AsyncEngine,
    tmp_path: Path,
    data: bytes,
    alt: str,
    field: str,
    words: str,
) -> None:
    answer = (await upload(images, editor, data, alt=alt))["data"]["uploadImage"]

    assert answer["__typename"] == "ValidationError"
    assert answer["field"] == field and words in answer["message"]
    assert await stored(db, tmp_path) == (0, [])


async def test_an_upload_far_over_the_limit_is_refused_before_it_is_read(
    images: httpx.AsyncClient, editor: dict, db: AsyncEngine, tmp_path: Path
) -> None:
    operations = {"query": UPLOAD, "variables": {"file": None, "alt": "x"}}
    response = await images.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": ("big.jpg", b"\xff" * 1_200_000, "image/jpeg")},
        headers=editor,
    )
    assert response.status_code == 413
    assert "MAX_IMAGE_BYTES" in response.json()["errors"][0]["message"]
    assert await stored(db, tmp_path) == (0, [])


async def test_only_editors_upload(
    images: httpx.AsyncClient, db: AsyncEngine, tmp_path: Path
) -> None:
    moderator = await make_token(db, "moderator")
    for headers, code in (({}, "UNAUTHENTICATED"), (moderator, "FORBIDDEN")):
        answer = await upload(images, headers, picture())
        assert answer["data"] is None
        assert answer["errors"][0]["extensions"]["code"] == code
    foreign = await upload(images, {"Origin": "https://elsewhere.example"}, picture(), status=403)
    assert foreign["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert await stored(db, tmp_path) == (0, [])


async def test_a_story_has_a_lead_image_and_image_blocks(
    images: httpx.AsyncClient, editor: dict, news_section: None
) -> None:
    image = (await upload(images, editor, picture(), caption="Sky"))["data"]["uploadImage"]
    image_id = image["image"]["id"]
    body = [
        {"type": "PARAGRAPH", "text": "First."},
        {"type": "IMAGE", "image": image_id},
        {"type": "IMAGE", "text": "The same sky, later", "image": image_id},
    ]
    saved = await save(images, editor, leadImage=image_id, body=body)
    assert saved["__typename"] == "ArticleSaved"
    await gql(images, PUBLISH, {"slug": "new-story"}, editor)

    article = (await gql(images, STORY, {"slug": "new-story"}))["article"]

    assert article["leadImage"]["alt"] == "A blue field"
    assert article["leadImage"]["url"].endswith("-640.jpg")
    assert [b["__typename"] for b in article["body"]] == ["Paragraph", "ImageBlock", "ImageBlock"]
    assert [b["caption"] for b in article["body"][1:]] == ["Sky", "The same sky, later"]
    again = await save(images, editor, leadImage=None, body=body[:1])
    assert again["__typename"] == "ArticleSaved"
    assert (await gql(images, STORY, {"slug": "new-story"}))["article"]["leadImage"] is None


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"leadImage": "SW1hZ2U6OTk5OQ=="}, "leadImage"),  # Image:9999
        ({"leadImage": "QXJ0aWNsZTox"}, "leadImage"),  # Article:1
        ({"leadImage": "nonsense"}, "leadImage"),
        ({"body": [{"type": "IMAGE", "image": "SW1hZ2U6OTk5OQ=="}]}, "body"),
        ({"body": [{"type": "IMAGE", "text": "no image"}]}, "body"),
        ({"body": [{"type": "PARAGRAPH", "text": "x", "image": "SW1hZ2U6OTk5OQ=="}]}, "body"),
    ],
)
async def test_an_unknown_image_is_a_validation_error(
    images: httpx.AsyncClient, editor: dict, news_section: None, changes: dict, field: str
) -> None:
    saved = await save(images, editor, **changes)
    assert saved["__typename"] == "ValidationError" and saved["field"] == field
