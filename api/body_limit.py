"""Request bodies over MAX_BODY_BYTES are refused with 413 before the app reads them whole;
an upload (a multipart POST to /graphql) may be as large as MAX_IMAGE_BYTES and its form."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import ErrorCode
from api.pipeline import Refusal

# Room for the rest of an upload's form beside the file: the operation, the map, the boundaries.
FORM_OVERHEAD = 64 * 1024


class BodyLimit:
    """Refuse request bodies over `max_bytes` (uploads: `upload_bytes` and their form) with 413
    before the app reads them whole."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, upload_bytes: int = 0, upload_path: str = "/graphql"
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_bytes = upload_bytes
        self.upload_path = upload_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or ())
        if self._upload(scope, headers):
            limit = max(self.max_bytes, self.upload_bytes + FORM_OVERHEAD)
            message = (
                f"upload body over {limit} bytes: a picture may have {self.upload_bytes} "
                "(MAX_IMAGE_BYTES)"
            )
        else:
            limit, message = self.max_bytes, f"request body over {self.max_bytes} bytes"
        await self._limited(scope, receive, send, headers.get(b"content-length"), limit, message)

    def _upload(self, scope: Scope, headers: dict[bytes, bytes]) -> bool:
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        return (
            self.upload_bytes > 0
            and scope.get("method") == "POST"
            and scope.get("path") == self.upload_path
            and content_type == b"multipart/form-data"
        )

    async def _limited(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        declared: bytes | None,
        limit: int,
        refusal: str,
    ) -> None:
        if declared is not None and not (declared.isdigit() and len(declared) <= 18):
            # uvicorn refuses these itself; behind another server they would reach us.
            await self._refuse(send, "Content-Length is not a number of bytes", 400)
            return
        if declared is not None and int(declared) > limit:
            await self._refuse(send, refusal)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._refuse(send, refusal)

    async def _refuse(self, send: Send, message: str, status: int = 413) -> None:
        response = Refusal(message, ErrorCode.BAD_REQUEST, status)
        await response({"type": "http"}, _no_body, send)


class _TooLarge(Exception):
    pass


async def _no_body() -> Message:
    return {"type": "http.request", "body": b""}
