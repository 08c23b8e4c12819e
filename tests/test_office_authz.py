"""The authorization matrix of the e-office API: EVERY route of the app × every role × (own
agency, another agency hosted on the same node, a guessed id, no session), against a running
commune hub that hosts two communes (C1 and C2) in one database.

- the route list is the app's own (``create_office_app``), checked against the running app's
  /openapi.json; a route without a ``require(Action.X)`` gate fails here unless it is one of
  the few public ones (logging in), and a route without a recipe below fails too;
- no session → 401 with the one error shape; a bogus token → 401 as well;
- a role ``PERMISSIONS`` does not allow → 403 ``forbidden``, whatever the object;
- an allowed role on another agency's object (C2's ids used by C1 people) or on a guessed id →
  404, never 200, never the other agency's data;
- an allowed role on its own agency's object → neither 401, 403 nor 404 (409 for a state
  precondition is fine), never a server error;
- afterwards nothing of C2 changed (documents, steps, statuses, accounts, sessions).
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from sqlalchemy import or_, select

from api.office.app import create_office_app
from api.office.authz import PERMISSIONS, Action, Role
from api.office.errors import API_PATHS
from api.office.settings import OfficeSettings
from storage.db import Database
from storage.db import models as m
from tests.exchange_helpers import wait_for
from tests.office_helpers import C1, C2, PASSWORD, issue_over_api, office_nodes
from tests.sign_helpers import signer_for

#: routes anyone may call without a session: they are how a session is obtained
PUBLIC = {("POST", "/api/v1/auth/login"), ("POST", "/api/v1/auth/token"),
          ("GET", "/api/v1/auth/oidc/login"), ("GET", "/api/v1/auth/oidc/callback"),
          # the web page's login form, its language switch and the fonts it is drawn with
          ("GET", "/login"), ("POST", "/login"), ("GET", "/lang/{code}"),
          ("GET", "/static/fonts/{name}.ttf")}
#: FastAPI's own documentation routes (no data), and the page's static files (CSS, scripts)
DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/static"}

#: the C1 person of each role (all on the hub)
C1_PEOPLE = {Role.LEADER: "lanhdao.c1", Role.CLERK: "vanthu.c1",
             Role.SPECIALIST: "chuyenvien.c1", Role.OPERATOR: "quantri.c1",
             Role.AUDITOR: "kiemtra.c1"}
GUESSED_ID = 999999
#: words only C2's data contains: none may ever reach a C1 person
C2_SUBJECT = "Kế hoạch riêng của xã Diễn Châu (không ai ngoài xã được đọc)"
C2_NAMES = ("Mai Thị Minh", "Lý Văn Nam", "Trịnh Văn Oanh")


def _stub_node() -> Any:
    """Enough of a node for ``create_office_app`` to build its routes (nothing is served)."""
    return SimpleNamespace(cfg=SimpleNamespace(name="matrix"), hosted={},
                           queue_report=lambda: {"counts": {}})


def _gates(route: Any) -> list[Action]:
    found: list[Action] = []

    def walk(dependant: Any) -> None:
        for sub in dependant.dependencies:
            action = getattr(sub.call, "action", None)
            if action is not None:
                found.append(action)
            walk(sub)

    walk(route.dependant)
    return found


def _routes(app: Any) -> list[Any]:
    """Every route the app serves, with its effective path and dependencies: FastAPI ≥ 0.165
    keeps an included router as one entry whose route contexts carry them."""
    out = []
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        out.extend(contexts() if contexts is not None else [route])
    return out


def _is_api(route: Any) -> bool:
    return isinstance(route, APIRoute) or getattr(route, "dependant", None) is not None


APP = create_office_app(_stub_node(), OfficeSettings())
ROUTES = _routes(APP)
ALL_ROUTES = [(method, r.path, r) for r in ROUTES if _is_api(r) for method in sorted(r.methods)]
#: the JSON API (its refusals in the one error shape) and the web page's routes (HTML)
API_ROUTES = [(mt, p, r) for mt, p, r in ALL_ROUTES if p.startswith(API_PATHS)]
PAGE_ROUTES = [(mt, p, r) for mt, p, r in ALL_ROUTES if not p.startswith(API_PATHS)]
GATED = [(method, path, _gates(r)[0]) for method, path, r in API_ROUTES
         if (method, path) not in PUBLIC and len(_gates(r)) == 1]
PAGE_GATED = [(method, path, _gates(r)[0]) for method, path, r in PAGE_ROUTES
              if (method, path) not in PUBLIC and len(_gates(r)) == 1]


# -- the world: documents of C1 and C2 on one hub --------------------------------------------------
@dataclass
class World:
    nodes: Any
    clients: dict[Role, Any]
    c2: dict[str, Any]
    anonymous: httpx.Client
    bogus: httpx.Client
    own: dict[str, int]
    other: dict[str, int]
    pdf: bytes
    png: bytes
    certificate: str
    c2_snapshot: Any
    counter: itertools.count = field(default_factory=itertools.count)

    def fresh(self, role: Role) -> Any:
        return self.nodes.client(C1_PEOPLE[role])


def _inbox_ids(client) -> dict[str, int]:
    return {d["subject"]: d["id"] for d in client.ok("GET", "/api/v1/inbox")["items"]}


def _hub_db(nodes) -> Database:
    from exchange_axis.config import load  # noqa: PLC0415

    return Database(load(nodes.paths["hub"]).database_url)


def c2_snapshot(nodes) -> dict[str, Any]:
    """Everything of C2 on the hub, read from its database directly (not through the app)."""
    db = _hub_db(nodes)
    try:
        with db.sessions() as s:
            agency = s.execute(select(m.Agency.id).where(m.Agency.code == C2[0])).scalar_one()
            docs = s.execute(select(m.Document).where(m.Document.agency_id == agency)
                             .order_by(m.Document.id)).scalars().all()
            ids = [d.id for d in docs]
            users = s.execute(select(m.User).where(m.User.agency_id == agency)
                              .order_by(m.User.id)).scalars().all()
            uids = [u.id for u in users]
            return {
                "documents": [(d.id, d.direction, d.state, d.number, d.assigned_to, d.version,
                               d.signer_name, d.meta, d.updated_at) for d in docs],
                "steps": s.execute(select(m.DocumentStep.id, m.DocumentStep.step)
                                   .where(m.DocumentStep.document_id.in_(ids))
                                   .order_by(m.DocumentStep.id)).all(),
                "statuses": s.execute(select(m.StatusEvent.id, m.StatusEvent.status_code)
                                      .where(or_(m.StatusEvent.document_id.in_(ids),
                                                 m.StatusEvent.agency_code == C2[0]))
                                      .order_by(m.StatusEvent.id)).all(),
                "registers": s.execute(select(m.OutgoingEntry.id).where(
                    m.OutgoingEntry.agency_id == agency)).all() + s.execute(
                    select(m.IncomingEntry.id, m.IncomingEntry.seq).where(
                        m.IncomingEntry.agency_id == agency)).all(),
                "users": [(u.id, u.username, u.disabled, u.password_hash, u.roles, u.profile)
                          for u in users],
                "sessions": s.execute(select(m.UserSession.id, m.UserSession.revoked_at)
                                      .where(m.UserSession.user_id.in_(uids))
                                      .order_by(m.UserSession.id)).all(),
            }
    finally:
        db.dispose()


@pytest.fixture(scope="module")
def world(pki_server, tmp_path_factory):
    with office_nodes(tmp_path_factory.mktemp("authz"), pki_server) as nodes:
        p_leader = nodes.client("lanhdao.h41", bearer=True)
        p_clerk = nodes.client("vanthu.h41", bearer=True)
        password = pki_server.entity("official-h41").password
        issue_over_api(p_leader, p_clerk, password, "Chỉ thị gửi hai xã", [C1[0], C2[0]])
        issue_over_api(p_leader, p_clerk, password, "Chỉ thị chỉ gửi phường", [C1[0]])
        # C2's people log in now, before the snapshot of C2 (their sessions are part of it)
        c2 = {name: nodes.client(name) for name in ("vanthu.c2", "lanhdao.c2", "chuyenvien.c2")}
        c1_clerk, c2_clerk = nodes.client("vanthu.c1"), c2["vanthu.c2"]
        c1_in = wait_for(lambda: (lambda ids: ids if len(ids) == 2 else None)(
            _inbox_ids(c1_clerk)), what="both directives at C1")
        c2_in = wait_for(lambda: _inbox_ids(c2_clerk) or None, what="the directive at C2")
        specialist = nodes.client("chuyenvien.c1")
        # the C1 copy is accepted and assigned to C1's specialist (so he may process it)
        doc = c1_in["Chỉ thị gửi hai xã"]
        c1_clerk.ok("POST", f"/api/v1/incoming/{doc}/accept")
        c1_clerk.ok("POST", f"/api/v1/incoming/{doc}/assign",
                    json={"user_id": specialist.user["id"]})
        draft = {"notation": "KH-UBND", "type": 3, "type_name": "Kế hoạch"}
        c1_out = specialist.ok("POST", "/api/v1/outgoing/from-template", json={
            **draft, "subject": "Kế hoạch của phường", "recipients": [C2[0]],
            "signer_name": "Đặng Văn Phúc"})["id"]
        c2_out = c2["chuyenvien.c2"].ok("POST", "/api/v1/outgoing/from-template", json={
            **draft, "subject": C2_SUBJECT, "recipients": [C1[0]],
            "signer_name": "Trịnh Văn Oanh"})["id"]
        token = signer_for(pki_server, "official-c1")
        certificate = base64.b64encode(token.certificate.dump()).decode()
        chain = [base64.b64encode(c.dump()).decode() for c in token.chain]
        prepared = {"certificate": certificate, "chain": chain}
        c1_pending = nodes.client("lanhdao.c1").ok(
            "POST", f"/api/v1/outgoing/{c1_out}/sign/prepare", json=prepared)["pending_id"]
        c2_pending = c2["lanhdao.c2"].ok(
            "POST", f"/api/v1/outgoing/{c2_out}/sign/prepare", json=prepared)["pending_id"]
        spare = nodes.client("quantri.c1").ok("POST", "/api/v1/users", json={
            "username": "tamthoi.c1", "full_name": "Người Tạm Thời", "roles": ["specialist"],
            "password": PASSWORD})["id"]
        clients = {role: nodes.client(name) for role, name in C1_PEOPLE.items()}
        hub = nodes.urls["hub"]
        world = World(
            nodes=nodes, clients=clients, c2=c2,
            anonymous=httpx.Client(base_url=hub, timeout=60),
            bogus=httpx.Client(base_url=hub, timeout=60,
                               headers={"Authorization": "Bearer khong-phai-ma-that"}),
            own={"incoming": doc, "incoming_unassigned": c1_in["Chỉ thị chỉ gửi phường"],
                 "outgoing": c1_out, "pending": c1_pending, "user": spare,
                 "specialist": specialist.user["id"]},
            other={"incoming": c2_in["Chỉ thị gửi hai xã"], "outgoing": c2_out,
                   "pending": c2_pending, "user": c2_clerk.user["id"]},
            pdf=specialist.get(f"/api/v1/outgoing/{c1_out}/pdf").content,
            png=pki_server.entity("official-c1").image.read_bytes(),
            certificate=certificate, c2_snapshot=c2_snapshot(nodes))
        yield world
        world.anonymous.close()
        world.bogus.close()


# -- how to call each route ------------------------------------------------------------------------
@dataclass
class Recipe:
    """How to call one route: the action it must be gated on (a route re-gated on another
    action fails here), the kind of object its path names (None: no object), and the
    request's body for a given object id."""

    action: Action
    obj: str | None = None
    body: Callable[[World, int | None], dict[str, Any]] = lambda w, i: {}
    #: the call ends the caller's session: use a session of its own
    fresh_session: bool = False


