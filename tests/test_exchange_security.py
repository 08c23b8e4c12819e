"""Hostile and faulty input at a node's door, over real mutual TLS to a real node process.

The test plays the province node (its certificate) and posts crafted edXML packages to a commune
hub: tampered PDF, a PDF signed under a foreign PKI, a wrong recipient, a duplicate, an old
replayed package, an undeclared peer certificate and a foreign TLS certificate. Each gets the right
answer (02 with a reason, the first receipt again, 403, or a TLS refusal) and nothing is stored.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import ssl
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from api.cluster import NAMED_COMMUNES, PROVINCE, NodeProcess, NodeSpec, layout
from api.directive import sign_directive
from edoc.document import (
    VIETNAM,
    Attachment,
    Document,
    DocumentCode,
    DocumentPackage,
    Organization,
    TraceHeader,
    now_vietnam,
)
from edoc.edxml import build
from exchange_axis.config import TlsFiles
from exchange_axis.receipts import open_sealed
from exchange_axis.transport import PACKAGE_PATH, cert_fingerprint_file, client_context
from tests.exchange_helpers import object_files

C1, C2 = NAMED_COMMUNES


def _hub_and_province(tmp: Path, pki_server, extra=None) -> tuple[NodeProcess, object]:
    """A commune hub (C1, C2) started, and the province's configuration (its identity)."""
    specs = [NodeSpec("hub", "node-hub", agencies=[C1, C2], upstream="province",
                      peers=["province"]),
             NodeSpec("province", "node-province", agencies=[PROVINCE], peers=["hub"])]
    paths = layout(tmp, pki_server, specs, extra=extra)
    return NodeProcess(paths["hub"]).start(), NodeProcess(paths["province"]).cfg


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, pki_server):
    tmp = tmp_path_factory.mktemp("sec")
    node, province = _hub_and_province(tmp, pki_server)
    yield node, province, tmp
    node.stop()


@pytest.fixture(scope="module")
def signed_pdf(pki_server) -> bytes:
    return sign_directive(pki_server, lambda _notation: "07").pdf


def _package(pdf: bytes, recipients=(C1, C2), *, when: dt.datetime | None = None,
             number: str = "07") -> bytes:
    doc = Document(sender=Organization(*PROVINCE),
                   recipients=[Organization(c, n) for c, n in recipients],
                   subject="Chỉ thị về chuyển đổi số", code=DocumentCode(number, "CT-UBND"),
                   promulgation_date=dt.date.today())
    doc = replace(doc, document_id=doc.make_document_id())
    return build(DocumentPackage(document=doc, traces=[TraceHeader(PROVINCE[0],
                                                                   when or now_vietnam())],
                                 attachments=[Attachment(f"{number}-CT-UBND.pdf", pdf)]))


def _post(node: NodeProcess, tls: TlsFiles, body: bytes) -> httpx.Response:
    with httpx.Client(verify=client_context(tls), timeout=60) as client:
        return client.post(f"https://{node.cfg.listen}{PACKAGE_PATH}", content=body)


def _receipt(node: NodeProcess, response: httpx.Response):
    assert response.status_code == 200, response.text
    receipt, _ = open_sealed(response.content,
                             expected_fingerprint=cert_fingerprint_file(node.cfg.tls.cert))
    return receipt


def _stored(node: NodeProcess, tmp: Path) -> tuple[int, int]:
    with node.admin() as admin:
        inbox = admin.call("GET", "/admin/v1/inbox")
        queue = admin.call("GET", "/admin/v1/queue")
    return len(inbox), queue["inbox"]


