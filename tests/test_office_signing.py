"""The leader's personal signature through the e-office API, every way an agency offers it:
a key the agency keeps (PKCS#12; the leader types its password), CSC v2 remote signing, and
deferred signing; each refusal is one clear bilingual error and leaves the draft as it was."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import func, select

from signing.trust import TrustStore
from signing.validation import verify_pdf
from storage.db import Database
from storage.db import models as m
from tests.office_helpers import C1, office_nodes
from tests.sign_helpers import signer_for


@pytest.fixture(scope="module")
def nodes(csc, pki_server, tmp_path_factory):
    base, _state = csc
    with office_nodes(tmp_path_factory.mktemp("signing"), pki_server,
                      province_office={"csc_urls": [base]}) as running:
        yield running


def _draft(client) -> int:
    return client.ok("POST", "/api/v1/outgoing/from-template", json={
        "subject": "Về việc thử các cách ký số", "notation": "CV-UBND",
        "recipients": [C1[0]], "type": 2, "type_name": "Công văn"})["id"]


def _steps(nodes, doc_id: int) -> int:
    from exchange_axis.config import load

    db = Database(load(nodes.paths["province"]).database_url)
    try:
        with db.sessions() as s:
            return s.execute(select(func.count()).select_from(m.DocumentStep).where(
                m.DocumentStep.document_id == doc_id)).scalar()
    finally:
        db.dispose()


def _signed_by(nodes, leader, doc_id: int, pki) -> str:
    pdf = leader.get(f"/api/v1/outgoing/{doc_id}/pdf").content
    report = verify_pdf(pdf, trust=TrustStore.from_dirs([pki.root], development=True))
    assert str(report.indication) == "TOTAL_PASSED", report.summary_en
    (sig,) = report.signatures
    return sig.signer.name


def _refused(r, status: int, code: str) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == code and body["message_vi"] and body["message_en"], body
    return body


def test_server_side_key(nodes, pki_server):
    leader = nodes.client("lanhdao.h41")
    doc = _draft(leader)
    before = _steps(nodes, doc)
    _refused(leader.post(f"/api/v1/outgoing/{doc}/sign", json={"password": "sai-mat-khau"}),
             400, "wrong_password")
    assert leader.ok("GET", f"/api/v1/outgoing/{doc}")["state"] == "draft"
    assert _steps(nodes, doc) == before
    password = pki_server.entity("official-h41").password
    assert leader.ok("POST", f"/api/v1/outgoing/{doc}/sign",
                     json={"password": password})["state"] == "signed"
    assert _signed_by(nodes, leader, doc, pki_server) == "Nguyễn Văn An"
    # a second signature of the same draft is refused: it is no longer a draft
    _refused(leader.post(f"/api/v1/outgoing/{doc}/sign", json={"password": password}),
             409, "wrong_state")


def test_remote_signing_csc(nodes, csc, pki_server):
    base, _state = csc
    leader = nodes.client("lanhdao.h41")
    doc = _draft(leader)
    body = {"service_url": base, "access_token": "csc-dev-token",
            "credential_id": "an-ca-nhan", "pin": "000000"}
    _refused(leader.post(f"/api/v1/outgoing/{doc}/sign/csc",
                         json={**body, "service_url": "http://127.0.0.1:9/csc"}),
             400, "csc_not_allowed")
    r = leader.post(f"/api/v1/outgoing/{doc}/sign/csc", json=body)
    assert r.status_code == 400 and r.json()["message_en"], r.text
    assert leader.ok("GET", f"/api/v1/outgoing/{doc}")["state"] == "draft"
    signed = leader.ok("POST", f"/api/v1/outgoing/{doc}/sign/csc", json={**body, "pin": "123456"})
    assert signed["state"] == "signed"
    assert _signed_by(nodes, leader, doc, pki_server) == "Nguyễn Văn An"
    steps = leader.ok("GET", f"/api/v1/outgoing/{doc}")["steps"]
    assert [s["step"] for s in steps] == ["draft", "signed"] and steps[1]["how"] == "csc"


def test_deferred_refusals(nodes, pki_server):
    leader = nodes.client("lanhdao.h41")
    token = signer_for(pki_server, "official-h41")
    other = signer_for(pki_server, "official-c1")
    doc = _draft(leader)
    cert = base64.b64encode(token.certificate.dump()).decode()
    chain = [base64.b64encode(c.dump()).decode() for c in token.chain]
    _refused(leader.post(f"/api/v1/outgoing/{doc}/sign/prepare",
                         json={"certificate": "not base64!"}), 400, "bad_base64")
    first = leader.ok("POST", f"/api/v1/outgoing/{doc}/sign/prepare",
                      json={"certificate": cert, "chain": chain})
    digest = base64.b64decode(first["digest"])
    assert len(digest) == 32 and first["md"] == "sha256"
    # a value from another key never becomes a published signature
    wrong = base64.b64encode(other.sign_digest(digest, "sha256")).decode()
    _refused(leader.post(f"/api/v1/outgoing/{doc}/sign/complete",
                         json={"pending_id": first["pending_id"], "signature": wrong}),
             400, "deferred_signature_mismatch")
    assert leader.ok("GET", f"/api/v1/outgoing/{doc}")["state"] == "draft"
    # a newer preparation replaces the older one
    second = leader.ok("POST", f"/api/v1/outgoing/{doc}/sign/prepare",
                       json={"certificate": cert, "chain": chain})
    old = base64.b64encode(token.sign_digest(digest, "sha256")).decode()
    _refused(leader.post(f"/api/v1/outgoing/{doc}/sign/complete",
                         json={"pending_id": first["pending_id"], "signature": old}),
             409, "stale_signing_request")
    value = token.sign_digest(base64.b64decode(second["digest"]), "sha256")
    done = leader.ok("POST", f"/api/v1/outgoing/{doc}/sign/complete", json={
        "pending_id": second["pending_id"], "signature": base64.b64encode(value).decode()})
    assert done["state"] == "signed"
    assert _signed_by(nodes, leader, doc, pki_server) == "Nguyễn Văn An"
    # another person's pending request is not found, even by a leader of the same agency
    _refused(nodes.client("vanthu.h41").post(
        f"/api/v1/outgoing/{doc}/sign/complete",
        json={"pending_id": second["pending_id"], "signature": "AA=="}), 403, "forbidden")


def test_server_side_hsm_key(pki_server, tmp_path):
    """The agency keeps the leader's key in an HSM (SoftHSM2 through PKCS#11): the leader types
    the token's PIN; a wrong PIN is one clear refusal and the draft stays a draft."""
    from api.office.settings import PersonalKey
    from tests.token_helpers import LIB, softhsm_token

    with softhsm_token(tmp_path / "hsm", pki_server) as token:
        key = PersonalKey(username="lanhdao.h41", pkcs11_lib=LIB, token_label=token.label,
                          key_label=token.key_label,
                          image=pki_server.entity("official-h41").image)
        with office_nodes(tmp_path / "office", pki_server,
                          province_office={"personal_keys": [key]}) as nodes:
            leader = nodes.client("lanhdao.h41")
            assert leader.user["signing"]["server_key"] is True
            doc = _draft(leader)
            r = leader.post(f"/api/v1/outgoing/{doc}/sign", json={"password": "000000"})
            assert r.status_code == 400 and r.json()["message_en"], r.text
            assert leader.ok("GET", f"/api/v1/outgoing/{doc}")["state"] == "draft"
            signed = leader.ok("POST", f"/api/v1/outgoing/{doc}/sign",
                               json={"password": token.pin})
            assert signed["state"] == "signed"
            steps = leader.ok("GET", f"/api/v1/outgoing/{doc}")["steps"]
            assert steps[-1]["how"] == "hsm"
            assert steps[-1]["certificate_serial"] == str(token.certificate.serial_number)
            assert _signed_by(nodes, leader, doc, pki_server) == "Nguyễn Văn An"


def test_metrics_for_operators(nodes):
    """Prometheus text for an operator's bearer token: requests by route template (no ids in
    labels) and the node's outbox by state; nobody else reads it."""
    operator = nodes.client("quantri.h41", bearer=True)
    leader = nodes.client("lanhdao.h41")
    leader.ok("GET", f"/api/v1/outgoing/{_draft(leader)}")
    r = operator.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert 'route="/api/v1/outgoing/{doc_id}"' in r.text
    assert "edoc_office_request_seconds_bucket" in r.text
    assert "edoc_outbox_items" in r.text
    assert leader.get("/metrics").status_code == 403