def _json(value: dict[str, Any]) -> Callable[[World, int | None], dict[str, Any]]:
    return lambda w, i: {"json": value}


def _template(w: World, _i: int | None) -> dict[str, Any]:
    return {"json": {"subject": f"Dự thảo thử quyền {next(w.counter)}", "notation": "CV-UBND",
                     "recipients": [C2[0]]}}


def _upload(w: World, _i: int | None) -> dict[str, Any]:
    import json  # noqa: PLC0415

    meta = {"subject": f"Dự thảo tải lên {next(w.counter)}", "notation": "CV-UBND",
            "recipients": [C2[0]]}
    return {"files": {"file": ("du-thao.pdf", w.pdf, "application/pdf")},
            "data": {"meta": json.dumps(meta, ensure_ascii=False)}}


def _new_user(w: World, _i: int | None) -> dict[str, Any]:
    return {"json": {"username": f"moi{next(w.counter)}.c1", "full_name": "Người Mới",
                     "roles": ["specialist"], "password": PASSWORD}}


def _complete(w: World, doc: int | None) -> dict[str, Any]:
    pending = w.own["pending"] if doc == w.own["outgoing"] else w.other["pending"]
    return {"json": {"pending_id": pending, "signature": "AAAA"}}


A = Action
RECIPES: dict[tuple[str, str], Recipe] = {
    ("POST", "/api/v1/auth/logout"): Recipe(A.SELF, fresh_session=True),
    ("GET", "/api/v1/me"): Recipe(A.SELF),
    ("PUT", "/api/v1/me/password"): Recipe(A.SELF, body=_json({
        "old_password": "khong-dung-dau", "new_password": "mat-khau-moi-dai"})),
    ("PUT", "/api/v1/me/signature-image"): Recipe(A.SIGN_PERSONAL, body=lambda w, i: {
        "files": {"file": ("chu-ky.png", w.png, "image/png")}}),
    ("GET", "/api/v1/users"): Recipe(A.USER_MANAGE),
    ("POST", "/api/v1/users"): Recipe(A.USER_MANAGE, body=_new_user),
    ("GET", "/api/v1/colleagues"): Recipe(A.INBOX_READ),
    ("POST", "/api/v1/users/{user_id}/disable"): Recipe(A.USER_MANAGE, "user"),
    ("POST", "/api/v1/users/{user_id}/reset"): Recipe(
        A.USER_MANAGE, "user", body=_json({"password": "mat-khau-dat-lai"})),
    ("GET", "/api/v1/agencies"): Recipe(A.DIRECTORY_READ),
    ("POST", "/api/v1/outgoing"): Recipe(A.DRAFT_CREATE, body=_upload),
    ("GET", "/api/v1/outgoing"): Recipe(A.OUTGOING_READ),
    ("POST", "/api/v1/outgoing/from-template"): Recipe(A.DRAFT_CREATE, body=_template),
    ("GET", "/api/v1/outgoing/{doc_id}"): Recipe(A.OUTGOING_READ, "outgoing"),
    ("GET", "/api/v1/outgoing/{doc_id}/pdf"): Recipe(A.OUTGOING_READ, "outgoing"),
    ("POST", "/api/v1/outgoing/{doc_id}/sign"): Recipe(
        A.SIGN_PERSONAL, "outgoing", body=_json({"password": "mat-khau-khoa"})),
    ("POST", "/api/v1/outgoing/{doc_id}/sign/csc"): Recipe(A.SIGN_PERSONAL, "outgoing", _json({
        "service_url": "http://127.0.0.1:9/csc", "access_token": "t", "credential_id": "c",
        "pin": "123456"})),
    ("POST", "/api/v1/outgoing/{doc_id}/sign/prepare"): Recipe(
        A.SIGN_PERSONAL, "outgoing", body=lambda w, i: {"json": {"certificate": w.certificate}}),
    ("POST", "/api/v1/outgoing/{doc_id}/sign/complete"): Recipe(A.SIGN_PERSONAL, "outgoing",
                                                                 body=_complete),
    ("POST", "/api/v1/outgoing/{doc_id}/number"): Recipe(A.NUMBER, "outgoing"),
    ("POST", "/api/v1/outgoing/{doc_id}/seal"): Recipe(A.SEAL, "outgoing"),
    ("POST", "/api/v1/outgoing/{doc_id}/issue"): Recipe(A.ISSUE, "outgoing"),
    ("GET", "/api/v1/inbox"): Recipe(A.INBOX_READ),
    ("GET", "/api/v1/incoming/{doc_id}"): Recipe(A.INBOX_READ, "incoming"),
    ("GET", "/api/v1/incoming/{doc_id}/pdf"): Recipe(A.INBOX_READ, "incoming"),
    ("GET", "/api/v1/incoming/{doc_id}/report"): Recipe(A.INBOX_READ, "incoming"),
    ("GET", "/api/v1/incoming/{doc_id}/report.html"): Recipe(A.INBOX_READ, "incoming"),
    ("POST", "/api/v1/incoming/{doc_id}/accept"): Recipe(A.ACCEPT, "incoming"),
    ("POST", "/api/v1/incoming/{doc_id}/reject"): Recipe(
        A.REJECT, "incoming", body=_json({"reason": "Không thuộc thẩm quyền của xã"})),
    ("POST", "/api/v1/incoming/{doc_id}/assign"): Recipe(
        A.ASSIGN, "incoming", body=lambda w, i: {"json": {"user_id": w.own["specialist"]}}),
    ("POST", "/api/v1/incoming/{doc_id}/processing"): Recipe(A.PROCESS, "incoming",
                                                            body=_json({"note": "đang làm"})),
    ("POST", "/api/v1/incoming/{doc_id}/done"): Recipe(A.PROCESS, "incoming",
                                                      body=_json({"note": "xong"})),
    ("GET", "/api/v1/registers/{direction}"): Recipe(A.REGISTER_READ),
    ("GET", "/api/v1/queue"): Recipe(A.QUEUE_MANAGE),
    ("POST", "/api/v1/queue/retry"): Recipe(A.QUEUE_MANAGE, body=_json({})),
    ("GET", "/metrics"): Recipe(A.METRICS_READ),
    ("GET", "/api/v1/reports/summary"): Recipe(A.REPORT_READ),
}