def test_tampered_pdf_is_refused_with_02_and_nothing_stored(hub, signed_pdf) -> None:
    node, province, tmp = hub
    before = _stored(node, tmp)
    objects = len(object_files(tmp / "hub" / "objects"))
    at = signed_pdf.find(b"stream") + 40  # inside the first page's content: signed bytes
    tampered = signed_pdf[:at] + bytes([signed_pdf[at] ^ 0x01]) + signed_pdf[at + 1:]
    receipt = _receipt(node, _post(node, province.tls, _package(tampered)))
    assert [o.status for o in receipt.recipients] == ["02", "02"]
    assert "Chữ ký số không hợp lệ" in receipt.recipients[0].reason_vi
    assert "invalid digital signature" in receipt.recipients[0].reason_en
    assert _stored(node, tmp) == before
    assert len(object_files(tmp / "hub" / "objects")) == objects


def test_pdf_signed_under_a_foreign_pki_is_refused(hub, tmp_path: Path) -> None:
    from signing.devpki import create, make_server
    from tests.fixtures.pki import free_port

    node, province, tmp = hub
    foreign = create(tmp_path / "foreign", port=free_port())
    server = make_server(foreign.directory, foreign.host, foreign.port)
    import threading

    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        pdf = sign_directive(foreign, lambda _n: "08").pdf
    finally:
        server.shutdown()
        server.server_close()
    before = _stored(node, tmp)
    receipt = _receipt(node, _post(node, province.tls, _package(pdf, number="08")))
    assert {o.status for o in receipt.recipients} == {"02"}
    assert receipt.verdicts and "TOTAL_PASSED" not in receipt.verdicts.values()
    assert _stored(node, tmp) == before


def test_wrong_recipient_gets_02_while_the_right_one_gets_01(hub, signed_pdf) -> None:
    node, province, tmp = hub
    wrong = ("000.09.00.H99", "UBND xã không tồn tại")
    receipt = _receipt(node, _post(node, province.tls,
                                   _package(signed_pdf, [C1, wrong], number="09")))
    outcome = {o.agency_code: o for o in receipt.recipients}
    assert outcome[C1[0]].status == "01" and outcome[C1[0]].incoming_number >= 1
    assert outcome[wrong[0]].status == "02"
    assert "Sai nơi nhận" in outcome[wrong[0]].reason_vi
    only_wrong = _receipt(node, _post(node, province.tls,
                                      _package(signed_pdf, [wrong], number="10")))
    assert [o.status for o in only_wrong.recipients] == ["02"]
    with node.admin() as admin:
        inbox = admin.call("GET", "/admin/v1/inbox")
    assert not [i for i in inbox if i["agency_code"] == wrong[0]]
    assert not [i for i in inbox if i["document_id"].endswith("10/CT-UBND")]


def test_duplicate_package_is_answered_with_the_first_receipt(hub, signed_pdf) -> None:
    node, province, tmp = hub
    package = _package(signed_pdf, number="11")
    first = _post(node, province.tls, package)
    assert _receipt(node, first).recipients[0].status == "01"
    before = _stored(node, tmp)
    again = _post(node, province.tls, package)
    assert again.content == first.content
    assert _stored(node, tmp) == before
    objects = [p for p in object_files(tmp / "hub" / "objects")
               if p.name == hashlib.sha256(signed_pdf).hexdigest()]
    assert len(objects) == 1


def test_old_replayed_package_is_refused(hub, signed_pdf) -> None:
    node, province, tmp = hub
    before = _stored(node, tmp)
    old = dt.datetime.now(VIETNAM).replace(microsecond=0) - dt.timedelta(days=90)
    receipt = _receipt(node, _post(node, province.tls, _package(signed_pdf, when=old,
                                                                number="12")))
    assert {o.status for o in receipt.recipients} == {"02"}
    assert "quá cũ" in receipt.recipients[0].reason_vi
    assert _stored(node, tmp) == before


def test_undeclared_peer_certificate_gets_403(hub, pki_server, signed_pdf) -> None:
    node, province, tmp = hub
    district = pki_server.entity("node-district")  # a valid node certificate, not our peer
    tls = TlsFiles(cert=district.chain, key=district.key, ca=province.tls.ca)
    before = _stored(node, tmp)
    response = _post(node, tls, _package(signed_pdf, number="13"))
    assert response.status_code == 403
    assert response.json()["error"] == "unknown_peer"
    assert _stored(node, tmp) == before


