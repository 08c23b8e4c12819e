"""The e-office API end to end, over real HTTP between real node processes, once on SQLite with
the local object store and once on PostgreSQL with the SeaweedFS S3 server (each node its own
database and bucket):

the province specialist uploads a draft directive; the leader signs it DEFERRED with his USB
token (a SoftHSM2 token the test drives: the key never leaves it, the server only ever sees the
digest and the signature value); the clerk numbers, seals and issues it, each step refused
visibly (409, Vietnamese and English) while its precondition is missing; at the commune hub both
communes' clerks find it in their inbox judged TOTAL_PASSED, with the very bytes the province
sealed (poppler's ``pdfsig`` independently finds the two signatures valid); commune 1 accepts,
assigns a specialist who processes and completes it, commune 2 rejects it with a reason; the
province's tracking and report show it; each node's audit log names the people, intact.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from api.cluster import PROVINCE
from api.drafting import render_directive
from edoc.document import VIETNAM
from signing.signers.pkcs11 import Pkcs11Signer
from storage.db import Database
from storage.db import models as m
from tests.exchange_helpers import wait_for
from tests.office_helpers import C1, C2, OfficeClient, office_nodes
from tests.sign_helpers import assert_pdfsig_valid
from tests.token_helpers import LIB, softhsm_token

LEADER = "Nguyễn Văn An"
SUBJECT = "Về việc đẩy mạnh gửi, nhận văn bản điện tử giữa tỉnh và các xã"
REASON = "Văn bản gửi nhầm nơi nhận, đề nghị kiểm tra lại"


@pytest.fixture(params=["sqlite-local",
                        pytest.param("postgres-s3", marks=[pytest.mark.postgres,
                                                           pytest.mark.s3])])
def backends(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """``office_nodes`` keyword arguments: nothing (SQLite files, local object stores), or a
    fresh PostgreSQL database and S3 bucket for each node (dropped / left to expire after)."""
    if request.param == "sqlite-local":
        yield {}
        return
    from tests.fixtures.db import create_pg_database, drop_pg_database  # noqa: PLC0415

    s3 = request.getfixturevalue("s3_server")
    created: list[str] = []

    def database(_name: str, _home: Path) -> str:
        created.append(create_pg_database("edoc_office"))
        return created[-1]

    def store(name: str, _home: Path) -> str:
        return s3.url(s3.new_bucket_name(f"office-{name}"), retention_days=1)

    try:
        yield {"database_url": database, "store_url": store}
    finally:
        for url in created:
            drop_pg_database(url)


def refused(r: Any, status: int, code: str) -> dict[str, Any]:
    """One clear refusal: the status, the error code, a message in each language."""
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    body = r.json()
    assert body["error"] == code, body
    assert body["message_vi"].strip() and body["message_en"].strip(), body
    return body


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def find_in_inbox(client: OfficeClient, document_id: str) -> dict[str, Any] | None:
    items = client.ok("GET", "/api/v1/inbox")["items"]
    return next((i for i in items if i["document_id"] == document_id), None)


def audit_rows(db_url: str) -> list[tuple[str, str, str]]:
    """(actor, action, subject) of every audit entry of one node, and the chain verified."""
    db = Database(db_url)
    try:
        with db.uow() as uow:
            report = uow.audit.verify()
            rows = uow.session.execute(select(m.AuditEntry.actor, m.AuditEntry.action,
                                              m.AuditEntry.subject)
                                       .order_by(m.AuditEntry.seq)).all()
    finally:
        db.dispose()
    assert report.ok, report.reason_en
    return [tuple(r) for r in rows]


def assert_people_audited(province_audit: list[tuple[str, str, str]],
                          hub_audit: list[tuple[str, str, str]], document_id: str) -> None:
    """Each step's audit entry names the person, ``user:<username>@<agency code>``."""
    def by(rows: list[tuple[str, str, str]], action: str) -> set[str]:
        return {actor for actor, act, _subject in rows if act == action}

    h41, c1_code, c2_code = PROVINCE[0], C1[0], C2[0]
    assert by(province_audit, "draft") == {f"user:chuyenvien.h41@{h41}"}
    assert by(province_audit, "sign_prepared") == {f"user:lanhdao.h41@{h41}"}
    assert by(province_audit, "signed") == {f"user:lanhdao.h41@{h41}"}
    assert by(province_audit, "numbered") == {f"user:vanthu.h41@{h41}"}
    assert by(province_audit, "sealed") == {f"user:vanthu.h41@{h41}"}
    assert by(province_audit, "issue") == {f"user:vanthu.h41@{h41}"}
    assert (f"user:vanthu.h41@{h41}", "issue", f"outgoing:{document_id}") in province_audit
    assert by(hub_audit, "status_sent") == {f"user:vanthu.c1@{c1_code}",
                                           f"user:chuyenvien.c1@{c1_code}",
                                           f"user:vanthu.c2@{c2_code}"}
    assert (f"user:vanthu.c2@{c2_code}", "status_sent",
            f"incoming:{document_id}") in hub_audit