def _form(value: dict[str, Any]) -> Callable[[World, int | None], dict[str, Any]]:
    return lambda w, i: {"data": value}


#: the web page's routes: the same actions, as the page calls them (forms, cookie session)
PAGE_RECIPES: dict[tuple[str, str], Recipe] = {
    ("GET", "/"): Recipe(A.SELF),
    ("GET", "/account"): Recipe(A.SELF),
    ("POST", "/logout"): Recipe(A.SELF, fresh_session=True),
    ("GET", "/inbox"): Recipe(A.INBOX_READ),
    ("GET", "/incoming/{doc_id}"): Recipe(A.INBOX_READ, "incoming"),
    ("GET", "/incoming/{doc_id}/page/{number}.png"): Recipe(A.INBOX_READ, "incoming"),
    ("POST", "/incoming/{doc_id}/accept"): Recipe(A.ACCEPT, "incoming"),
    ("POST", "/incoming/{doc_id}/reject"): Recipe(
        A.REJECT, "incoming", body=_form({"reason": "Không thuộc thẩm quyền của xã"})),
    ("POST", "/incoming/{doc_id}/assign"): Recipe(
        A.ASSIGN, "incoming", body=lambda w, i: {"data": {"user_id": w.own["specialist"]}}),
    ("POST", "/incoming/{doc_id}/processing"): Recipe(A.PROCESS, "incoming",
                                                     body=_form({"note": "đang làm"})),
    ("POST", "/incoming/{doc_id}/done"): Recipe(A.PROCESS, "incoming", body=_form({"note": "x"})),
    ("GET", "/registers"): Recipe(A.REGISTER_READ),
    ("GET", "/outgoing"): Recipe(A.OUTGOING_READ),
    ("GET", "/outgoing/new"): Recipe(A.DRAFT_CREATE),
    ("POST", "/outgoing/new"): Recipe(A.DRAFT_CREATE, body=lambda w, i: {"data": {
        "subject": f"Dự thảo trên trang {next(w.counter)}", "notation": "CV-UBND",
        "recipients": [C2[0]]}}),
    ("GET", "/outgoing/{doc_id}"): Recipe(A.OUTGOING_READ, "outgoing"),
    ("GET", "/outgoing/{doc_id}/page/{number}.png"): Recipe(A.OUTGOING_READ, "outgoing"),
    ("POST", "/outgoing/{doc_id}/sign"): Recipe(A.SIGN_PERSONAL, "outgoing",
                                                body=_form({"password": "mat-khau-khoa"})),
    ("POST", "/outgoing/{doc_id}/number"): Recipe(A.NUMBER, "outgoing"),
    ("POST", "/outgoing/{doc_id}/seal"): Recipe(A.SEAL, "outgoing"),
    ("POST", "/outgoing/{doc_id}/issue"): Recipe(A.ISSUE, "outgoing"),
    ("GET", "/dashboard"): Recipe(A.REPORT_READ),
}