def test_foreign_tls_certificate_is_refused_in_the_handshake(hub, tmp_path: Path) -> None:
    from signing.devpki import create

    node, province, _ = hub
    foreign = create(tmp_path / "foreign-tls", port=1)
    e = foreign.entity("node-province")
    tls = TlsFiles(cert=e.chain, key=e.key, ca=province.tls.ca)
    with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError,
                        ssl.SSLError)):
        _post(node, tls, b"<edXML/>")


def test_peer_identity_is_the_pinned_fingerprint_and_optional_subject(pki_server) -> None:
    from exchange_axis.config import Peer
    from exchange_axis.transport import matches, subject_of

    der = ssl.PEM_cert_to_DER_cert(pki_server.entity("node-hub").cert.read_text("ascii"))
    fp = hashlib.sha256(der).hexdigest()
    assert matches(Peer(name="hub", fingerprint=fp), der)
    assert matches(Peer(name="hub", fingerprint=fp, subject=subject_of(der)), der)
    assert not matches(Peer(name="hub", fingerprint=fp, subject="CN=someone else"), der)
    assert not matches(Peer(name="hub", fingerprint="00" * 32), der)


ADMIN_POSTS = ("/admin/v1/issue", "/admin/v1/number", "/admin/v1/takeback", "/admin/v1/status",
               "/admin/v1/retry")
GARBAGE = (b"not json", b"[1, 2]", b'{"unexpected": true}', b"{}", b'{"code": "99"}',
           b'{"document_id": "x", "recipients": ["000.00.01.H41"], "code": "99"}',
           b'{"agency": 5, "notation": []}', b'{"id": "seven"}',
           b'{"document": {"sender": {}}, "files": [{"name": "a.pdf", "data": "@@"}]}')


def test_operator_api_answers_garbage_with_422_never_5xx(hub) -> None:
    """Every operator route validates its body: what is not JSON, lacks a field or has a wrong
    type gets 422 in the one bilingual error shape, naming the field; an unknown status code
    gets the lifecycle's own refusal. Nothing reaches the node's code half-read."""
    node, _province, _tmp = hub
    with node.admin() as admin:
        for path in ADMIN_POSTS:
            for body in GARBAGE:
                r = admin.post(path, content=body, headers={"content-type": "application/json"})
                assert r.status_code < 500, (path, body, r.status_code, r.text)
                if r.status_code == 200:  # only retry's {} (nothing failed to requeue)
                    assert (path, body) == ("/admin/v1/retry", b"{}"), (path, body)
                    continue
                shape = r.json()
                assert {"error", "message_vi", "message_en"} <= set(shape), (path, body, shape)
                assert shape["message_vi"] and shape["message_en"]
        missing = admin.post("/admin/v1/number", json={"agency": C1[0]})
        assert missing.status_code == 422 and "notation" in missing.json()["message_en"]
        bad_code = admin.post("/admin/v1/status", json={"document_id": "x", "recipients": [C1[0]],
                                                        "code": "99"})
        assert bad_code.status_code in (400, 422) and bad_code.json()["message_vi"]
        no_reason = admin.post("/admin/v1/status", json={"document_id": "x", "recipients": [C1[0]],
                                                         "code": "02"})
        assert no_reason.status_code == 400, no_reason.text
        assert "needs a reason" in no_reason.json()["message_en"]


def _audited_refusals(node: NodeProcess) -> list[dict]:
    import json

    from sqlalchemy import create_engine, select

    from storage.db import models as m

    engine = create_engine(node.cfg.database_url)
    try:
        with engine.connect() as c:
            return [json.loads(d) for d in c.execute(select(m.AuditEntry.details).where(
                m.AuditEntry.action == "refused")).scalars()]
    finally:
        engine.dispose()


