"""Decoding an uploaded picture and making its renditions with Pillow; no SQL, no I/O here.

Everything here is CPU work on bytes in memory: callers run it off the event loop
(`asyncio.to_thread`). Renditions are re-encoded from the decoded pixels and saved without the
upload's EXIF, GPS or XMP metadata (only the colour profile is kept, so colours stay right).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from models.errors import InvalidInput

# Pillow's format names of what we accept, and how editors know them.
ACCEPTED = {"JPEG": "jpeg", "PNG": "png", "WEBP": "webp"}
ACCEPTED_NAMES = "JPEG, PNG or WebP"
# Rendition widths: phones, tablets, desktops, high-density desktops. Never upscaled: a picture
# narrower than one of these gets its own width as its largest rendition instead.
WIDTHS = (320, 640, 1024, 1600)
# Rendition formats: WebP for browsers (smaller), JPEG for everything else (Open Graph readers).
FORMATS = {"webp": "image/webp", "jpg": "image/jpeg"}
_QUALITY = {"webp": 80, "jpg": 82}


@dataclass(frozen=True, slots=True)
class Rendition:
    key: str
    width: int
    height: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Decoded:
    """An accepted upload: its hash, format and size (upright), and every rendition."""

    sha256: str
    format: str
    width: int
    height: int
    renditions: list[Rendition]


def key(sha256: str, width: int, ext: str) -> str:
    """The stored file name of one rendition."""
    return f"{sha256}-{width}.{ext}"


def widths_for(width: int) -> list[int]:
    """The rendition widths of a picture this wide, smallest first."""
    return sorted({w for w in WIDTHS if w < width} | {min(width, WIDTHS[-1])})


def height_at(width: int, height: int, at: int) -> int:
    """The height of the rendition `at` pixels wide (proportions kept)."""
    return max(1, round(height * at / width))


def decode(data: bytes, max_pixels: int) -> Decoded:
    """Check an upload and make its renditions; InvalidInput("file", ...) if it is refused."""
    try:
        # Pillow's own bomb check warns past MAX_IMAGE_PIXELS and raises past twice that; ours
        # below comes first for anything over `max_pixels`, from the header alone.
        picture = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise InvalidInput("file", f"not a picture we can read: send {ACCEPTED_NAMES}") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidInput("file", _too_many_pixels(max_pixels)) from None
    with picture:
        kind = picture.format or ""
        if kind not in ACCEPTED:
            raise InvalidInput(
                "file", f"{kind or 'this'} pictures are not accepted: send {ACCEPTED_NAMES}"
            )
        width, height = picture.size
        if width * height > max_pixels:
            raise InvalidInput("file", f"{width}x{height}: " + _too_many_pixels(max_pixels))
        if kind == "JPEG":
            # Decode at a fraction of the size when even the largest rendition is far smaller.
            picture.draft("RGB", (WIDTHS[-1], height_at(width, height, WIDTHS[-1])))
        try:
            picture.load()
            upright = ImageOps.exif_transpose(picture)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            raise InvalidInput("file", "the picture is damaged or cut short") from None
    profile = picture.info.get("icc_profile")
    digest = hashlib.sha256(data).hexdigest()
    # The size as readers see it (a portrait photo's EXIF turns it upright), at full scale.
    if upright.size[0] != picture.size[0]:
        width, height = height, width
    return Decoded(
        sha256=digest,
        format=ACCEPTED[kind],
        width=width,
        height=height,
        renditions=_renditions(upright, digest, width, height, profile),
    )


def _too_many_pixels(max_pixels: int) -> str:
    return f"over {max_pixels:,} pixels (MAX_IMAGE_PIXELS); send a smaller picture"


def _renditions(
    picture: Image.Image, digest: str, width: int, height: int, profile: bytes | None
) -> list[Rendition]:
    has_alpha = picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info
    rgba = picture.convert("RGBA" if has_alpha else "RGB")
    # JPEG has no transparency: transparent parts go white, as on the page behind them.
    if has_alpha:
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
    else:
        flat = rgba
    made = []
    for at in widths_for(width):
        size = (at, height_at(width, height, at))
        for ext in FORMATS:
            source = rgba if ext == "webp" else flat
            scaled = (
                source if source.size == size else source.resize(size, Image.Resampling.LANCZOS)
            )
            # A fresh image: nothing of the upload's info (EXIF, XMP, comments) rides along.
            clean = Image.new(scaled.mode, scaled.size)
            clean.paste(scaled)
            out = io.BytesIO()
            options: dict[str, object] = {"quality": _QUALITY[ext]}
            if profile:
                options["icc_profile"] = profile
            if ext == "jpg":
                clean.save(out, "JPEG", optimize=True, progressive=True, **options)
            else:
                clean.save(out, "WEBP", method=4, **options)
            made.append(Rendition(key(digest, at, ext), size[0], size[1], out.getvalue()))
    return made
