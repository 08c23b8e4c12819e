"""Reading what people upload, within limits, and refusing what cannot be a document.

A draft must be a readable, unencrypted PDF: checked here, before anything is stored, so a bad
upload leaves nothing behind. Sizes are bounded twice: the request's Content-Length is refused at
once by ``BodyLimit`` (no byte is read), and the multipart part is read with a counter (a body
without a length, or one that lies, stops at the limit).
"""

from __future__ import annotations

import io

from fastapi import UploadFile
from starlette.types import ASGIApp, Receive, Scope, Send

from api.office.errors import ApiError

CHUNK = 1024 * 1024


def too_large(limit: int) -> ApiError:
    mb = limit / (1024 * 1024)
    return ApiError(413, "too_large", f"Tệp gửi lên quá lớn (tối đa {mb:g} MB)",
                    f"the upload is too large (at most {mb:g} MB)")


async def read_upload(file: UploadFile, *, limit: int) -> bytes:
    out = io.BytesIO()
    while True:
        chunk = await file.read(CHUNK)
        if not chunk:
            return out.getvalue()
        if out.tell() + len(chunk) > limit:
            raise too_large(limit)
        out.write(chunk)


def check_pdf(data: bytes) -> int:
    """Refuse anything but a readable, unencrypted PDF with pages; returns the page count."""
    from signing.errors import InputError  # noqa: PLC0415
    from signing.pades import open_pdf  # noqa: PLC0415

    if not data:
        raise ApiError(400, "empty_file", "Tệp rỗng", "the file is empty")
    try:
        writer = open_pdf(io.BytesIO(data))
    except InputError as exc:
        raise ApiError(400, exc.code, exc.message_vi, exc.message_en) from exc
    return int(writer.prev.root["/Pages"]["/Count"])


class BodyLimit:
    """ASGI middleware: a request whose declared body is over the limit is answered 413 before
    its body is read (the limit of ``/api/`` uploads; peers have their own)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            length = dict(scope.get("headers") or ()).get(b"content-length")
            if length is not None and length.isdigit() and int(length) > self.limit:
                await self._refuse(send)
                return
            receive, send = self._counting(receive, send)
        await self.app(scope, receive, send)

    def _counting(self, receive: Receive, send: Send) -> tuple[Receive, Send]:
        """A body without a length (chunked) or one longer than it said: past the limit the
        middleware answers 413 itself and the app sees the client gone. (An exception raised
        here would reach FastAPI's body parser, which turns every error into a 400.)"""
        seen = 0
        state = {"refused": False, "started": False}

        async def counted() -> dict:
            nonlocal seen
            if state["refused"]:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    state["refused"] = True
                    if not state["started"]:
                        await self._refuse(send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: dict) -> None:
            if state["refused"]:  # the app's answer to the cut-off body goes nowhere
                return
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        return counted, guarded

    async def _refuse(self, send: Send) -> None:
        import json  # noqa: PLC0415

        err = too_large(self.limit)
        payload = json.dumps({"error": err.code, "message_vi": err.message_vi,
                              "message_en": err.message_en}, ensure_ascii=False).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(payload)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": payload})