def _status(reporter: tuple[str, str], about: str, owner: tuple[str, str], code: str) -> bytes:
    from edoc.document import ResponseFor
    from edoc.status import StatusCode, StatusMessage

    return build(StatusMessage(
        sender=Organization(*reporter),
        response_for=ResponseFor(owner[0], "07/CT-UBND", dt.date.today(), about),
        code=StatusCode.parse(code), timestamp=now_vietnam(), description="Đã nhận",
        traces=[TraceHeader(reporter[0], now_vietnam())]))


def test_a_peer_may_not_speak_for_what_is_not_its_own(hub, signed_pdf) -> None:
    """Peer identity is authorization: the province's certificate cannot send a document
    "from" an agency hosted at the hub (spoofed From), nor a status "from" one of them, nor a
    status about a document the hub never sent to the reporter. Each gets 02 with the reason,
    nothing is stored, and each attempt is an audit entry naming the peer."""
    node, province, tmp = hub
    before = _stored(node, tmp)
    seen = len(_audited_refusals(node))
    spoofed = build(DocumentPackage(
        document=replace(Document(sender=Organization(*C1), recipients=[Organization(*C2)],
                                  subject="Giả mạo", code=DocumentCode("09", "CT-UBND"),
                                  promulgation_date=dt.date.today()), document_id=None),
        traces=[TraceHeader(C1[0], now_vietnam())],
        attachments=[Attachment("09.pdf", signed_pdf)]))
    attempts = {
        "spoofed sender": (spoofed, C2[0], "hosted at this node"),
        "forged status from a hosted agency": (
            _status(C1, "000.00.00.H41,2026/any", PROVINCE, "03"), PROVINCE[0],
            "hosted at this node"),
        "status about a document never sent": (
            _status(PROVINCE, "000.00.01.H41,2026/never", C1, "03"), C1[0],
            "was not sent to 000.00.00.H41"),
    }
    for what, (body, answered_for, why) in attempts.items():
        receipt = _receipt(node, _post(node, province.tls, body))
        outcome = {o.agency_code: o for o in receipt.recipients}[answered_for]
        assert outcome.status == "02" and why in outcome.reason_en, (what, outcome)
        assert outcome.reason_vi, what
    assert _stored(node, tmp) == before
    audited = _audited_refusals(node)[seen:]
    assert len(audited) == len(attempts)
    assert all(a["came_from"] == "province" and a["reason_en"] for a in audited), audited


@pytest.fixture(scope="module")
def guarded_hub(tmp_path_factory: pytest.TempPathFactory, pki_server):
    """A hub whose transport bounds are short, so abuse is cut within the test's time."""
    from exchange_axis.config import TransportSettings

    def tune(cfg) -> None:
        if cfg.name == "hub":
            cfg.transport = TransportSettings(request_start_seconds=3, body_grace_seconds=3,
                                              min_body_bytes_per_s=1024)

    node, province = _hub_and_province(tmp_path_factory.mktemp("abuse"), pki_server, tune)
    yield node, province
    node.stop()


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _closed_by_peer(conns: list, wait: float) -> int:
    """How many of ``conns`` the other side closed (readable with no data, or reset) within
    ``wait`` seconds, all watched at once."""
    import selectors
    import time

    sel = selectors.DefaultSelector()
    for conn in conns:
        conn.setblocking(False)
        sel.register(conn, selectors.EVENT_READ)
    closed, deadline = 0, time.monotonic() + wait
    while sel.get_map() and (left := deadline - time.monotonic()) > 0:
        for key, _ in sel.select(timeout=left):
            try:
                data = key.fileobj.recv(1)
            except ssl.SSLWantReadError:
                continue
            except OSError:
                data = b""
            if data == b"":
                closed += 1
                sel.unregister(key.fileobj)
    sel.close()
    return closed


