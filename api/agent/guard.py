"""Who may talk to the agent: the Host (DNS rebinding), the Origin (one e-office site), CORS
and the pairing code, checked before any route runs.

WHY: any web page the leader opens can send requests to 127.0.0.1. The browser always sends
``Origin`` on cross-origin requests and cannot forge it, so requests whose Origin is not the
configured e-office site are refused without CORS headers (the page cannot even read the
refusal). A rebound DNS name (evil.example → 127.0.0.1) would make the request same-origin for
the browser; the ``Host`` header still names evil.example, so it is refused too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp

from api.agent.errors import AgentError
from api.agent.pairing import Pairing

#: The one route a page may call before pairing: it tells whether the agent runs.
OPEN_PATHS = frozenset({"/v1/hello"})
PAIRING_HEADER = "x-edoc-pairing"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_origin(url: str) -> str:
    """``scheme://host[:port]`` as a browser writes it in ``Origin`` (no path, no default
    port); ``ValueError`` with a bilingual message for anything else."""
    text = url.strip().removesuffix("/")
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if (parts.scheme not in _DEFAULT_PORTS or not parts.hostname or parts.path or parts.query
            or parts.fragment or parts.username or parts.password or port == -1):
        raise ValueError(f"--origin phải có dạng https://tên-miền[:cổng], không có đường dẫn: "
                         f"{url!r} (--origin must be scheme://host[:port], no path)")
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[parts.scheme]:
        host = f"{host}:{port}"
    return f"{parts.scheme}://{host}"


def cors_headers(origin: str) -> dict[str, str]:
    """What every answer to the configured origin carries (so the page can read it)."""
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def preflight_headers(origin: str) -> dict[str, str]:
    """The answer to a CORS preflight from the configured origin (Private Network Access
    included: Chrome asks before a public site may call 127.0.0.1)."""
    return {
        **cors_headers(origin),
        "Access-Control-Allow-Methods": "GET, POST",
        "Access-Control-Allow-Headers": f"content-type, {PAIRING_HEADER}",
        "Access-Control-Allow-Private-Network": "true",
        "Access-Control-Max-Age": "600",
    }


class Guard(BaseHTTPMiddleware):
    """Refuse, in this order: a foreign Host, a foreign or missing Origin (403, no CORS
    headers); answer preflights; then require the pairing code except on :data:`OPEN_PATHS`."""

    def __init__(self, app: ASGIApp, *, origin: str, port: int, pairing: Pairing) -> None:
        super().__init__(app)
        self.origin = origin
        self.hosts = frozenset({f"127.0.0.1:{port}", f"localhost:{port}"})
        self.pairing = pairing

    async def dispatch(self, request: Request,
                       call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        if request.headers.get("host", "").lower() not in self.hosts:
            return AgentError(403, "bad_host",
                              "Yêu cầu không gửi tới 127.0.0.1; bị từ chối.",
                              "the request was not addressed to 127.0.0.1; refused").response()
        if request.headers.get("origin") != self.origin:
            return AgentError(403, "bad_origin",
                              "Trang web này không được phép dùng token của bạn.",
                              "this web site may not use your token").response()
        if request.method == "OPTIONS":
            return Response(status_code=204, headers=preflight_headers(self.origin))
        cors = cors_headers(self.origin)
        if request.url.path not in OPEN_PATHS:
            try:
                self.pairing.check(request.headers.get(PAIRING_HEADER))
            except AgentError as exc:
                return exc.response(cors)
        response = await call_next(request)
        response.headers.update(cors)
        return response