def test_directive_from_draft_to_commune_and_back(tmp_path: Path, pki_server, nss_db,
                                                  backends) -> None:
    from exchange_axis.config import load  # noqa: PLC0415

    today = dt.datetime.now(VIETNAM).date()
    due = today + dt.timedelta(days=10)
    with softhsm_token(tmp_path / "softhsm", pki_server, name=LEADER) as token, \
            office_nodes(tmp_path, pki_server, **backends) as nodes:
        # 1. the specialist uploads the draft with its metadata
        specialist = nodes.client("chuyenvien.h41")
        draft_pdf = render_directive(signer_name=LEADER, notation="CT-UBND", year=today.year,
                                     subject=SUBJECT)
        meta = {"subject": SUBJECT, "notation": "CT-UBND", "recipients": [C1[0], C2[0]],
                "type": 3, "type_name": "Chỉ thị", "priority": 2, "due_date": due.isoformat()}
        created = specialist.ok("POST", "/api/v1/outgoing",
                                files={"file": ("du-thao.pdf", draft_pdf, "application/pdf")},
                                data={"meta": json.dumps(meta, ensure_ascii=False)})
        doc = created["id"]
        assert created["state"] == "draft"
        assert created["sha256"] == hashlib.sha256(draft_pdf).hexdigest()
        # a specialist drafts but does not sign
        refused(specialist.post(f"/api/v1/outgoing/{doc}/sign/prepare",
                                json={"certificate": b64(token.certificate.dump())}),
                403, "forbidden")

        # 3a. the clerk cannot number, seal or issue an unsigned draft: nothing changes
        clerk = nodes.client("vanthu.h41")
        for step, needs in [("seal", "numbered"), ("number", "signed"), ("issue", "sealed")]:
            body = refused(clerk.post(f"/api/v1/outgoing/{doc}/{step}"), 409, "wrong_state")
            assert body["details"] == {"state": "draft", "needs": needs}, body
        assert "ký số" in refused(clerk.post(f"/api/v1/outgoing/{doc}/seal"), 409,
                                  "wrong_state")["message_vi"]

        # 2. the leader signs with his token: prepare → the token signs the digest → complete
        leader = nodes.client("lanhdao.h41")
        prepared = leader.ok("POST", f"/api/v1/outgoing/{doc}/sign/prepare", json={
            "certificate": b64(token.certificate.dump()),
            "chain": [b64(c.dump()) for c in token.chain]})
        digest = base64.b64decode(prepared["digest"])
        assert prepared["md"] == "sha256" and len(digest) == 32
        assert prepared["digest_hex"] == digest.hex()
        assert leader.ok("GET", f"/api/v1/outgoing/{doc}")["state"] == "draft"
        with Pkcs11Signer.open(LIB, token.label, token.pin, token.key_label) as tok:
            assert tok.certificate.dump() == token.certificate.dump()
            value = tok.sign_digest(digest, prepared["md"])
        signed = leader.ok("POST", f"/api/v1/outgoing/{doc}/sign/complete",
                           json={"pending_id": prepared["pending_id"], "signature": b64(value)})
        assert signed["state"] == "signed"

        # 3b. number, seal (not before numbering), issue (not before sealing)
        refused(clerk.post(f"/api/v1/outgoing/{doc}/seal"), 409, "wrong_state")
        numbered = clerk.ok("POST", f"/api/v1/outgoing/{doc}/number")
        assert numbered["state"] == "numbered" and numbered["notation"] == "CT-UBND"
        assert numbered["code"] == f"{numbered['number']}/CT-UBND"
        refused(clerk.post(f"/api/v1/outgoing/{doc}/issue"), 409, "wrong_state")
        sealed = clerk.ok("POST", f"/api/v1/outgoing/{doc}/seal")
        assert sealed["state"] == "sealed"
        sealed_pdf = clerk.get(f"/api/v1/outgoing/{doc}/pdf").content
        assert hashlib.sha256(sealed_pdf).hexdigest() == sealed["sha256"]
        personal, seal = assert_pdfsig_valid(sealed_pdf, nss_db, tmp_path, count=2)
        assert personal["Signer Certificate Common Name"] == LEADER, personal
        assert seal["Signer Certificate Common Name"] == "Ủy ban nhân dân tỉnh Nghệ An", seal
        issued = clerk.ok("POST", f"/api/v1/outgoing/{doc}/issue")
        assert issued["state"] == "issued"
        document_id = issued["document_id"]
        refused(clerk.post(f"/api/v1/outgoing/{doc}/issue"), 409, "wrong_state")
        view = leader.ok("GET", f"/api/v1/outgoing/{doc}")
        assert view["document_id"] == document_id and view["code"] == numbered["code"]
        assert [(s["step"], s["by"]) for s in view["steps"]] == [
            ("draft", "chuyenvien.h41"), ("sign_prepared", "lanhdao.h41"),
            ("signed", "lanhdao.h41"), ("numbered", "vanthu.h41"), ("sealed", "vanthu.h41"),
            ("issued", "vanthu.h41")]
        assert view["steps"][2]["how"] == "deferred"  # with the token's own certificate
        assert view["steps"][2]["certificate_serial"] == str(token.certificate.serial_number)
        assert LEADER in view["steps"][2]["certificate_subject"]

        # 4. both communes' clerks find it, judged TOTAL_PASSED, with the bytes sealed
        clerks = {C1[0]: nodes.client("vanthu.c1"), C2[0]: nodes.client("vanthu.c2")}
        incoming: dict[str, int] = {}
        for code, client in clerks.items():
            item = wait_for(lambda c=client: find_in_inbox(c, document_id), 60,
                            f"the directive in the inbox of {code}")
            assert item["verdict"] == "TOTAL_PASSED", item
            assert item["sender"]["code"] == PROVINCE[0] and item["subject"] == SUBJECT
            assert item["code"] == numbered["code"] and item["type_name"] == "Chỉ thị"
            assert item["priority"] == 2 and item["due_date"] == due.isoformat()
            incoming[code] = item["id"]
            r = client.get(f"/api/v1/incoming/{item['id']}/pdf")
            assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
            assert hashlib.sha256(r.content).hexdigest() == sealed["sha256"]
            assert r.headers["x-edoc-sha256"] == sealed["sha256"]
            assert_pdfsig_valid(r.content, nss_db, tmp_path, count=2)
            detail = client.ok("GET", f"/api/v1/incoming/{item['id']}")
            assert [f["indication"] for f in detail["files"]] == ["TOTAL_PASSED"]
            # the report the node made on arrival, as JSON and as the clerk's page
            (kept,) = client.ok("GET", f"/api/v1/incoming/{item['id']}/report").values()
            assert kept["report"]["indication"] == "TOTAL_PASSED"
            assert len(kept["report"]["signatures"]) == 2
            page = client.get(f"/api/v1/incoming/{item['id']}/report.html")
            assert page.status_code == 200 and "text/html" in page.headers["content-type"]
            assert "TOTAL_PASSED" in page.text and "Nguyễn Văn An" in page.text
        # one commune's copy is not the other's: another agency's id is "not found"
        refused(clerks[C2[0]].get(f"/api/v1/incoming/{incoming[C1[0]]}"), 404, "not_found")

        # 5. commune 1: accept, assign the specialist, processing, done
        c1, c1_doc = clerks[C1[0]], incoming[C1[0]]
        worker = nodes.client("chuyenvien.c1")
        refused(worker.post(f"/api/v1/incoming/{c1_doc}/processing", json={}),
                403, "not_assigned")
        assert c1.ok("POST", f"/api/v1/incoming/{c1_doc}/accept")["code"] == "03"
        colleagues = c1.ok("GET", "/api/v1/colleagues")
        assignee = next(u["id"] for u in colleagues if u["full_name"] == worker.user["full_name"])
        assert c1.ok("POST", f"/api/v1/incoming/{c1_doc}/assign",
                     json={"user_id": assignee, "note": "Đề nghị chuyên viên tham mưu"}
                     )["code"] == "04"
        assert [i["id"] for i in worker.ok("GET", "/api/v1/inbox",
                                           params={"mine": "true"})["items"]] == [c1_doc]
        assert worker.ok("POST", f"/api/v1/incoming/{c1_doc}/processing",
                         json={"note": "Đang xây dựng kế hoạch"})["code"] == "05"
        done = worker.ok("POST", f"/api/v1/incoming/{c1_doc}/done",
                         json={"note": "Đã triển khai"})
        assert done["code"] == "06" and done["state"] == "done"
        # commune 2: rejection needs its reason
        c2, c2_doc = clerks[C2[0]], incoming[C2[0]]
        refused(c2.post(f"/api/v1/incoming/{c2_doc}/reject", json={"reason": ""}),
                422, "invalid_request")
        rejected = c2.ok("POST", f"/api/v1/incoming/{c2_doc}/reject", json={"reason": REASON})
        assert rejected["code"] == "02" and rejected["state"] == "rejected"
        # nothing follows a rejection
        assert c2.post(f"/api/v1/incoming/{c2_doc}/accept").status_code == 409

        # 6. the province sees it all
        def tracked() -> dict[str, dict[str, Any]] | None:
            recipients = leader.ok("GET", f"/api/v1/outgoing/{doc}")["tracking"]["recipients"]
            by_code = {r["agency_code"]: r for r in recipients}
            statuses = {c: r["status"] for c, r in by_code.items()}
            return by_code if statuses == {C1[0]: "06", C2[0]: "02"} else None

        track = wait_for(tracked, 60, "06 from commune 1 and 02 from commune 2")
        assert track[C2[0]]["reason"] == REASON
        assert track[C1[0]]["done_at"] and track[C1[0]]["accepted_at"]
        for r in track.values():
            assert r["indication"] == "TOTAL_PASSED" and r["received_at"], r

        # 7. each node's audit log names the people who acted, and its chain is intact
        province_audit = audit_rows(load(nodes.paths["province"]).database_url)
        hub_audit = audit_rows(load(nodes.paths["hub"]).database_url)
        assert_people_audited(province_audit, hub_audit, document_id)

        # 8. the leaders' report counts the document and commune 1's completion, early or on
        # time (due in ten days)
        summary = leader.ok("GET", "/api/v1/reports/summary")
        total = summary["total"]
        assert total["sent"] >= 1, summary
        assert 0.0 <= total["signed_share_sent"] <= 1.0, summary
        done_counts = total["sent_done"]
        assert set(done_counts) >= {"early", "on_time", "late"}, summary
        assert done_counts["early"] + done_counts["on_time"] >= 1, summary
        assert done_counts["late"] == 0, summary
