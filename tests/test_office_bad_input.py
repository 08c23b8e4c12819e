"""What goes wrong at the e-office door, against a running province node: wrong passwords and the
login throttle, expired and ended sessions, a forged (CSRF-less) change, uploads that are no
document (not a PDF, encrypted, far too large, with or without a Content-Length), a step out of
order. Each refusal is one clear bilingual error, and nothing is left half-done: no document row,
no step, no object in the store."""

from __future__ import annotations

import datetime as dt
import io
import json
import select
import socket
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, update
from sqlalchemy import select as sql_select

from api.office.settings import load_office
from storage.accounts import token_hash
from storage.db import Database
from storage.db import models as m
from tests.exchange_helpers import object_files, wait_for
from tests.office_helpers import C1, PASSWORD, OfficeClient, office_nodes, run_cli

MB = 1024 * 1024


@pytest.fixture(scope="module")
def nodes(pki_server, tmp_path_factory):
    with office_nodes(tmp_path_factory.mktemp("bad-input"), pki_server) as running:
        yield running


@pytest.fixture(scope="module")
def office(nodes):
    return load_office(nodes.paths["province"])


@pytest.fixture(scope="module")
def db(nodes):
    database = Database(nodes.province.cfg.database_url)
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def operator(nodes):
    return nodes.client("quantri.h41", bearer=True)


@pytest.fixture(scope="module")
def specialist(nodes):
    return nodes.client("chuyenvien.h41")  # a cookie session, like the web page


@pytest.fixture(scope="module")
def good_pdf(specialist):
    draft = specialist.ok("POST", "/api/v1/outgoing/from-template", json={
        "subject": "Dự thảo mẫu để tải lên", "notation": "CV-UBND", "recipients": [C1[0]]})
    return specialist.get(f"/api/v1/outgoing/{draft['id']}/pdf").content


_people = iter(range(1, 1000))


def _person(operator, roles: tuple[str, ...] = ("specialist",)) -> str:
    """A new person of the province for one test (throttles and sessions are per person)."""
    username = f"thu{next(_people)}.h41"
    operator.ok("POST", "/api/v1/users", json={"username": username, "full_name": "Người Thử",
                                               "roles": list(roles), "password": PASSWORD})
    return username


def _client(nodes, username: str, *, bearer: bool = False) -> OfficeClient:
    return OfficeClient.login(nodes.urls["province"], username, PASSWORD, bearer=bearer)


def _login(nodes, username: str, password: str = PASSWORD) -> httpx.Response:
    return httpx.post(f"{nodes.urls['province']}/api/v1/auth/login",
                      json={"username": username, "password": password}, timeout=60)


