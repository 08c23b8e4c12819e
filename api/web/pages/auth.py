"""Logging in and out, the language, the start page and one's own account."""

from __future__ import annotations

import hmac
import secrets

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from api.office.auth import COOKIE, CSRF_COOKIE
from api.office.authz import Action, allowed
from api.office.context import Office, office
from api.office.errors import ApiError
from api.office.routes.auth import check_login, open_cookie_session, user_json
from api.web import i18n
from api.web.gate import csrf_refused, page_require
from api.web.render import page, safe_next, security_headers
from storage.accounts import Accounts, Principal

router = APIRouter(include_in_schema=False)

#: the login form's own anti-forgery token (no session yet): a cookie and the same hidden field
LOGIN_COOKIE = "edoc_login"


def _login_page(request: Request, ctx: Office, *, next_path: str, error: ApiError | None = None,
                status: int = 200, username: str = "") -> Response:
    token = secrets.token_urlsafe(24)
    response = page(request, ctx, "login.html", None, status=status, title="Log in",
                    next_path=next_path, login_token=token, error=error, username=username,
                    oidc=ctx.settings.oidc is not None,
                    logged_out=request.query_params.get("bye") == "1")
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict",
                        secure=ctx.settings.secure_cookies, path="/login")
    return response


@router.get("/login")
def login_form(request: Request, next: str = "/", ctx: Office = Depends(office)) -> Response:
    return _login_page(request, ctx, next_path=safe_next(next))


@router.post("/login")
def login(request: Request, username: str = Form(..., max_length=100),
          password: str = Form(..., max_length=1000), login_token: str = Form(""),
          next: str = Form("/"), ctx: Office = Depends(office)) -> Response:
    target = safe_next(next)
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, login_token):
        return _login_page(request, ctx, next_path=target, error=csrf_refused(), status=403,
                           username=username)
    try:
        user = check_login(ctx, request, username, password)
    except ApiError as err:
        response = _login_page(request, ctx, next_path=target, error=err, status=err.status,
                               username=username)
        for key, value in (err.headers or {}).items():
            response.headers[key] = value
        return response
    response = RedirectResponse(target, status_code=303, headers=security_headers())
    open_cookie_session(ctx, response, user.id, request, "password-web")
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(who: Principal = Depends(page_require(Action.SELF)),
           ctx: Office = Depends(office)) -> Response:
    with ctx.transaction() as s:
        Accounts(s).close_session(who.session_id)
        ctx.audit(s, who, "logout", f"user:{who.username}", {"session": who.session_id})
    response = RedirectResponse("/login?bye=1", status_code=303, headers=security_headers())
    response.delete_cookie(COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("/lang/{code}")
def language(code: str, next: str = "/") -> Response:
    """Switch the page's language (a preference cookie; nothing else changes)."""
    response = RedirectResponse(safe_next(next), status_code=303, headers=security_headers())
    if code in i18n.LANGS:
        response.set_cookie(i18n.COOKIE, code, max_age=400 * 24 * 3600, samesite="lax",
                            path="/")
    return response


@router.get("/")
def start(who: Principal = Depends(page_require(Action.SELF))) -> Response:
    """The first page a person's roles open: the inbox, else the dashboard, else the account."""
    for action, path in ((Action.INBOX_READ, "/inbox"), (Action.REPORT_READ, "/dashboard")):
        if allowed(who.roles, action):
            return RedirectResponse(path, status_code=303)
    return RedirectResponse("/account", status_code=303)


@router.get("/account")
def account(request: Request, who: Principal = Depends(page_require(Action.SELF)),
            ctx: Office = Depends(office)) -> Response:
    return page(request, ctx, "account.html", who, title="My account",
                me=user_json(who, ctx))
