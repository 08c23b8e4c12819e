"""Login through the province's identity provider (OpenID Connect, authorization code + PKCE).

``GET /api/v1/auth/oidc/login`` sends the browser to the provider with a fresh state, nonce and
PKCE verifier, kept in a short-lived, signed, HTTP-only cookie (no server-side store, so any worker
can take the callback). ``GET /api/v1/auth/oidc/callback`` checks the state, exchanges the code,
validates the ID token (signature from the provider's JWKS, issuer, audience, expiry, nonce) and
opens the same cookie session as a password login. The person must already have an edoc account
(an operator decides roles and agency): matched by the subject it was linked to, or on first login
by the configured username claim, and then linked to that subject for good.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import RedirectResponse
from itsdangerous import BadSignature, URLSafeTimedSerializer
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from api.office.context import Office, office
from api.office.errors import ApiError
from api.office.routes.auth import open_cookie_session
from storage.accounts import Accounts

router = APIRouter(prefix="/api/v1/auth/oidc", tags=["auth"])

FLOW_COOKIE = "edoc_oidc"
FLOW_SECONDS = 600
_METADATA: dict[str, tuple[float, dict[str, Any]]] = {}


def _settings(ctx: Office):
    if ctx.settings.oidc is None:
        raise ApiError(404, "oidc_off", "Nút này không bật đăng nhập một lần (OIDC)",
                       "single sign-on (OIDC) is not configured on this node")
    return ctx.settings.oidc


def _serializer(ctx: Office) -> URLSafeTimedSerializer:
    """Signs the flow cookie with a key every worker of the node derives alike (from the
    node's TLS key and the OIDC client secret), never sent anywhere."""
    seed = ctx.node.cfg.tls.key.read_bytes() + _settings(ctx).secret().encode()
    return URLSafeTimedSerializer(hashlib.sha256(b"edoc-oidc\0" + seed).hexdigest(),
                                  salt="edoc-oidc-flow")


def _metadata(url: str) -> dict[str, Any]:
    cached = _METADATA.get(url)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    try:
        response = httpx.get(url, timeout=10)
        response.raise_for_status()
        data = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ApiError(502, "oidc_unreachable",
                       f"Không kết nối được nhà cung cấp định danh ({url}); thử lại sau",
                       f"the identity provider did not answer ({url}: {exc}); try later"
                       ) from exc
    _METADATA[url] = (time.monotonic() + 300, data)
    return data


def _redirect_uri(ctx: Office) -> str:
    return f"{ctx.settings.base_url}/api/v1/auth/oidc/callback"


@router.get("/login", summary="Đăng nhập một lần qua OIDC (redirects to the provider)",
            response_class=RedirectResponse, status_code=302)
def oidc_login(ctx: Office = Depends(office)) -> Response:
    cfg = _settings(ctx)
    meta = _metadata(cfg.metadata_url)
    flow = {"state": generate_token(32), "nonce": generate_token(32),
            "verifier": generate_token(64)}
    query = urlencode({"response_type": "code", "client_id": cfg.client_id,
                       "redirect_uri": _redirect_uri(ctx), "scope": cfg.scope,
                       "state": flow["state"], "nonce": flow["nonce"],
                       "code_challenge": create_s256_code_challenge(flow["verifier"]),
                       "code_challenge_method": "S256"})
    response = RedirectResponse(f"{meta['authorization_endpoint']}?{query}", status_code=302)
    response.set_cookie(FLOW_COOKIE, _serializer(ctx).dumps(flow), max_age=FLOW_SECONDS,
                        httponly=True, secure=ctx.settings.secure_cookies, samesite="lax",
                        path="/api/v1/auth/oidc")
    return response


def _refused(why_vi: str, why_en: str) -> ApiError:
    return ApiError(403, "oidc_refused", f"Đăng nhập một lần bị từ chối: {why_vi}",
                    f"single sign-on refused: {why_en}")


@router.get("/callback", summary="Nhà cung cấp định danh trả về (the provider's redirect)",
            response_class=RedirectResponse, status_code=302)
def oidc_callback(request: Request, code: str | None = Query(None, max_length=2000),
                  state: str | None = Query(None, max_length=200),
                  error: str | None = Query(None, max_length=200),
                  ctx: Office = Depends(office)) -> Response:
    cfg = _settings(ctx)
    if error:
        raise _refused(f"nhà cung cấp báo lỗi '{error}'", f"the provider said '{error}'")
    try:
        flow = _serializer(ctx).loads(request.cookies.get(FLOW_COOKIE, ""),
                                      max_age=FLOW_SECONDS)
    except BadSignature:
        raise _refused("phiên đăng nhập đã quá hạn hoặc không hợp lệ; bắt đầu lại",
                       "the login flow expired or is not valid; start again") from None
    if not code or state != flow["state"]:
        raise _refused("tham số state không khớp", "the state parameter does not match")
    meta = _metadata(cfg.metadata_url)
    try:
        answer = httpx.post(meta["token_endpoint"], timeout=15, data={
            "grant_type": "authorization_code", "code": code,
            "redirect_uri": _redirect_uri(ctx), "client_id": cfg.client_id,
            "client_secret": cfg.secret(), "code_verifier": flow["verifier"]})
        answer.raise_for_status()
        id_token = answer.json()["id_token"]
        keys = KeySet.import_key_set(httpx.get(meta["jwks_uri"], timeout=10).json())
    except (httpx.HTTPError, KeyError, ValueError) as exc:
        raise ApiError(502, "oidc_token_failed",
                       "Không đổi được mã đăng nhập lấy ID token; thử lại",
                       f"could not exchange the code for an ID token ({exc}); try again"
                       ) from exc
    try:
        token = jwt.decode(id_token, keys, algorithms=["RS256", "ES256", "PS256"])
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": meta["issuer"]},
            aud={"essential": True, "value": cfg.client_id},
            sub={"essential": True}, exp={"essential": True},
            nonce={"essential": True, "value": flow["nonce"]}).validate(token.claims)
    except (JoseError, ValueError) as exc:
        raise _refused("ID token không hợp lệ", f"the ID token is not valid ({exc})") from exc
    claims = token.claims
    subject = f"{meta['issuer']}|{claims['sub']}"
    with ctx.transaction() as s:
        accounts = Accounts(s)
        user = accounts.by_subject(subject)
        if user is None:
            name = claims.get(cfg.username_claim)
            candidate = accounts.by_username(str(name)) if name else None
            if candidate is None or candidate.oidc_subject is not None:
                raise _refused(f"không có tài khoản edoc cho '{name}'; người quản trị tạo "
                               "tài khoản trước", f"no edoc account for '{name}'; the "
                               "operator creates the account first")
            candidate.oidc_subject = subject
            user = candidate
            ctx.audit(s, f"oidc:{meta['issuer']}", "oidc_linked", f"user:{user.username}",
                      {"subject": claims["sub"]})
        if user.disabled:
            raise ApiError(403, "account_disabled", "Tài khoản đã bị khóa; liên hệ người "
                           "quản trị", "the account is disabled; ask your operator")
        user_id = user.id
    response = RedirectResponse("/", status_code=302)
    open_cookie_session(ctx, response, user_id, request, "oidc")
    response.delete_cookie(FLOW_COOKIE, path="/api/v1/auth/oidc")
    return response
