"""The national-axis adapter against its simulator, over a real loopback HTTP server.

Covers every operation (sendEdoc for documents and statuses, getReceivedEdocList, getEdoc,
updateStatus, getSentEdocList, getAgenciesList, registerAgency), the JSON reply shape, and the
HMAC request signing: a wrong secret, a stale timestamp and a tampered body are refused.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from edoc.document import (
    Attachment,
    Document,
    DocumentCode,
    DocumentPackage,
    Organization,
    ResponseFor,
    TraceHeader,
    now_vietnam,
)
from edoc.edxml import build, parse
from edoc.status import StatusCode, StatusMessage
from exchange_axis.national import AxisError, HmacSha256Signer, NationalAxisClient
from exchange_axis.national_sim import create_app
from tests.fixtures.pki import free_port

PROVINCE = "000.00.00.H41"
MINISTRY = "000.00.00.G22"
SECRETS = {"sys-h41": "secret-h41", "sys-g22": "secret-g22"}
AGENCIES = [{"id": "1", "pid": "", "code": PROVINCE, "code102": PROVINCE,
             "name": "Ủy ban nhân dân tỉnh Nghệ An", "mail": "ubnd@nghean.gov.vn"}]


@pytest.fixture(scope="module")
def axis_url() -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(create_app(SECRETS, AGENCIES), host="127.0.0.1", port=port,
                            log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "simulator did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def _package(sender: str = PROVINCE, to: str = MINISTRY, pdf: bytes | None = None) -> bytes:
    doc = Document(
        sender=Organization(sender, "Ủy ban nhân dân tỉnh Nghệ An"),
        recipients=[Organization(to, "Văn phòng Chính phủ")],
        subject="Báo cáo tình hình triển khai chính quyền địa phương hai cấp",
        code=DocumentCode("12", "BC-UBND"), promulgation_date=dt.date(2026, 11, 20),
    )
    doc.document_id = doc.make_document_id()
    files = [Attachment("cong-van.pdf", pdf)] if pdf else [Attachment("bao-cao.txt",
                                                                      "nội dung".encode())]
    return build(DocumentPackage(document=doc, traces=[TraceHeader(sender, now_vietnam())],
                                 attachments=files))


def test_document_and_status_round_trip_through_the_axis(axis_url: str) -> None:
    province = NationalAxisClient(axis_url, HmacSha256Signer("sys-h41", "secret-h41"),
                                  organ_id=PROVINCE)
    ministry = NationalAxisClient(axis_url, HmacSha256Signer("sys-g22", "secret-g22"),
                                  organ_id=MINISTRY)
    package = _package()
    doc_id = province.send_edoc(package)
    waiting = ministry.get_received_edoc_list()
    assert [w["docId"] for w in waiting] == [doc_id]
    assert waiting[0]["from"] == PROVINCE
    assert ministry.get_edoc(doc_id) == package
    sent = province.get_sent_edoc_list(doc_id)
    assert sent[0]["to"] == MINISTRY and sent[0]["receivedTime"] is None
    ministry.update_status(doc_id, "done")
    assert ministry.get_received_edoc_list() == []
    assert province.get_sent_edoc_list(doc_id)[0]["receiveStatus"] == "done"

    parsed = parse(package)
    status = StatusMessage(
        sender=Organization(MINISTRY), code=StatusCode("03"), timestamp=now_vietnam(),
        response_for=ResponseFor(PROVINCE, "12/BC-UBND", dt.date(2026, 11, 20),
                                 parsed.document.document_id))
    status_id = ministry.send_edoc(build(status), messagetype="status")
    back = province.get_received_edoc_list(messagetype="status")
    assert [b["docId"] for b in back] == [status_id]
    got = parse(province.get_edoc(status_id))
    assert got.code == StatusCode("03")
    with pytest.raises(AxisError):  # the ministry cannot read what was not sent to it
        ministry.get_edoc(status_id)


def test_agency_directory_and_registration(axis_url: str) -> None:
    client = NationalAxisClient(axis_url, HmacSha256Signer("sys-h41", "secret-h41"),
                                organ_id=PROVINCE)
    client.register_agency(code="000.01.00.H41", pcode=PROVINCE,
                           name="Ủy ban nhân dân phường Trường Vinh")
    agencies = {a["code"]: a for a in client.get_agencies_list()}
    assert agencies["000.01.00.H41"]["pid"] == agencies[PROVINCE]["id"]
    with pytest.raises(AxisError) as info:
        client.register_agency(code="000.01.00.H41", pcode=PROVINCE, name="again")
    assert info.value.error_code == "7"


def test_requests_with_a_bad_mac_a_stale_time_or_a_tampered_body_are_refused(
        axis_url: str) -> None:
    wrong = NationalAxisClient(axis_url, HmacSha256Signer("sys-h41", "not-the-secret"),
                               organ_id=PROVINCE)
    with pytest.raises(AxisError) as info:
        wrong.get_agencies_list()
    assert info.value.error_code == "401" and "signature" in info.value.desc

    signer = HmacSha256Signer("sys-h41", "secret-h41")
    body = b'{"code": "000.03.00.H41", "pcode": "000.00.00.H41", "name": "x"}'
    headers = signer.headers("registerAgency", body, {"from": PROVINCE})
    tampered = httpx.post(f"{axis_url}/registerAgency", content=body.replace(b"x", b"y"),
                          headers={**headers, "from": PROVINCE})
    assert tampered.json()["ErrorCode"] == "401"
    stale = dict(headers, **{"XroadVnpt-Timestamp": str(int(time.time()) - 3600)})
    reply = httpx.post(f"{axis_url}/registerAgency", content=body,
                       headers={**stale, "from": PROVINCE}).json()
    assert set(reply) == {"status", "ErrorCode", "ErrorDesc", "data"}
    assert reply["ErrorCode"] == "401"
    ok = httpx.post(f"{axis_url}/registerAgency", content=body,
                    headers={**headers, "from": PROVINCE}).json()
    assert ok["ErrorCode"] == "0"


def test_a_node_exchanges_with_a_ministry_through_the_axis(axis_url: str, tmp_path,
                                                           pki_server) -> None:
    """The province node's link to the axis: a ministry's signed document arrives by polling
    (verified, stored, acknowledged "done", 01 sent back as a status package); the province's
    directive to the ministry leaves by sendEdoc and the ministry's 03 comes back into tracking."""
    from api.cluster import NodeProcess, NodeSpec, layout
    from api.directive import document_json, sign_directive
    from exchange_axis.config import NationalAxis, WorkerSettings
    from tests.exchange_helpers import statuses, wait_for

    def connect(cfg) -> None:
        cfg.national = NationalAxis(url=axis_url, system_id="sys-h41", secret="secret-h41",
                                    poll_interval=0.3)

    paths = layout(tmp_path, pki_server, [NodeSpec("province", "node-province",
                                                   agencies=[(PROVINCE, "UBND tỉnh Nghệ An")])],
                   worker=WorkerSettings(poll_interval=0.1), extra=connect)
    ministry = NationalAxisClient(axis_url, HmacSha256Signer("sys-g22", "secret-g22"),
                                  organ_id=MINISTRY)
    signed = sign_directive(pki_server, lambda _n: "71")
    node = NodeProcess(paths["province"]).start()
    try:
        sent_id = ministry.send_edoc(_package(MINISTRY, PROVINCE, signed.pdf))
        wait_for(lambda: ministry.get_sent_edoc_list(sent_id)[0]["receiveStatus"] == "done", 30,
                 "the province fetched and acknowledged the ministry's document")
        back = wait_for(lambda: ministry.get_received_edoc_list(messagetype="status"), 30,
                        "status 01 back through the axis")
        status = parse(ministry.get_edoc(back[0]["docId"]))
        assert status.code == StatusCode("01") and status.sender.organ_id == PROVINCE
        with node.admin() as admin:
            inbox = admin.call("GET", "/admin/v1/inbox")
            assert [i["agency_code"] for i in inbox] == [PROVINCE]
            doc_id = admin.call("POST", "/admin/v1/issue", json=document_json(
                signed, (PROVINCE, "UBND tỉnh Nghệ An"), [(MINISTRY, "Văn phòng Chính phủ")])
            )["document_id"]
        waiting = wait_for(lambda: ministry.get_received_edoc_list(), 30, "directive at axis")
        directive = parse(ministry.get_edoc(waiting[0]["docId"]))
        assert directive.document.document_id == doc_id
        assert directive.attachments[0].data == signed.pdf
        ministry.update_status(waiting[0]["docId"], "done")
        reply = StatusMessage(sender=Organization(MINISTRY), code=StatusCode("03"),
                              timestamp=now_vietnam(),
                              response_for=ResponseFor(PROVINCE, signed.code, signed.issue_date,
                                                       doc_id))
        ministry.send_edoc(build(reply), messagetype="status")
        wait_for(lambda: statuses(node, doc_id) == {MINISTRY: "03"}, 30, "03 in tracking")
    finally:
        node.stop()
