"""Where image files live: a small store interface and the local one, under DATA_DIR.

Files are named by content (`{sha256}-{width}.{ext}`), so a name never changes what it holds:
writing one twice is harmless and readers may cache them for ever. An S3-compatible store
implements the same two methods (see docs/configuration.md, MEDIA_URL); only the local one is
built here.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

# What a stored name may be: our own names only, so a request path can never leave the store.
KEY = re.compile(r"^[0-9a-f]{64}-[0-9]{1,5}\.(jpg|webp)$")


class MediaStore(Protocol):
    """Stores rendition files by name; names come from `models.renditions.key`."""

    async def put(self, key: str, data: bytes) -> None:
        """Store `data` under `key` (the same key always holds the same bytes)."""
        ...

    async def get(self, key: str) -> bytes | None:
        """The bytes stored under `key`, or None."""
        ...


class LocalMediaStore:
    """Files in a directory, two levels deep by the hash's first characters."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        if not KEY.match(key):
            raise ValueError(f"not a media key: {key!r}")
        return self.root / key[:2] / key

    async def put(self, key: str, data: bytes) -> None:
        await asyncio.to_thread(self._write, self.path(key), data)

    async def get(self, key: str) -> bytes | None:
        if not KEY.match(key):
            return None
        return await asyncio.to_thread(self._read, self.path(key))

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        if path.exists():
            return  # content-addressed: it already holds these bytes
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed, so a reader never sees half a file.
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".part-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    @staticmethod
    def _read(path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
