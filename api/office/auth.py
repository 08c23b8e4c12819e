"""Who is calling, and may they: sessions (cookie or bearer), CSRF, and the role check.

- The web page holds an HTTP-only, SameSite=Strict cookie ``edoc_session``; every request that
  changes something must also carry ``X-CSRF-Token``, derived from the session token (so a page of
  another origin, which can neither read the cookie nor the token, cannot forge one).
- Integrators send ``Authorization: Bearer <token>`` (made by ``POST /api/v1/auth/token``); no
  cookie, so no CSRF check.
- ``require(Action.X)`` is the one gate of every route: authenticated, then allowed by
  ``api.office.authz.PERMISSIONS``. The route's own query then keeps to the caller's agency.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Callable

from fastapi import Depends, Request

from api.office.authz import Action, allowed
from api.office.context import Office, office
from api.office.errors import ApiError, forbidden
from storage.accounts import Accounts, Principal

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


def authenticate(request: Request, ctx: Office) -> Principal:
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
    idle = dt.timedelta(minutes=ctx.settings.idle_minutes) if kind == "cookie" else None
    with ctx.session() as s, s.begin():
        who, why = Accounts(s).principal(token, kind, idle=idle)
    if who is None:
        vi, en = _WHY[why]
        raise ApiError(401, f"session_{why}", vi, en, headers={"WWW-Authenticate": "Bearer"})
    request.state.principal = who
    return who


def require(action: Action) -> Callable[..., Principal]:
    """The dependency that gates a route on ``action`` (and names it, for the matrix test)."""

    def gate(request: Request, ctx: Office = Depends(office)) -> Principal:
        who = authenticate(request, ctx)
        if not allowed(who.roles, action):
            raise forbidden(action.value)
        return who

    gate.action = action  # type: ignore[attr-defined]
    return gate