def _refused(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == code, body
    assert body["message_vi"] and body["message_en"] and body["message_vi"] != body["message_en"]
    return body


def _state(nodes, db) -> dict[str, Any]:
    """Rows and stored objects of the province: what a refused request must leave alone."""
    with db.sessions() as s:
        def count(model) -> int:
            return s.execute(sql_select(func.count()).select_from(model)).scalar()

        rows = {"documents": count(m.Document), "steps": count(m.DocumentStep),
                "audit": count(m.AuditEntry)}
    rows["objects"] = sorted(str(p) for p in object_files(Path(nodes.province.cfg.store_url)))
    return rows


# -- logging in ------------------------------------------------------------------------------------
def test_wrong_password_is_401_bilingual(nodes, operator):
    username = _person(operator)
    wrong = _refused(_login(nodes, username, "khong-phai-mat-khau"), 401, "bad_credentials")
    # an unknown username gets the very same answer (no oracle of who exists)
    unknown = _refused(_login(nodes, "khong-co-ai.h41", "khong-phai-mat-khau"), 401,
                       "bad_credentials")
    assert wrong == unknown
    assert "mật khẩu" in wrong["message_vi"] and "password" in wrong["message_en"]
    r = httpx.post(f"{nodes.urls['province']}/api/v1/auth/token",
                   json={"username": username, "password": "khong-phai-mat-khau"}, timeout=60)
    _refused(r, 401, "bad_credentials")
    assert _login(nodes, username).status_code == 200


def test_throttle_after_n_failures(nodes, operator, office):
    username = _person(operator)
    n = office.login_failures
    assert n == 5  # the default of the setting
    for _ in range(n):
        _refused(_login(nodes, username, "sai-mat-khau-nhe"), 401, "bad_credentials")
    # locked now: even the right password is refused, with Retry-After
    r = _login(nodes, username)
    body = _refused(r, 429, "login_throttled")
    retry_after = int(r.headers["Retry-After"])
    assert 0 < retry_after <= office.login_lock_seconds + 1
    assert str(retry_after) in body["message_vi"] and str(retry_after) in body["message_en"]
    r = httpx.post(f"{nodes.urls['province']}/api/v1/auth/token",
                   json={"username": username, "password": PASSWORD}, timeout=60)
    assert r.status_code == 429 and r.headers["Retry-After"]
    # the lock is the person's, not everyone's
    assert _login(nodes, "vanthu.h41").status_code == 200


# -- sessions --------------------------------------------------------------------------------------
def _set_session(db, token: str, **values: Any) -> None:
    with db.sessions() as s, s.begin():
        s.execute(update(m.UserSession).where(m.UserSession.token_hash == token_hash(token))
                  .values(**values))


def _gone(client, code: str) -> None:
    """The session stops working (at once, or within the app's short session cache)."""
    r = wait_for(lambda: (lambda r: r if r.status_code == 401 else None)(
        client.get("/api/v1/me")), timeout=15, what=f"401 {code}")
    _refused(r, 401, code)


def test_expired_session(nodes, operator, db):
    username = _person(operator)
    client = _client(nodes, username)
    assert client.ok("GET", "/api/v1/me")["username"] == username
    past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    _set_session(db, client.cookies["edoc_session"], expires_at=past)
    _gone(client, "session_expired")
    bearer = _client(nodes, username, bearer=True)
    _set_session(db, bearer.headers["Authorization"].split()[1], expires_at=past)
    _gone(bearer, "session_expired")


def test_idle_cookie_session_expires(nodes, operator, db, office):
    username = _person(operator)
    client = _client(nodes, username)
    idle = dt.timedelta(minutes=office.idle_minutes + 1)
    _set_session(db, client.cookies["edoc_session"],
                 last_seen_at=dt.datetime.now(dt.UTC) - idle)
    _refused(client.get("/api/v1/me"), 401, "session_expired")


def test_logout_ends_the_session(nodes, operator):
    client = _client(nodes, _person(operator))
    token = client.cookies["edoc_session"]
    assert client.ok("POST", "/api/v1/auth/logout")["ok"] is True
    assert "edoc_session" not in client.cookies  # the page forgets it…
    replay = httpx.Client(base_url=nodes.urls["province"], cookies={"edoc_session": token},
                          timeout=60)
    _refused(replay.get("/api/v1/me"), 401, "session_revoked")  # …and the server too


def test_disabled_user_sessions_end(nodes, operator):
    username = _person(operator)
    cookie, bearer = _client(nodes, username), _client(nodes, username, bearer=True)
    user_id = cookie.user["id"]
    assert operator.ok("POST", f"/api/v1/users/{user_id}/disable")["disabled"] is True
    _refused(cookie.get("/api/v1/me"), 401, "session_revoked")
    _refused(bearer.get("/api/v1/me"), 401, "session_revoked")
    _refused(_login(nodes, username), 403, "account_disabled")


def test_disabled_from_the_shell_ends_sessions(nodes, operator):
    """``edoc user disable`` in another process: the app's sessions end too."""
    username = _person(operator)
    client = _client(nodes, username, bearer=True)
    run_cli("user", "disable", username, "--config", str(nodes.paths["province"]))
    _gone(client, "session_revoked")


def test_reset_password_ends_sessions(nodes, operator):
    username = _person(operator)
    cookie, bearer = _client(nodes, username), _client(nodes, username, bearer=True)
    operator.ok("POST", f"/api/v1/users/{cookie.user['id']}/reset",
                json={"password": "mat-khau-moi-2027"})
    _refused(cookie.get("/api/v1/me"), 401, "session_revoked")
    _refused(bearer.get("/api/v1/me"), 401, "session_revoked")
    _refused(_login(nodes, username), 401, "bad_credentials")
    assert _login(nodes, username, "mat-khau-moi-2027").status_code == 200


def test_own_password_change_ends_sessions(nodes, operator):
    username = _person(operator)
    client, other = _client(nodes, username), _client(nodes, username, bearer=True)
    client.ok("PUT", "/api/v1/me/password", json={"old_password": PASSWORD,
                                                  "new_password": "mat-khau-cua-toi"})
    _refused(other.get("/api/v1/me"), 401, "session_revoked")
    _refused(client.get("/api/v1/me"), 401, "session_revoked")


def test_bad_authorization_headers(nodes):
    url = nodes.urls["province"]
    for header, code in (("Basic dXNlcjpwYXNz", "bad_authorization"),
                         ("Bearer", "bad_authorization"),
                         ("Bearer khong-co-phien-nay", "session_unknown")):
        _refused(httpx.get(f"{url}/api/v1/me", headers={"Authorization": header}), 401, code)


# -- CSRF ------------------------------------------------------------------------------------------
def test_cookie_change_without_csrf_is_refused(nodes, db, specialist):
    before = _state(nodes, db)
    body = {"subject": "Văn bản giả mạo", "notation": "CV-UBND", "recipients": [C1[0]]}
    for headers in ({"X-CSRF-Token": ""}, {"X-CSRF-Token": "0" * 40}):
        r = specialist.post("/api/v1/outgoing/from-template", json=body, headers=headers)
        _refused(r, 403, "csrf")
    # a request without the header at all, as a page of another origin would send it
    bare = httpx.Client(base_url=nodes.urls["province"], cookies=specialist.cookies, timeout=60)
    _refused(bare.post("/api/v1/outgoing/from-template", json=body), 403, "csrf")
    _refused(bare.post("/api/v1/auth/logout"), 403, "csrf")
    assert _state(nodes, db) == before
    # the session itself is fine, and reading needs no token
    assert bare.get("/api/v1/me").status_code == 200
    assert specialist.ok("GET", "/api/v1/me")["username"] == "chuyenvien.h41"


# -- uploads that are no document ------------------------------------------------------------------
def _encrypted(pdf: bytes, user_password: str) -> bytes:
    from pyhanko.pdf_utils.reader import PdfFileReader  # noqa: PLC0415
    from pyhanko.pdf_utils.writer import copy_into_new_writer  # noqa: PLC0415

    writer = copy_into_new_writer(PdfFileReader(io.BytesIO(pdf)))
    writer.encrypt("mat-khau-chu", user_password)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _upload(client, data: bytes, name: str = "du-thao.pdf") -> httpx.Response:
    meta = {"subject": "Dự thảo tải lên", "notation": "CV-UBND", "recipients": [C1[0]]}
    return client.post("/api/v1/outgoing", files={"file": (name, data, "application/pdf")},
                       data={"meta": json.dumps(meta, ensure_ascii=False)})


def test_uploads_that_are_not_a_readable_pdf(nodes, db, specialist, good_pdf):
    cases = [
        (b"", "empty_file"),
        (b"PK\x03\x04 this is a zip, not a PDF" * 100, "not_pdf"),
        ("Đây là văn bản thuần, không phải PDF".encode() * 50, "not_pdf"),
        (good_pdf[: len(good_pdf) // 2], "truncated_pdf"),
        (_encrypted(good_pdf, "mat-khau-mo"), "encrypted_pdf"),
        (_encrypted(good_pdf, ""), "encrypted_pdf"),  # opens without a password, still locked
    ]
    before = _state(nodes, db)
    for data, code in cases:
        body = _refused(_upload(specialist, data), 400, code)
        assert body["message_en"].lower().count("pdf") or code == "empty_file", body
    assert _state(nodes, db) == before
    # the same route takes a good PDF (so the refusals above were about the files)
    assert _upload(specialist, good_pdf).status_code == 200


def _raw_upload(url: str, token: str, total: int, *, chunked: bool) -> tuple[int, bytes, int,
                                                                              float]:
    """POST a ``total``-byte multipart upload, generated as it is sent (never held in memory),
    with a Content-Length or chunked; stop sending as soon as the server answers. Returns
    (status, body, bytes sent, seconds)."""
    parts = urlsplit(url)
    boundary = "edoc-qua-lon"
    meta = json.dumps({"subject": "Quá lớn", "notation": "CV-UBND", "recipients": [C1[0]]})
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"meta\"\r\n\r\n{meta}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"lon.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.7\n").encode()

    def body():
        yield head
        sent = len(head)
        block = b"0" * (256 * 1024)
        while sent < total:
            piece = block[: total - sent]
            sent += len(piece)
            yield piece

    lines = ["POST /api/v1/outgoing HTTP/1.1", f"Host: {parts.netloc}",
             f"Authorization: Bearer {token}",
             f"Content-Type: multipart/form-data; boundary={boundary}"]
    lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}")
    sock = socket.create_connection((parts.hostname, parts.port), timeout=60)
    start = time.monotonic()
    sent = 0
    try:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        for piece in body():
            readable, _w, _x = select.select([sock], [], [], 0)
            if readable:
                break
            frame = f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece
            sock.sendall(frame)
            sent += len(piece)
        else:
            if chunked:
                sock.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    answer = b""
    try:
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < _length(answer):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    finally:
        sock.close()
    elapsed = time.monotonic() - start
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.split(b"\r\n\r\n", 1)[1], sent, elapsed


def _length(answer: bytes) -> int:
    for line in answer.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 1 << 62


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_upload_of_200_mb_is_refused_early(nodes, db, office, chunked):
    token = OfficeClient.login(nodes.urls["province"], "chuyenvien.h41", PASSWORD,
                               bearer=True).headers["Authorization"].split()[1]
    before = _state(nodes, db)
    status, body, sent, elapsed = _raw_upload(nodes.urls["province"], token, 200 * MB,
                                              chunked=chunked)
    assert status == 413, body
    error = json.loads(body)
    assert error["error"] == "too_large" and error["message_vi"] and error["message_en"]
    limit = office.max_upload_mb * MB
    if chunked:  # read up to the limit, not to the end
        assert sent < limit + 20 * MB, sent
    else:  # refused on the declared length, before the body
        assert sent < 20 * MB, sent
    assert elapsed < 30, elapsed
    assert _state(nodes, db) == before
    # the node still serves
    assert httpx.get(f"{nodes.urls['province']}/openapi.json", timeout=30).status_code == 200


# -- steps out of order ----------------------------------------------------------------------------
def test_seal_before_the_personal_signature(nodes, db, specialist):
    clerk = nodes.client("vanthu.h41")
    doc = specialist.ok("POST", "/api/v1/outgoing/from-template", json={
        "subject": "Chưa ký mà đã đóng dấu", "notation": "CV-UBND", "recipients": [C1[0]]})["id"]
    before = _state(nodes, db)
    view = clerk.ok("GET", f"/api/v1/outgoing/{doc}")
    for step, needs in (("seal", "numbered"), ("number", "signed"), ("issue", "sealed")):
        body = _refused(clerk.post(f"/api/v1/outgoing/{doc}/{step}"), 409, "wrong_state")
        assert body["details"] == {"state": "draft", "needs": needs}
        assert "draft" in body["message_en"] and "the leader signs it" in body["message_en"]
    assert _state(nodes, db) == before
    assert clerk.ok("GET", f"/api/v1/outgoing/{doc}") == view
