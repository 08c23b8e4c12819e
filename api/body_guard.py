"""The peer port's request bodies, read under bounds before the app sees them.

Why: uvicorn bounds neither a body's size nor its pace. A peer (or anything that completed the
TLS handshake) could send 10 GB, or 1 byte per second for days, holding a socket, a task and a
growing buffer while real deliveries wait. ``BodyGuard`` reads each POST body itself:
- more than ``max_bytes`` (announced by Content-Length, or counted) → 413 at once;
- slower on average than ``min_rate`` bytes/s once ``grace`` seconds have passed, or no byte for
  ``grace`` seconds → 408 and the connection is closed;
then hands the app the whole body in one message (the node's routes read it whole anyway).
Answers use the one bilingual error shape.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


#: where ``BodyGuard`` leaves the body it read in the request's scope
BODY_KEY = "edoc.body"


def guarded_body(scope: Scope) -> bytes | None:
    """The body ``BodyGuard`` read (None: not guarded). Routes taking a package read it here:
    Starlette's ``Request.body()`` would join it with an empty last chunk, copying 2 MB."""
    return scope.get(BODY_KEY)


class _Refused(Exception):
    def __init__(self, status: int, code: str, vi: str, en: str) -> None:
        super().__init__(en)
        self.status, self.code, self.vi, self.en = status, code, vi, en


class BodyGuard:
    def __init__(self, app: Callable, *, max_bytes: int, grace: float, min_rate: int) -> None:
        self.app, self.max_bytes, self.grace, self.min_rate = app, max_bytes, grace, min_rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT"):
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read(scope, receive)
        except _Refused as r:
            await _answer(send, r)
            return
        sent = False
        scope[BODY_KEY] = body

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: the disconnect, when it comes

        await self.app(scope, replay, send)

    async def _read(self, scope: Scope, receive: Receive) -> bytes:
        """The whole body, or ``_Refused``. One deadline is moved after each chunk (a body
        of 2 MB comes in tens of chunks: a ``wait_for`` task per chunk cost more than the
        chunk's own handling)."""
        announced = dict(scope.get("headers") or []).get(b"content-length")
        if announced is not None and announced.isdigit() and int(announced) > self.max_bytes:
            raise _too_large(self.max_bytes)
        chunks: list[bytes] = []
        size, start = 0, time.monotonic()
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(loop.time() + self.grace) as deadline:
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        raise _Refused(400, "disconnected", "Nơi gửi ngắt kết nối giữa chừng",
                                       "the client disconnected mid-body")
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise _too_large(self.max_bytes)
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        return b"".join(chunks)
                    elapsed = time.monotonic() - start
                    if elapsed > self.grace and size < self.min_rate * elapsed:
                        raise _too_slow(size, elapsed, self.min_rate)
                    # the next chunk is due within the grace at first, then by the time the
                    # minimum average rate requires the next byte
                    wait = self.grace if elapsed < self.grace else max(
                        0.05, (size + 1) / self.min_rate - elapsed)
                    deadline.reschedule(loop.time() + wait)
        except TimeoutError:
            raise _too_slow(size, time.monotonic() - start, self.min_rate) from None


def _too_large(limit: int) -> _Refused:
    return _Refused(413, "too_large", f"Gói tin quá lớn (tối đa {limit} byte)",
                    f"package too large (at most {limit} bytes)")


def _too_slow(size: int, elapsed: float, rate: int) -> _Refused:
    return _Refused(408, "too_slow",
                    f"Nội dung gửi quá chậm ({size} byte trong {elapsed:.0f} giây, tối thiểu "
                    f"{rate} byte/giây); kết nối bị đóng, hãy gửi lại",
                    f"body too slow ({size} bytes in {elapsed:.0f} s, at least {rate} bytes/s "
                    "required); the connection is closed, send again")


async def _answer(send: Send, r: _Refused) -> None:
    body = json.dumps({"error": r.code, "message_vi": r.vi, "message_en": r.en},
                      ensure_ascii=False).encode("utf-8")
    await send({"type": "http.response.start", "status": r.status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