def _url(path: str, obj_id: int | None) -> str:
    if "{direction}" in path:
        return path.replace("{direction}", "incoming")
    path = path.replace("{number}", "1")
    if obj_id is None:
        return path
    return path.replace("{doc_id}", str(obj_id)).replace("{user_id}", str(obj_id))


def _shape(r: httpx.Response, status: int, code: str | None = None) -> str | None:
    """Why ``r`` is not the error ``status`` (``code``) in the one error shape, or None."""
    if r.status_code != status:
        return f"HTTP {r.status_code} instead of {status}: {r.text[:300]}"
    try:
        body = r.json()
    except ValueError:
        return f"not JSON: {r.text[:200]}"
    if not (isinstance(body, dict) and body.get("error") and body.get("message_vi")
            and body.get("message_en")):
        return f"not the error shape: {body}"
    if code is not None and body["error"] != code:
        return f"error {body['error']!r} instead of {code!r}"
    return None


def _leaks(r: httpx.Response) -> str | None:
    text = r.content.decode("utf-8", errors="replace")
    for word in (C2_SUBJECT, *C2_NAMES):
        if word in text:
            return f"C2's data in the answer: {word!r}"
    return None


def _call(w: World, client: Any, method: str, path: str, recipe: Recipe,
          obj_id: int | None) -> httpx.Response:
    return client.request(method, _url(path, obj_id), **recipe.body(w, obj_id))


