"""Single sign-on through an OpenID Connect provider, end to end over real HTTP.

The provider is a small but real one on loopback (discovery, authorize with PKCE, token endpoint
issuing RS256 ID tokens, JWKS), standing for a province's identity server: the e-office app must
follow the code flow, check state, PKCE, signature, issuer, audience and nonce, and open a session
only for a person who has an edoc account.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse
from joserfc import jwt
from joserfc.jwk import RSAKey

from api.cluster import free_port
from api.office.settings import OidcSettings
from tests.office_helpers import office_nodes


class Provider:
    """Who is 'logged in' at the provider is set by the test (``user``); ``tamper`` makes the
    provider misbehave in one named way."""

    def __init__(self) -> None:
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.key = RSAKey.generate_key(2048, parameters={"kid": "idp-1"}, private=True)
        self.user = "lanhdao.h41"
        self.tamper: str | None = None
        self.codes: dict[str, dict] = {}
        self.app = self._app()

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/.well-known/openid-configuration")
        def discovery() -> dict:
            return {"issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
                    "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks"}

        @app.get("/jwks")
        def jwks() -> dict:
            return {"keys": [self.key.as_dict(private=False)]}

        @app.get("/authorize")
        def authorize(request: Request) -> RedirectResponse:
            q = request.query_params
            assert q["response_type"] == "code" and q["code_challenge_method"] == "S256"
            code = secrets.token_urlsafe(16)
            self.codes[code] = {"nonce": q["nonce"], "challenge": q["code_challenge"],
                                "client_id": q["client_id"], "redirect_uri": q["redirect_uri"]}
            query = urlencode({"code": code, "state": q["state"]})
            return RedirectResponse(f"{q['redirect_uri']}?{query}")

        @app.post("/token")
        def token(code: str = Form(...), code_verifier: str = Form(...),
                  client_id: str = Form(...), redirect_uri: str = Form(...)) -> JSONResponse:
            grant = self.codes.pop(code, None)
            challenge = base64.urlsafe_b64encode(
                hashlib.sha256(code_verifier.encode()).digest()).rstrip(b"=").decode()
            if grant is None or grant["challenge"] != challenge \
                    or grant["redirect_uri"] != redirect_uri:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            now = int(time.time())
            claims = {"iss": self.issuer, "sub": f"sub-{self.user}", "aud": client_id,
                      "iat": now, "exp": now + 300, "nonce": grant["nonce"],
                      "preferred_username": self.user}
            key = self.key
            if self.tamper == "nonce":
                claims["nonce"] = "not-the-one"
            if self.tamper == "audience":
                claims["aud"] = "another-client"
            if self.tamper == "key":
                key = RSAKey.generate_key(2048, parameters={"kid": "idp-1"}, private=True)
            id_token = jwt.encode({"alg": "RS256", "kid": "idp-1"}, claims, key)
            return JSONResponse({"access_token": "at", "token_type": "Bearer",
                                 "id_token": id_token})

        return app


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    idp = Provider()
    server = uvicorn.Server(uvicorn.Config(idp.app, host="127.0.0.1", port=idp.port,
                                           log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "identity provider did not start"
        time.sleep(0.05)
    yield idp
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def nodes(provider, pki_server, tmp_path_factory):
    oidc = OidcSettings(metadata_url=f"{provider.issuer}/.well-known/openid-configuration",
                        client_id="edoc-nghean", client_secret="s3cret")
    with office_nodes(tmp_path_factory.mktemp("oidc"), pki_server,
                      province_office={"oidc": oidc}) as running:
        yield running


def sso(base_url: str) -> httpx.Response:
    """A browser's trip: edoc → provider → edoc callback; returns the callback's answer with
    the client (and its cookies) attached as ``.client``."""
    client = httpx.Client(base_url=base_url, timeout=30)
    start = client.get("/api/v1/auth/oidc/login")
    assert start.status_code == 302, start.text
    at_idp = httpx.get(start.headers["location"], timeout=30)
    assert at_idp.status_code == 307 or at_idp.status_code == 302, at_idp.text
    back = urlparse(at_idp.headers["location"])
    answer = client.get(f"{back.path}?{back.query}")
    answer.client = client  # type: ignore[attr-defined]
    return answer


def test_single_sign_on_opens_a_session(provider, nodes):
    provider.user, provider.tamper = "lanhdao.h41", None
    answer = sso(nodes.urls["province"])
    assert answer.status_code == 302 and answer.headers["location"] == "/", answer.text
    client = answer.client
    me = client.get("/api/v1/me").json()
    assert me["username"] == "lanhdao.h41" and me["roles"] == ["leader"]
    assert me["agency"]["code"] == "000.00.00.H41"
    # the cookie session is a real one: changes need the CSRF token like a password login
    assert client.post("/api/v1/auth/logout").status_code == 403
    csrf = client.cookies.get("edoc_csrf")
    assert client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 200
    # the second login finds the account by its linked subject
    assert sso(nodes.urls["province"]).status_code == 302


@pytest.mark.parametrize("tamper", ["nonce", "audience", "key"])
def test_a_bad_id_token_is_refused(provider, nodes, tamper):
    provider.user, provider.tamper = "vanthu.h41", tamper
    try:
        answer = sso(nodes.urls["province"])
    finally:
        provider.tamper = None
    assert answer.status_code == 403, answer.text
    body = answer.json()
    assert body["error"] == "oidc_refused" and body["message_vi"] and body["message_en"]
    assert "edoc_session" not in answer.client.cookies


def test_no_account_no_session(provider, nodes):
    provider.user = "nobody.here"
    answer = sso(nodes.urls["province"])
    assert answer.status_code == 403
    assert "nobody.here" in answer.json()["message_en"]


def test_forged_state_is_refused(provider, nodes):
    client = httpx.Client(base_url=nodes.urls["province"], timeout=30)
    start = client.get("/api/v1/auth/oidc/login")
    state = parse_qs(urlparse(start.headers["location"]).query)["state"][0]
    answer = client.get("/api/v1/auth/oidc/callback", params={"code": "x", "state": state + "x"})
    assert answer.status_code == 403 and answer.json()["error"] == "oidc_refused"
    # and without the flow cookie (another browser) nothing works either
    other = httpx.get(f"{nodes.urls['province']}/api/v1/auth/oidc/callback",
                      params={"code": "x", "state": state})
    assert other.status_code == 403


def test_sso_off_where_not_configured(nodes):
    r = httpx.get(f"{nodes.urls['hub']}/api/v1/auth/oidc/login")
    assert r.status_code == 404 and r.json()["error"] == "oidc_off"
