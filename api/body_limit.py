"""Request bodies over MAX_BODY_BYTES are refused with 413 before the app reads them whole."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import ErrorCode
from api.pipeline import Refusal


class BodyLimit:
    """Refuse request bodies over `max_bytes` with 413 before the app reads them whole."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and not (declared.isdigit() and len(declared) <= 18):
            # uvicorn refuses these itself; behind another server they would reach us.
            await self._refuse(send, "Content-Length is not a number of bytes", 400)
            return
        if declared is not None and int(declared) > self.max_bytes:
            await self._refuse(send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await self._refuse(send)

    async def _refuse(self, send: Send, message: str | None = None, status: int = 413) -> None:
        message = message or f"request body over {self.max_bytes} bytes"
        response = Refusal(message, ErrorCode.BAD_REQUEST, status)
        await response({"type": "http"}, _no_body, send)


class _TooLarge(Exception):
    pass


async def _no_body() -> Message:
    return {"type": "http.request", "body": b""}
