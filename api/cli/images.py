"""Lead images for the importer: files beside the JSON Lines file, or addresses fetched with a
time limit and a size limit (the importer itself, in models/, does no I/O of its own)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from api.images import media_store
from api.settings import Settings
from models.importer import ImageImport, LeadImageRecord, RecordError

FETCH_TIMEOUT = 20.0


class FeedImages:
    """Reads lead images for one feed: paths relative to `base`, URLs over HTTP(S)."""

    def __init__(self, base: Path, max_bytes: int) -> None:
        self.base = base
        self.max_bytes = max_bytes

    async def __call__(self, record: LeadImageRecord) -> bytes:
        if record.path is not None:
            return await asyncio.to_thread(self._read, self.base / record.path)
        assert record.url is not None
        return await self._fetch(record.url)

    def _read(self, path: Path) -> bytes:
        try:
            with path.open("rb") as file:
                data = file.read(self.max_bytes + 1)
        except OSError as exc:
            raise RecordError(f"lead_image.path: cannot read {path}: {exc.strerror}") from None
        return data  # over the limit, store_image refuses it by name

    async def _fetch(self, url: str) -> bytes:
        try:
            async with (
                httpx.AsyncClient(timeout=FETCH_TIMEOUT, follow_redirects=True) as client,
                client.stream("GET", url) as response,
            ):
                if response.status_code != 200:
                    raise RecordError(f"lead_image.url: {url} answered {response.status_code}")
                data = bytearray()
                async for chunk in response.aiter_bytes():
                    data += chunk
                    if len(data) > self.max_bytes:
                        break  # enough to be refused as too large, and no more is read
                return bytes(data)
        except httpx.HTTPError as exc:
            raise RecordError(f"lead_image.url: cannot fetch {url}: {exc}") from None


def feed_images(settings: Settings, feed: Path) -> ImageImport:
    """What the importer needs to store the lead images of the feed at `feed`."""
    return ImageImport(
        load=FeedImages(feed.resolve().parent, settings.max_image_bytes),
        store=media_store(settings),
        max_bytes=settings.max_image_bytes,
        max_pixels=settings.max_image_pixels,
    )