# -- the route list itself -------------------------------------------------------------------------
def test_every_route_is_gated_or_public():
    problems = []
    assert len(API_ROUTES) > 30, "the walk found the app's routes"
    assert len(PAGE_ROUTES) > 15, "the walk found the web page's routes"
    for route in ROUTES:
        if not _is_api(route):
            if getattr(route, "path", None) not in DOCS:
                problems.append(f"{route!r}: not an API route and not the docs")
            continue
        gates = _gates(route)
        for method in route.methods:
            if (method, route.path) in PUBLIC:
                if gates:
                    problems.append(f"{method} {route.path} is public but gated by {gates}")
            elif len(gates) != 1:
                problems.append(f"{method} {route.path}: {len(gates)} require() gates, not 1")
            elif gates[0] not in PERMISSIONS:
                problems.append(f"{method} {route.path}: action {gates[0]} not in PERMISSIONS")
    assert not problems, "\n".join(problems)
    assert set(PERMISSIONS) == set(Action), "every action has its line in PERMISSIONS"


def test_every_route_has_a_recipe_and_its_action():
    routes = {(method, path) for method, path, _r in ALL_ROUTES} - PUBLIC
    recipes = {**RECIPES, **PAGE_RECIPES}
    assert routes - set(recipes) == set(), "routes the matrix does not call: add a Recipe"
    assert set(recipes) - routes == set(), "recipes of routes that no longer exist"
    gated = {(method, path): action for method, path, action in GATED + PAGE_GATED}
    wrong = {mp: (gated.get(mp), r.action) for mp, r in recipes.items()
             if gated.get(mp) != r.action}
    assert not wrong, f"routes gated on another action than expected (found, expected): {wrong}"


