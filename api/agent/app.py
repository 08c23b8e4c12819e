"""The agent's three routes: hello, certificate, sign.

WHY: the page needs to know the agent runs (hello, before pairing), which certificate the token
holds (for ``sign/prepare`` on the e-office server) and a signature over the prepared digest (for
``sign/complete``). Signing is serialised: one PIN prompt, one token login at a time.
"""

from __future__ import annotations

import base64
import logging
import threading
from dataclasses import dataclass, field

from anyio import to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.agent.errors import AgentError
from api.agent.guard import Guard
from api.agent.keys import KeySource
from api.agent.pairing import Pairing
from api.agent.pin import PinPrompt, prompt_text
from api.agent.request import MAX_BODY, SignRequest, not_a_digest, parse_sign_request

log = logging.getLogger("edoc.agent")

#: Protocol version in ``/v1/hello``; bumped only if the routes change incompatibly.
VERSION = 1


@dataclass
class Agent:
    """What the routes share: the origin served, the key, how to ask the PIN."""

    origin: str
    keys: KeySource
    prompt: PinPrompt
    _signing: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def sign(self, request: SignRequest) -> bytes:
        """Ask the secret once, then sign; a second request waits for the first to finish."""
        with self._signing:
            holder = self.keys.certificate().holder  # an absent token fails before the prompt
            secret = self.prompt.ask(prompt_text(origin=self.origin, holder=holder,
                                                 description=request.description,
                                                 secret_name=self.keys.secret_name))
            return self.keys.sign(request.digest, request.md, secret)


async def _read_body(request: Request) -> bytes:
    """The body, refused as soon as it passes :data:`MAX_BODY` (never read whole)."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise not_a_digest(f"yêu cầu dài hơn {MAX_BODY} byte",
                               f"the request is over {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(agent: Agent, *, port: int, pairing: Pairing) -> Starlette:
    """The ASGI app for ``agent`` listening on 127.0.0.1:``port``."""

    async def hello(_request: Request) -> JSONResponse:
        return JSONResponse({"agent": "edoc", "version": VERSION, "token": agent.keys.label})

    async def certificate(_request: Request) -> JSONResponse:
        cert = await to_thread.run_sync(agent.keys.certificate)
        return JSONResponse(cert.to_json())

    async def sign(request: Request) -> JSONResponse:
        parsed = parse_sign_request(await _read_body(request))
        value = await to_thread.run_sync(agent.sign, parsed)
        return JSONResponse({"signature": base64.b64encode(value).decode(), "md": parsed.md})

    async def refused(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AgentError)
        return exc.response()

    async def http_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)
        return AgentError(exc.status_code, "http_error", "Không có đường dẫn hoặc phương thức "
                          "này.", "no such path or method").response()

    async def unforeseen(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unforeseen error", exc_info=exc)
        return AgentError(500, "internal", "Lỗi bất ngờ trong edoc agent; xem cửa sổ của agent.",
                          "unexpected error in edoc agent; see its console").response()

    return Starlette(
        routes=[Route("/v1/hello", hello, methods=["GET"]),
                Route("/v1/certificate", certificate, methods=["GET"]),
                Route("/v1/sign", sign, methods=["POST"])],
        middleware=[Middleware(Guard, origin=agent.origin, port=port, pairing=pairing)],
        exception_handlers={AgentError: refused, HTTPException: http_error,
                            Exception: unforeseen},
    )
