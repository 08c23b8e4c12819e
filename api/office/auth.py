"""Who is calling, and may they: sessions (cookie or bearer), CSRF, and the role check.

- The web page holds an HTTP-only, SameSite=Strict cookie ``edoc_session``; every request that
  changes something must also carry ``X-CSRF-Token``, derived from the session token (so a page of
  another origin, which can neither read the cookie nor the token, cannot forge one).
- Integrators send ``Authorization: Bearer <token>`` (made by ``POST /api/v1/auth/token``); no
  cookie, so no CSRF check.
- ``require(Action.X)`` is the one gate of every route: authenticated, then allowed by
  ``api.office.authz.PERMISSIONS``. The route's own query then keeps to the caller's agency.
- A checked session is remembered in the process for ``PRINCIPAL_TTL_S`` seconds
  (``PrincipalCache``), so a busy integrator does not cost one session lookup per request. Any
  write transaction of this app (logout, password change, disabling, a profile change…) empties
  it at once; a change made elsewhere (``edoc user disable`` in another process, another worker)
  takes effect within ``PRINCIPAL_TTL_S`` seconds at most.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import threading
import time
from collections.abc import Callable

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from api.office.authz import Action, allowed
from api.office.context import Office, office
from api.office.errors import ApiError, forbidden
from storage.accounts import Accounts, Principal, token_hash

COOKIE = "edoc_session"
CSRF_COOKIE = "edoc_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

_WHY = {
    "unknown": ("Phiên đăng nhập không hợp lệ; hãy đăng nhập lại",
                "invalid session; log in again"),
    "expired": ("Phiên đăng nhập đã hết hạn; hãy đăng nhập lại",
                "the session has expired; log in again"),
    "revoked": ("Phiên đăng nhập đã kết thúc; hãy đăng nhập lại",
                "the session was ended; log in again"),
    "disabled": ("Tài khoản đã bị khóa; liên hệ người quản trị",
                 "the account is disabled; ask your operator"),
}


def csrf_token(session_token: str) -> str:
    """The CSRF token of a cookie session: bound to it, useless without it."""
    return hashlib.sha256(b"edoc-csrf\0" + session_token.encode("utf-8")).hexdigest()[:40]


def _credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise ApiError(401, "bad_authorization",
                           "Tiêu đề Authorization phải là 'Bearer <mã>'",
                           "the Authorization header must be 'Bearer <token>'",
                           headers={"WWW-Authenticate": "Bearer"})
        return "bearer", value.strip()
    cookie = request.cookies.get(COOKIE)
    if cookie:
        return "cookie", cookie
    return None


#: How long (seconds) a checked session is trusted in this process without the database.
PRINCIPAL_TTL_S = 2.0


class PrincipalCache:
    """token → principal for ``ttl`` seconds. ``clear()`` (after every write transaction of the
    app) forgets everything and bumps a generation, so a lookup that read the session before a
    revocation committed cannot store it afterwards."""

    def __init__(self, ttl: float = PRINCIPAL_TTL_S, size: int = 10_000) -> None:
        self.ttl, self.size = ttl, size
        self.generation = 0
        self._entries: dict[tuple[str, str], tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> Principal | None:
        hit = self._entries.get(key)
        if hit is None:
            return None
        if hit[1] <= time.monotonic():
            self._entries.pop(key, None)
            return None
        return hit[0]

    def put(self, key: tuple[str, str], who: Principal, generation: int) -> None:
        with self._lock:
            if generation != self.generation:
                return
            if len(self._entries) >= self.size:
                self._entries.clear()
            self._entries[key] = (who, time.monotonic() + self.ttl)

    def clear(self) -> None:
        with self._lock:
            self.generation += 1
            self._entries.clear()


def _checked_credentials(request: Request) -> tuple[str, str]:
    """(kind, token) of the request, CSRF checked for a cookie session's change; else 401/403."""
    found = _credentials(request)
    if found is None:
        raise ApiError(401, "not_authenticated", "Cần đăng nhập", "log in first",
                       headers={"WWW-Authenticate": "Bearer"})
    kind, token = found
    if kind == "cookie" and request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent, csrf_token(token)):
            raise ApiError(403, "csrf", "Thiếu hoặc sai mã chống giả mạo (X-CSRF-Token); tải "
                           "lại trang rồi thử lại",
                           "missing or wrong anti-forgery token (X-CSRF-Token); reload the "
                           "page and try again")
    return kind, token


def _cache_key(kind: str, token: str) -> tuple[str, str]:
    return kind, token_hash(token)


def _cached(ctx: Office, kind: str, token: str) -> Principal | None:
    cache = getattr(ctx, "principals", None)
    return cache.get(_cache_key(kind, token)) if cache is not None else None


def _lookup(ctx: Office, kind: str, token: str) -> Principal:
    """The session from the database (and into the cache); 401 when it does not open one."""
    cache = getattr(ctx, "principals", None)
    generation = cache.generation if cache is not None else 0
    idle = dt.timedelta(minutes=ctx.settings.idle_minutes) if kind == "cookie" else None
    with ctx.session() as s, s.begin():
        who, why = Accounts(s).principal(token, kind, idle=idle)
    if who is None:
        vi, en = _WHY[why]
        raise ApiError(401, f"session_{why}", vi, en, headers={"WWW-Authenticate": "Bearer"})
    if cache is not None:
        cache.put(_cache_key(kind, token), who, generation)
    return who


def authenticate(request: Request, ctx: Office) -> Principal:
    kind, token = _checked_credentials(request)
    who = _cached(ctx, kind, token) or _lookup(ctx, kind, token)
    request.state.principal = who
    return who


async def principal(ctx: Office, kind: str, token: str) -> Principal:
    """The session's person, for the event loop: a cached session costs no thread, no query."""
    who = _cached(ctx, kind, token)
    if who is None:
        who = await run_in_threadpool(_lookup, ctx, kind, token)
    return who


async def authenticate_async(request: Request, ctx: Office) -> Principal:
    """``authenticate`` for the event loop."""
    kind, token = _checked_credentials(request)
    who = await principal(ctx, kind, token)
    request.state.principal = who
    return who


def require(action: Action) -> Callable[..., Principal]:
    """The dependency that gates a route on ``action`` (and names it, for the matrix test)."""

    async def gate(request: Request, ctx: Office = Depends(office)) -> Principal:
        who = await authenticate_async(request, ctx)
        if not allowed(who.roles, action):
            raise forbidden(action.value)
        return who

    gate.action = action  # type: ignore[attr-defined]
    return gate