def test_running_app_is_the_app_walked_here(world):
    served = httpx.get(f"{world.nodes.urls['hub']}/openapi.json", timeout=30).json()["paths"]
    operations = {(method.upper(), path) for path, ops in served.items() for method in ops}
    # (a route hidden from the schema is still walked here, gated and called)
    schema_routes = {(method, path) for method, path, r in API_ROUTES if r.include_in_schema}
    assert operations == schema_routes


# -- the matrix ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("method", "path", "action"), GATED,
                         ids=[f"{m_} {p}" for m_, p, _a in GATED])
def test_matrix(world, method, path, action):
    recipe = RECIPES[(method, path)]
    problems = _walk(world, method, path, recipe, outsiders=[
        ("no session", world.anonymous, lambda r: _shape(r, 401, "not_authenticated")),
        ("bogus token", world.bogus, lambda r: _shape(r, 401, "session_unknown"))],
        refusal=lambda r, status, code: _shape(r, status, code))
    assert not problems, f"{method} {path} ({recipe.action.value}):\n" + "\n".join(problems)


def _walk(world: World, method: str, path: str, recipe: Recipe, *,
          outsiders: list[tuple[str, httpx.Client, Callable[[httpx.Response], str | None]]],
          refusal: Callable[[httpx.Response, int, str], str | None]) -> list[str]:
    """Call one route as every outsider and every role, on the own object, another agency's
    and a guessed id; what is wrong, as lines. The route must require ``recipe.action`` (its own
    gate is checked above); ``refusal(r, status, code)`` says why ``r`` is not that refusal."""
    action = recipe.action
    objects: list[tuple[str, int | None]] = [("own", world.own[recipe.obj] if recipe.obj
                                              else None)]
    if recipe.obj:
        objects += [("other agency", world.other[recipe.obj]), ("guessed", GUESSED_ID)]
    problems: list[str] = []
    for where, obj_id in objects:
        for who, client, check in outsiders:
            why = check(_call(world, client, method, path, recipe, obj_id))
            if why:
                problems.append(f"{who}, {where}: {why}")
    for role in Role:
        allowed = role in PERMISSIONS[action]
        for where, obj_id in objects:
            client = world.fresh(role) if recipe.fresh_session else world.clients[role]
            r = _call(world, client, method, path, recipe, obj_id)
            if recipe.fresh_session:
                client.close()
            label = f"{role.value}, {where} ({r.status_code})"
            if r.status_code >= 500:
                problems.append(f"{label}: server error {r.text[:300]}")
            elif not allowed:
                why = refusal(r, 403, "forbidden")
                if why:
                    problems.append(f"{label}: role not allowed, {why}")
            elif where != "own":
                why = refusal(r, 404, "not_found")
                if why:
                    problems.append(f"{label}: {why}")
            elif r.status_code in (401, 403, 404, 422):  # 422: the recipe's body is wrong
                problems.append(f"{label}: own object refused: {r.text[:300]}")
            why = _leaks(r)
            if why:
                problems.append(f"{label}: {why}")
    return problems


