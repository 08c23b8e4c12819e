"""Logging in and out, one's own account: ``/api/v1/auth/*`` and ``/api/v1/me``.

A failed login counts against the username and the client address (shared by every worker through
SQL); past the limit the key is locked for a while, doubled at each further failure, and the
answer is 429 with Retry-After. The message never says whether the username exists.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, File, Request, Response, UploadFile
from pydantic import BaseModel, Field

from api.office.auth import COOKIE, CSRF_COOKIE, csrf_token, require
from api.office.authz import Action
from api.office.context import (
    HASHER,
    Office,
    actor,
    hash_password,
    office,
    verify_password,
)
from api.office.errors import ApiError
from api.office.uploads import read_upload
from storage.accounts import Accounts, Principal

router = APIRouter(prefix="/api/v1", tags=["auth"])


class Login(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1000)


class TokenRequest(Login):
    label: str = Field(default="integration", max_length=200)


class PasswordChange(BaseModel):
    old_password: str = Field(min_length=1, max_length=1000)
    new_password: str = Field(min_length=8, max_length=1000)


def user_json(who: Principal, ctx: Office) -> dict[str, Any]:
    """The account as the page shows it, with how this person can sign here."""
    return {"id": who.user_id, "username": who.username, "full_name": who.full_name,
            "position": who.position, "roles": sorted(who.roles),
            "agency": {"code": who.agency_code, "name": who.agency_name},
            "session": who.session_kind,
            "signing": {"server_key": ctx.settings.personal_key(who.username) is not None,
                        "csc": bool(ctx.settings.csc_urls),
                        "signature_image": bool(who.profile.get("signature_image"))}}


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def check_login(ctx: Office, request: Request, username: str, password: str) -> Any:
    """The user whose password this is, or 401/429; failures are counted, success clears."""
    cfg = ctx.settings
    window = dt.timedelta(minutes=cfg.login_window_minutes)
    keys = [(f"user:{username.lower()}", cfg.login_failures),
            (f"ip:{_client(request)}", cfg.login_failures_per_ip)]
    with ctx.transaction() as s:
        verdict = Accounts(s).throttle_check(keys, window)
    if not verdict.allowed:
        raise ApiError(429, "login_throttled",
                       f"Đăng nhập sai quá nhiều lần; thử lại sau {verdict.retry_after_s} giây",
                       f"too many failed logins; try again in {verdict.retry_after_s} s",
                       headers={"Retry-After": str(verdict.retry_after_s)})
    with ctx.session() as s:
        user = Accounts(s).by_username(username)
        stored = user.password_hash if user is not None else None
    ok = verify_password(stored, password)
    if not ok or user is None or user.disabled:
        # the failure is counted and audited in a transaction that COMMITS; only then refused
        # (raised inside it, the rollback took the count with it: the throttle never locked)
        with ctx.transaction() as s:
            Accounts(s).throttle_fail(keys, window, dt.timedelta(seconds=cfg.login_lock_seconds))
            ctx.audit(s, f"login:{_client(request)}", "login_failed", f"user:{username}",
                      {"reason": "disabled" if ok and user is not None else "bad_credentials"})
        if ok and user is not None:
            raise ApiError(403, "account_disabled", "Tài khoản đã bị khóa; liên hệ người "
                           "quản trị", "the account is disabled; ask your operator")
        raise ApiError(401, "bad_credentials", "Sai tên đăng nhập hoặc mật khẩu",
                       "wrong username or password")
    with ctx.transaction() as s:
        accounts = Accounts(s)
        accounts.throttle_clear(keys[0][0])
        if HASHER.check_needs_rehash(stored):
            user = accounts.get(user.id)
            user.password_hash = hash_password(password)
    return user


def open_cookie_session(ctx: Office, response: Response, user_id: int, request: Request,
                        how: str) -> dict[str, Any]:
    """A cookie session for the web page: the cookie, the CSRF token, the audit entry."""
    ttl = dt.timedelta(hours=ctx.settings.session_hours)
    with ctx.transaction() as s:
        accounts = Accounts(s)
        user = accounts.get(user_id)
        token, row = accounts.open_session(user, "cookie", ttl, label=how)
        who, _ = accounts.principal(token, "cookie", idle=None)
        ctx.audit(s, who, "login", f"user:{user.username}",
                  {"via": how, "client": _client(request), "session": row.id})
        expires = row.expires_at
    secure = ctx.settings.secure_cookies
    max_age = int(ttl.total_seconds())
    response.set_cookie(COOKIE, token, max_age=max_age, httponly=True, secure=secure,
                        samesite="strict", path="/")
    csrf = csrf_token(token)
    response.set_cookie(CSRF_COOKIE, csrf, max_age=max_age, httponly=False, secure=secure,
                        samesite="strict", path="/")
    return {"user": user_json(who, ctx), "csrf_token": csrf, "expires_at": expires.isoformat()}


@router.post("/auth/login", summary="Đăng nhập (log in; sets the session cookie)")
def login(body: Login, request: Request, response: Response,
          ctx: Office = Depends(office)) -> dict[str, Any]:
    user = check_login(ctx, request, body.username, body.password)
    return open_cookie_session(ctx, response, user.id, request, "password")


@router.post("/auth/token", summary="Mã truy cập cho hệ thống tích hợp (bearer token)")
def token(body: TokenRequest, request: Request,
          ctx: Office = Depends(office)) -> dict[str, Any]:
    user = check_login(ctx, request, body.username, body.password)
    ttl = dt.timedelta(days=ctx.settings.token_days)
    with ctx.transaction() as s:
        accounts = Accounts(s)
        tok, row = accounts.open_session(accounts.get(user.id), "bearer", ttl, label=body.label)
        who, _ = accounts.principal(tok, "bearer", idle=None)
        ctx.audit(s, who, "token_created", f"user:{user.username}",
                  {"label": body.label, "session": row.id})
        return {"token": tok, "token_type": "bearer", "expires_at": row.expires_at.isoformat(),
                "user": user_json(who, ctx)}


@router.post("/auth/logout", summary="Đăng xuất (end this session)")
def logout(response: Response, who: Principal = Depends(require(Action.SELF)),
           ctx: Office = Depends(office)) -> dict[str, Any]:
    with ctx.transaction() as s:
        Accounts(s).close_session(who.session_id)
        ctx.audit(s, who, "logout", f"user:{who.username}", {"session": who.session_id})
    response.delete_cookie(COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return {"ok": True}


@router.get("/me", summary="Tài khoản của tôi (who am I)")
def me(who: Principal = Depends(require(Action.SELF)),
       ctx: Office = Depends(office)) -> dict[str, Any]:
    return user_json(who, ctx)


@router.put("/me/password", summary="Đổi mật khẩu (change my password)")
def change_password(body: PasswordChange, who: Principal = Depends(require(Action.SELF)),
                    ctx: Office = Depends(office)) -> dict[str, Any]:
    with ctx.transaction() as s:
        accounts = Accounts(s)
        user = accounts.get(who.user_id)
        if not verify_password(user.password_hash, body.old_password):
            raise ApiError(400, "bad_credentials", "Mật khẩu hiện tại không đúng",
                           "the current password is wrong")
        accounts.set_password(user, hash_password(body.new_password))
        ctx.audit(s, who, "password_changed", f"user:{who.username}")
    return {"ok": True, "message_vi": "Đã đổi mật khẩu; hãy đăng nhập lại",
            "message_en": "password changed; log in again"}


@router.put("/me/signature-image", summary="Ảnh chữ ký của tôi (my signature image, PNG)")
async def signature_image(request: Request, file: UploadFile = File(...),
                          who: Principal = Depends(require(Action.SIGN_PERSONAL)),
                          ctx: Office = Depends(office)) -> dict[str, Any]:
    data = await read_upload(file, limit=2 * 1024 * 1024)
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise ApiError(400, "not_png", "Ảnh chữ ký phải là tệp PNG (nền trong suốt)",
                       "the signature image must be a PNG file (transparent background)")
    key = ctx.store.put(data)
    with ctx.transaction() as s:
        user = Accounts(s).get(who.user_id)
        user.profile = {**(user.profile or {}), "signature_image": key}
        ctx.audit(s, who, "signature_image_set", f"user:{who.username}", {"key": key})
    return {"ok": True, "key": key, "actor": actor(who)}
