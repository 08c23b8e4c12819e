"""Who is looking at a page, and may they: the page's side of ``api.office.auth``.

A page is gated like an API route, on one ``Action`` of the one authorization table: the
dependency carries ``.action``, so the authorization matrix walks pages as it walks the API.
What differs is the way in and the way a refusal looks:
- only the cookie session of the web page opens a page (a bearer token is for integrators);
- a form that changes something carries the CSRF token as its hidden ``csrf`` field (a plain HTML
  form cannot send a header; ``X-CSRF-Token`` is accepted too, for htmx);
- no session → the login page (see ``render.page_error``), other refusals → an HTML page.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi import Depends, Request

from api.office.auth import COOKIE, CSRF_HEADER, SAFE_METHODS, csrf_token, principal
from api.office.authz import Action, allowed
from api.office.context import Office, office
from api.office.errors import ApiError, forbidden
from storage.accounts import Principal

CSRF_FIELD = "csrf"


def csrf_refused() -> ApiError:
    return ApiError(403, "csrf", "Biểu mẫu đã cũ hoặc không phải của trang này; tải lại trang "
                    "rồi thử lại", "the form is stale or not from this page; reload the page "
                    "and try again")


async def form_csrf(request: Request) -> str:
    """The CSRF token a changing request sent: the form's hidden field, else the header."""
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent and request.headers.get("content-type", "").startswith(
            ("application/x-www-form-urlencoded", "multipart/form-data")):
        sent = str((await request.form()).get(CSRF_FIELD) or "")
    return sent


def page_require(action: Action) -> Callable[..., object]:
    """The dependency that gates a page on ``action`` (named for the matrix test)."""

    async def gate(request: Request, ctx: Office = Depends(office)) -> Principal:
        token = request.cookies.get(COOKIE)
        if not token:
            raise ApiError(401, "not_authenticated", "Cần đăng nhập", "log in first")
        if request.method not in SAFE_METHODS and not hmac.compare_digest(
                await form_csrf(request), csrf_token(token)):
            raise csrf_refused()
        who = await principal(ctx, "cookie", token)
        request.state.principal = who
        if not allowed(who.roles, action):
            raise forbidden(action.value)
        return who

    gate.action = action  # type: ignore[attr-defined]
    return gate