def _page_refusal(r: httpx.Response, status: int, _code: str = "") -> str | None:
    """Why ``r`` is not the HTML page refusing with ``status``, or None."""
    if r.status_code != status:
        return f"HTTP {r.status_code} instead of {status}: {r.text[:300]}"
    if not r.headers.get("content-type", "").startswith("text/html"):
        return f"not an HTML page: {r.headers.get('content-type')}"
    return None


def _to_login(r: httpx.Response) -> str | None:
    if r.status_code != 303 or not r.headers.get("location", "").startswith("/login"):
        return f"HTTP {r.status_code} (location {r.headers.get('location')}), not to /login"
    return None


@pytest.mark.parametrize(("method", "path", "action"), PAGE_GATED,
                         ids=[f"page {m_} {p}" for m_, p, _a in PAGE_GATED])
def test_page_matrix(world, method, path, action):
    """The web page's routes walked like the API's: no session → the login page; a role the
    table does not allow → 403 page; another agency's or a guessed id → 404 page; one's own →
    neither refusal nor server error; never anything of C2 in the answer."""
    recipe = PAGE_RECIPES[(method, path)]
    problems = _walk(world, method, path, recipe, outsiders=[
        ("no session", world.anonymous, _to_login), ("bearer token", world.bogus, _to_login)],
        refusal=_page_refusal)
    assert not problems, f"page {method} {path} ({recipe.action.value}):\n" + "\n".join(problems)


def test_page_forms_need_the_csrf_token(world):
    """A form posted with the session cookie but without the page's token (another site's
    form) is refused and changes nothing; the same with the token works."""
    clerk = world.clients[Role.CLERK]
    doc = world.own["incoming_unassigned"]
    before = clerk.ok("GET", f"/api/v1/incoming/{doc}")
    bare = httpx.Client(base_url=world.nodes.urls["hub"], cookies=clerk.cookies, timeout=60)
    for token in (None, "0" * 40):
        data = {"reason": "giả mạo"} | ({"csrf": token} if token else {})
        r = bare.post(f"/incoming/{doc}/reject", data=data)
        assert _page_refusal(r, 403) is None and "tải lại trang" in r.text, r.text[:300]
    bare.close()
    after = clerk.ok("GET", f"/api/v1/incoming/{doc}")
    assert (after["state"], after["history"]) == (before["state"], before["history"])