def test_transport_abuse_is_cut_and_peers_are_served_throughout(guarded_hub, signed_pdf,
                                                                 reliability) -> None:
    """500 idle TLS connections, a body trickling at 1 byte/s, an oversized body, plain HTTP to
    the TLS port and a client without certificate: each is refused or cut within bounded time
    and memory, and a real delivery made in the middle of it all gets its 01."""
    import socket
    import time

    node, province = guarded_hub
    ctx = client_context(province.tls)
    host, port = node.cfg.host, node.cfg.port
    rss_before = _rss_mb(node.proc.pid)

    def tls_conn() -> ssl.SSLSocket:
        return ctx.wrap_socket(socket.create_connection((host, port), timeout=10),
                               server_hostname="127.0.0.1")

    idle = [tls_conn() for _ in range(500)]
    slow = tls_conn()
    slow.sendall(f"POST {PACKAGE_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: "
                 "application/edxml+xml\r\nContent-Length: 100000\r\n\r\n".encode())
    started = time.monotonic()
    # a real delivery while 500 connections sit idle and one body trickles
    receipt = _receipt(node, _post(node, province.tls, _package(signed_pdf, number="31")))
    assert {o.status for o in receipt.recipients} == {"01"}
    rss_growth = _rss_mb(node.proc.pid) - rss_before
    assert rss_growth < 150
    # the trickle: 1 byte a second until the node gives up on it
    answer = b""
    slow.settimeout(1.5)
    while time.monotonic() - started < 20:
        try:
            slow.sendall(b"<")
            answer += slow.recv(4096)
            if answer:
                break
        except TimeoutError:
            continue
        except OSError:
            break
    with contextlib.suppress(OSError):  # the rest of the answer, until the node closes
        while chunk := slow.recv(4096):
            answer += chunk
    assert b" 408 " in answer.split(b"\r\n", 1)[0] and b"too slow" in answer, answer[:400]
    assert time.monotonic() - started < 15
    # the idle connections are closed by the node once request_start_seconds have passed
    time.sleep(max(0.0, 4.5 - (time.monotonic() - started)))
    closed = _closed_by_peer(idle, wait=3.0)
    for conn in idle:
        conn.close()
    assert closed == len(idle)
    # a body announced over the limit: 413 before a byte of it is read
    big = tls_conn()
    big.sendall(f"POST {PACKAGE_PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: "
                f"{10 * 1024**3}\r\n\r\n".encode())
    big.settimeout(5)
    assert b" 413 " in big.recv(4096).split(b"\r\n", 1)[0]
    big.close()
    # plain HTTP to the TLS port, and TLS without a client certificate: no answer but a refusal
    with socket.create_connection((host, port), timeout=5) as plain:
        plain.sendall(b"GET /exchange/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
        with contextlib.suppress(OSError):
            assert b"200" not in plain.recv(4096)
    anonymous = ssl.create_default_context(cafile=str(province.tls.ca))
    try:
        with socket.create_connection((host, port), timeout=5) as raw, \
                anonymous.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall(b"GET /exchange/v1/health HTTP/1.1\r\nHost: x\r\n\r\n")
            refused = s.recv(4096) == b""  # TLS 1.3: the refusal comes at the first read
    except (ssl.SSLError, OSError):
        refused = True
    assert refused, "a client without certificate was answered"
    # and the node still serves its peer
    receipt = _receipt(node, _post(node, province.tls, _package(signed_pdf, number="32")))
    assert {o.status for o in receipt.recipients} == {"01"}
    reliability(idle_connections=len(idle), idle_closed=closed,
                rss_growth_mb_during_abuse=round(rss_growth, 1), deliveries_during_abuse=2)


@pytest.mark.parametrize("content", [b"", b"[]", b"null", b'{"version": 1}', b"\xff\xfe",
                                     b'{"version": 1, "node": 5, "sender": "s", '
                                     b'"document_id": "d", "package_sha256": "h", '
                                     b'"received_at": "2026-12-06T09:00:00+00:00", '
                                     b'"kind": "document", "recipients": [{"x": 1}]}'])
def test_a_malformed_receipt_is_a_transport_error(content: bytes) -> None:
    """Regression of the fuzzing campaign: a receipt's content that is not one (even signed by
    the pinned peer) is refused as such, never a KeyError or TypeError in the sender's worker."""
    from exchange_axis.errors import TransportError
    from exchange_axis.receipts import Receipt

    with pytest.raises(TransportError) as refused:
        Receipt.from_bytes(content)
    assert refused.value.message_vi and "malformed receipt" in refused.value.message_en


def test_unreachable_revocation_service_is_try_again_not_a_refusal(tmp_path: Path,
                                                                   pki_server) -> None:
    """A commune whose line to the OCSP/CRL services is down cannot judge a signature: that is
    503 "try again" (nothing stored, no verdict kept), not a 02 that would refuse a good
    directive for ever. The sender's retry, once the services answer, gets its 01."""
    from signing.devpki import create
    from tests.fixtures.pki import free_port, serve_pki

    other = create(tmp_path / "other-pki", port=free_port())  # a second CA the hub trusts
    with serve_pki(other):
        pdf = sign_directive(other, lambda _n: "17", leader="official-c1", seal="agency-c1").pdf

    def trust_both(cfg) -> None:
        cfg.trust_dirs = [*cfg.trust_dirs, other.root.resolve()]

    node, province = _hub_and_province(tmp_path / "nodes", pki_server, trust_both)
    try:
        body = _package(pdf, number="17")
        before = _stored(node, tmp_path / "nodes")
        unsure = _post(node, province.tls, body)  # the other CA's OCSP responder is down
        assert unsure.status_code == 503, unsure.text
        shape = unsure.json()
        assert shape["error"] == "try_later" and "revocation" in shape["message_en"], shape
        assert "thu hồi" in shape["message_vi"]
        assert _stored(node, tmp_path / "nodes") == before
        with serve_pki(other):
            receipt = _receipt(node, _post(node, province.tls, body))
        assert {o.status for o in receipt.recipients} == {"01"}, receipt.recipients
    finally:
        node.stop()


def test_a_validator_failing_midway_is_try_again_not_a_refusal(tmp_path: Path, pki_server,
                                                               signed_pdf, monkeypatch) -> None:
    """A verification cut short by a fault of ours or of the moment (a module another thread
    was still importing, memory running out) judges nothing: 503 "try again" with nothing
    stored and nothing kept, never a 02 "invalid signature" refusing a good directive for ever.
    The retry, once the fault is gone, gets its 01."""
    import json

    import signing.validation.pdf as pdf_mod
    from exchange_axis.config import load
    from exchange_axis.node import Node

    paths = layout(tmp_path, pki_server, [
        NodeSpec("hub", "node-hub", agencies=[C1, C2], upstream="province", peers=["province"]),
        NodeSpec("province", "node-province", agencies=[PROVINCE], peers=["hub"])])
    node = Node(load(paths["hub"]))
    real = pdf_mod._embedded_signatures
    faults = iter([ImportError("cannot import name 'X' from partially initialized module")])

    def faulty(reader):
        fault = next(faults, None)
        if fault is not None:
            raise fault
        return real(reader)

    monkeypatch.setattr(pdf_mod, "_embedded_signatures", faulty)
    body = _package(signed_pdf, number="23")
    status, answer = node.receiver.process(body, "province")
    assert status == 503, answer
    shape = json.loads(answer)
    assert shape["error"] == "verifier_failed" and "midway" in shape["message_en"], shape
    assert "gửi lại" in shape["message_vi"]
    from edoc.edxml import parse

    document_id = parse(body).document.document_id
    assert not node.state.holds_incoming(PROVINCE[0], document_id, C1[0])
    status, answer = node.receiver.process(body, "province")  # the sender's retry
    assert status == 200
    receipt, _ = open_sealed(answer, expected_fingerprint=cert_fingerprint_file(
        node.cfg.tls.cert))
    assert {o.status for o in receipt.recipients} == {"01"}, receipt.recipients
