"""GraphQL types for pictures, the editors' `uploadImage`, and the /media route that serves
renditions; no SQL here (models/images.py), no Pillow here (models/renditions.py)."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

import strawberry
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from strawberry.file_uploads import Upload

from api.context import Info
from api.errors import BadUserInput
from api.node import Node
from api.permissions import require
from api.relay import to_global_id
from api.results import ValidationError
from api.settings import Settings
from models import images as image_model
from models import renditions
from models.enums import Role
from models.errors import InvalidInput
from models.media import KEY, LocalMediaStore, MediaStore

IMMUTABLE = "public, max-age=31536000, immutable"


@strawberry.enum(description="A rendition's file format.")
class ImageFormat(Enum):
    JPEG = "jpg"
    WEBP = "webp"


def media_store(settings: Settings) -> MediaStore:
    return LocalMediaStore(settings.resolved_media_dir)


def _media_base(info: Info) -> str:
    settings = info.context.services.settings if info.context.services else Settings()
    configured = settings.media_url.strip().rstrip("/")
    return configured or info.context.base_url + "/media"


@strawberry.type(description="A picture, in renditions of several widths; not upscaled.")
class Image(Node):
    pk: strawberry.Private[int]
    sha256: strawberry.Private[str]
    width: int = strawberry.field(description="The picture's width in pixels, upright.")
    height: int = strawberry.field(description="The picture's height in pixels, upright.")
    alt: str = strawberry.field(description="Text for readers who cannot see the picture.")
    caption: str | None
    credit: str | None = strawberry.field(description="Who took or made the picture.")

    @classmethod
    def from_row(cls, row: Any) -> Image:
        return cls(
            id=to_global_id("Image", row.id),
            pk=row.id,
            sha256=row.sha256,
            width=row.width,
            height=row.height,
            alt=row.alt,
            caption=row.caption,
            credit=row.credit,
        )

    def widths(self) -> list[int]:
        return renditions.widths_for(self.width)

    @strawberry.field(
        description="A rendition's address: the narrowest at least `width` pixels wide (the "
        "widest there is without `width`, or when none is that wide)."
    )
    def url(
        self, info: Info, width: int | None = None, format: ImageFormat = ImageFormat.JPEG
    ) -> str:
        if width is not None and width < 1:
            raise BadUserInput("width", "a number of pixels, at least 1")
        widths = self.widths()
        chosen = next((w for w in widths if width is not None and w >= width), widths[-1])
        return f"{_media_base(info)}/{renditions.key(self.sha256, chosen, format.value)}"

    @strawberry.field(description="Every rendition for an <img srcset>: `url 320w, url 640w`.")
    def srcset(self, info: Info, format: ImageFormat = ImageFormat.JPEG) -> str:
        base = _media_base(info)
        return ", ".join(
            f"{base}/{renditions.key(self.sha256, w, format.value)} {w}w" for w in self.widths()
        )


@strawberry.type(description="A picture in the body of a story.")
class ImageBlock:
    image: Image
    caption: str | None = strawberry.field(
        description="The block's own caption, else the picture's."
    )


@strawberry.type(description="The picture as it was stored.")
class ImageUploaded:
    image: Image


UploadImageResult = Annotated[
    ImageUploaded | ValidationError, strawberry.union("UploadImageResult")
]


async def _read(file: Any, limit: int) -> bytes:
    # One byte past the limit tells an upload over it from one exactly at it.
    data = await file.read(limit + 1)
    return bytes(data)


@strawberry.type
class ImageMutation:
    @strawberry.mutation(
        description="Editors: upload a JPEG, PNG or WebP picture (the GraphQL multipart "
        "request spec). Its renditions are made at once, without its EXIF or GPS metadata."
    )
    async def upload_image(
        self,
        info: Info,
        file: Upload,
        alt: str,
        caption: str | None = None,
        credit: str | None = None,
    ) -> UploadImageResult:
        editor = require(info.context.viewer, Role.EDITOR, bad_token=info.context.bad_token).name
        services = info.context.services
        settings = services.settings if services is not None else Settings()
        upload = image_model.Upload(
            await _read(file, settings.max_image_bytes), alt, caption, credit
        )
        try:
            async with info.context.write() as session:
                row = await image_model.store_image(
                    session,
                    media_store(settings),
                    upload,
                    editor,
                    max_bytes=settings.max_image_bytes,
                    max_pixels=settings.max_image_pixels,
                )
        except InvalidInput as exc:
            return ValidationError.of(exc)
        return ImageUploaded(image=Image.from_row(row))


async def media(request: Request) -> Response:
    """One rendition, by its content-addressed name: cacheable for ever."""
    name = request.path_params["name"]
    settings: Settings = request.app.state.services.settings
    data = await media_store(settings).get(name) if KEY.match(name) else None
    if data is None:
        return Response("no such picture", 404, media_type="text/plain")
    content_type = renditions.FORMATS[name.rsplit(".", 1)[1]]
    headers = {"Cache-Control": IMMUTABLE, "X-Content-Type-Options": "nosniff"}
    return Response(data, media_type=content_type, headers=headers)


routes = [Route("/media/{name}", media, methods=["GET", "HEAD"])]