# -- lists and sub-objects keep to the caller's agency ---------------------------------------------
def test_lists_hold_only_own_agency(world):
    clerk, operator = world.clients[Role.CLERK], world.clients[Role.OPERATOR]
    inbox = clerk.ok("GET", "/api/v1/inbox", params={"per_page": 100})["items"]
    assert {d["id"] for d in inbox} == {world.own["incoming"], world.own["incoming_unassigned"]}
    outgoing = clerk.ok("GET", "/api/v1/outgoing", params={"per_page": 100})["items"]
    assert world.own["outgoing"] in {d["id"] for d in outgoing}
    assert world.other["outgoing"] not in {d["id"] for d in outgoing}
    for direction in ("incoming", "outgoing"):
        register = clerk.ok("GET", f"/api/v1/registers/{direction}")["items"]
        assert not {e["document"] for e in register} & {world.other["incoming"],
                                                         world.other["outgoing"]}
    people = clerk.ok("GET", "/api/v1/colleagues") + operator.ok("GET", "/api/v1/users")
    assert world.other["user"] not in {u["id"] for u in people}
    assert not {u["full_name"] for u in people} & set(C2_NAMES)
    found = clerk.ok("GET", "/api/v1/inbox", params={"q": "Chỉ thị"})["items"]
    assert world.other["incoming"] not in {d["id"] for d in found}
    # the leader's report rolls up C1 (and what is below it), never its sibling C2
    report = world.clients[Role.LEADER].ok("GET", "/api/v1/reports/summary")
    assert [a["code"] for a in report["agencies"]] == [C1[0]]
    assert report["total"]["received"] == 2  # C1's two directives, not C2's copy


def test_other_agency_ids_inside_bodies(world):
    """An id of C2 inside a request about C1's own object is 'not found' too."""
    clerk, leader = world.clients[Role.CLERK], world.clients[Role.LEADER]
    r = clerk.post(f"/api/v1/incoming/{world.own['incoming_unassigned']}/assign",
                   json={"user_id": world.other["user"]})
    assert _shape(r, 404, "not_found") is None, r.text
    r = leader.post(f"/api/v1/outgoing/{world.own['outgoing']}/sign/complete",
                    json={"pending_id": world.other["pending"], "signature": "AAAA"})
    assert _shape(r, 404, "not_found") is None, r.text
    # a C2 leader cannot finish C1's pending signature either (and sees no C1 data)
    c2_leader = world.c2["lanhdao.c2"]
    r = c2_leader.post(f"/api/v1/outgoing/{world.own['outgoing']}/sign/complete",
                       json={"pending_id": world.own["pending"], "signature": "AAAA"})
    assert _shape(r, 404, "not_found") is None, r.text
    assert "Kế hoạch của phường" not in r.text


def test_specialist_only_on_assigned(world):
    """A specialist may process (05, 06) only what was assigned to him: another C1 document is
    refused 403 ``not_assigned`` and keeps its state."""
    specialist, clerk = world.clients[Role.SPECIALIST], world.clients[Role.CLERK]
    doc = world.own["incoming_unassigned"]
    before = clerk.ok("GET", f"/api/v1/incoming/{doc}")
    for step in ("processing", "done"):
        r = specialist.post(f"/api/v1/incoming/{doc}/{step}", json={"note": "x"})
        assert _shape(r, 403, "not_assigned") is None, r.text
    after = clerk.ok("GET", f"/api/v1/incoming/{doc}")
    assert (after["state"], after["history"]) == (before["state"], before["history"])


# -- last: nothing of C2 changed -------------------------------------------------------------------
def test_zz_nothing_of_the_other_agency_changed(world):
    assert c2_snapshot(world.nodes) == world.c2_snapshot
    for client in world.c2.values():  # their sessions still work
        assert client.ok("GET", "/api/v1/me")["agency"]["code"] == C2[0]
    doc = world.c2["vanthu.c2"].ok("GET", f"/api/v1/incoming/{world.other['incoming']}")
    assert doc["state"] == "arrived" and doc["assigned_to"] is None
    draft = world.c2["chuyenvien.c2"].ok("GET", f"/api/v1/outgoing/{world.other['outgoing']}")
    assert draft["state"] == "draft" and [s["step"] for s in draft["steps"]] == [
        "draft", "sign_prepared"]
