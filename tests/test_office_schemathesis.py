"""Schemathesis against the running e-office app: every operation of its /openapi.json, with
valid and invalid data, as a logged-in clerk and as a logged-in leader (bearer tokens), on the
province (where the leader has a server-side key) and on the commune hub (where the communes
have an incoming document); no answer may be a server error (5xx).

Bounded so the module runs in about a minute: few examples per operation, no stateful phase
(the seeded documents give the ids something to hit)."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig

from storage.accounts import Accounts
from storage.db import Database
from tests.exchange_helpers import wait_for
from tests.office_helpers import C1, C2, PASSWORD, office_nodes

#: per node, the users whose tokens every generated request is sent with
USERS = {"province": ("vanthu.h41", "lanhdao.h41"), "hub": ("vanthu.c1", "lanhdao.c1")}
MAX_EXAMPLES = 8
LOGOUT = "/api/v1/auth/logout"

CONFIG = {
    "generation": {"mode": "all", "max-examples": MAX_EXAMPLES},
    "phases": {"stateful": {"enabled": False}},
    "request-timeout": 60,
}


@pytest.fixture(scope="module")
def nodes(pki_server, tmp_path_factory):
    with office_nodes(tmp_path_factory.mktemp("schemathesis"), pki_server) as running:
        _seed(running, pki_server)
        yield running


def _seed(nodes, manifest) -> None:
    """Documents the generated ids can hit: drafts and an issued directive at the province,
    its incoming copies at the hub (ids 1, 2), a commune draft."""
    clerk, leader = (nodes.client(u, bearer=True) for u in USERS["province"])
    password = manifest.entity("official-h41").password
    issued = leader.ok("POST", "/api/v1/outgoing/from-template", json={
        "subject": "Về việc kiểm thử giao diện lập trình", "notation": "CT-UBND",
        "recipients": [C1[0], C2[0]]})["id"]
    leader.ok("POST", f"/api/v1/outgoing/{issued}/sign", json={"password": password})
    for step in ("number", "seal", "issue"):
        clerk.ok("POST", f"/api/v1/outgoing/{issued}/{step}")
    for subject in ("Dự thảo một", "Dự thảo hai"):
        leader.ok("POST", "/api/v1/outgoing/from-template", json={
            "subject": subject, "notation": "CV-UBND", "recipients": [C1[0]]})
    c1 = nodes.client("vanthu.c1", bearer=True)
    wait_for(lambda: c1.ok("GET", "/api/v1/inbox")["total"] == 1, what="the directive at C1")
    nodes.client("chuyenvien.c1", bearer=True).ok("POST", "/api/v1/outgoing/from-template", json={
        "subject": "Dự thảo của phường", "notation": "CV-UBND", "recipients": [C2[0]]})


def _token(url: str, username: str) -> str:
    r = httpx.post(f"{url}/api/v1/auth/token", json={"username": username, "password": PASSWORD},
                   timeout=60)
    assert r.status_code == 200, r.text
    return r.json()["token"]


def _mint(db: Database, username: str) -> str:
    """A bearer session opened straight in the node's database: generated wrong logins may
    have locked the client address out of logging in by then (as they should)."""
    with db.sessions() as s, s.begin():
        accounts = Accounts(s)
        token, _row = accounts.open_session(accounts.require(username), "bearer",
                                            dt.timedelta(hours=1), label="schemathesis")
    return token


@pytest.fixture(scope="module", params=sorted(USERS))
def target(request, nodes):
    url = nodes.urls[request.param]
    db = Database(getattr(nodes, request.param).cfg.database_url)
    yield {"url": url, "tokens": [_token(url, u) for u in USERS[request.param]],
           "users": USERS[request.param], "db": db}
    db.dispose()


@pytest.fixture(scope="module")
def office_schema(target):
    return schemathesis.openapi.from_url(f"{target['url']}/openapi.json",
                                         config=SchemathesisConfig.from_dict(CONFIG))


schema = schemathesis.pytest.from_fixture("office_schema")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_server_errors(case, target):
    for username, token in zip(target["users"], target["tokens"], strict=True):
        if case.path == LOGOUT:  # logging out must not end the session the others use
            token = _mint(target["db"], username)
        headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
        response = case.call(base_url=target["url"], headers=headers)
        case.validate_response(response, checks=[not_a_server_error], headers=headers)
