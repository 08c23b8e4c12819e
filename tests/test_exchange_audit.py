"""The exchange writes its own audit trail: every step a node takes (issue, delivery, arrival,
clerk status, retry) is an entry of the hash-chained audit log, committed in the same transaction
as the step, naming the bytes involved (package and file SHA-256, the signed receipt's hash).
With a TSA configured, each node time-stamps the log's head on its own. ``edoc audit verify``
then checks a node's database, anchors included, and names the first entry edited behind its
back."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select, text

from api.cluster import NAMED_COMMUNES, PROVINCE, layout, running
from api.directive import document_json, sign_directive
from exchange_axis.config import AuditSettings, WorkerSettings
from signing.tsa import token_verifier
from storage.db import Database
from storage.db import models as m
from storage.objects import open_store
from tests.exchange_helpers import all_have, province_and_hub, scalars, statuses, wait_for

C1, C2 = (c for c, _ in NAMED_COMMUNES)


def _entries(db_url: str) -> list[tuple[str, str, dict]]:
    return [(e.action, e.subject, json.loads(e.details)) for e in scalars(
        db_url, select(m.AuditEntry).order_by(m.AuditEntry.seq))]


def _anchors(db_url: str) -> int:
    return len(scalars(db_url, select(m.AuditAnchor.id)))


def _verify_cli(db_url: str, pki_dir: Path) -> subprocess.CompletedProcess:
    """``edoc audit verify`` as an operator runs it (anchors checked against the dev root)."""
    return subprocess.run([sys.executable, "-m", "api.cli.main", "audit", "verify", "--db",
                           db_url], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "EDOC_PKI_DIR": str(pki_dir)})


def test_nodes_audit_what_they_send_and_receive(tmp_path: Path, pki_server) -> None:
    specs = province_and_hub()

    def with_tsa(cfg) -> None:
        cfg.audit = AuditSettings(tsa_url=pki_server.tsa_url, anchor_every_seconds=0.5)

    paths = layout(tmp_path, pki_server, specs, worker=WorkerSettings(poll_interval=0.1),
                   extra=with_tsa)
    directive = sign_directive(pki_server, lambda _n: "71")
    with running(paths) as nodes:
        province, hub = nodes["province"], nodes["hub"]
        p_db, h_db = province.cfg.database_url, hub.cfg.database_url
        with province.admin() as p, hub.admin() as h:
            doc_id = p.call("POST", "/admin/v1/issue", json=document_json(
                directive, PROVINCE, NAMED_COMMUNES))["document_id"]
            wait_for(all_have(province, doc_id, "01"), 30, "01 from both communes")
            h.call("POST", "/admin/v1/status", json={
                "document_id": doc_id, "recipients": [C1], "code": "02",
                "reason": "Sai thẩm quyền", "staff": "Nguyễn Văn Thư"})
            wait_for(lambda: statuses(province, doc_id) == {C1: "02", C2: "01"}, 30, "02")
            wait_for(lambda: _anchors(p_db) and _anchors(h_db), 30, "both heads anchored")
            wait_for(lambda: any(a == "receive" and d.get("status") == "02"
                                 for a, _s, d in _entries(p_db)), 30, "02 audited")

    sent, received = _entries(p_db), _entries(h_db)
    # the sender: the issue names the signed file's bytes and the package that left
    [issued] = [d for a, s_, d in sent if a == "issue" and s_ == f"outgoing:{doc_id}"]
    assert [f for f in issued["files"]] == [directive.sha256]
    [transfer] = issued["transfers"]
    assert transfer["next_hop"] == "hub" and transfer["recipients"] == 2
    delivered = [d for a, _s, d in sent if a == "delivered"]
    assert any(transfer["package_sha256"] in json.dumps(d) for d in delivered)
    # the receiver: the same package, stored under the key it names, and what it decided
    [arrived] = [d for a, _s, d in received
                 if a == "receive" and d.get("document_id") == doc_id and d["kind"] == "document"]
    assert arrived["package_sha256"] == transfer["package_sha256"]
    assert arrived["outcomes"] == {"01": 2} and arrived["came_from"] == "province"
    package = open_store(hub.cfg.store_url).get(arrived["package_key"])
    assert hashlib.sha256(package).hexdigest() == arrived["package_sha256"]
    assert set(arrived["files"]) == {directive.sha256}
    assert set(arrived["verdicts"].values()) == {"TOTAL_PASSED"}
    clerk = [(a, d) for a, _s, d in _entries(h_db) if a == "status_sent"]
    assert clerk and clerk[0][1]["statuses"] == {C1: "02"}
    assert scalars(h_db, select(m.AuditEntry.actor).where(
        m.AuditEntry.action == "status_sent")) == ["clerk:Nguyễn Văn Thư"]
    # who refused travels with the 02 (StaffInfo) to the sender's record
    assert scalars(p_db, select(m.StatusEvent.staff).where(
        m.StatusEvent.status_code == "02")) == [{"staff": "Nguyễn Văn Thư"}]

    # each database verifies with its anchors (TSA signatures checked against the dev root)
    verify = token_verifier([Path(pki_server.root)])
    for url in (p_db, h_db):
        db = Database(url)
        try:
            with db.uow() as uow:
                report = uow.audit.verify(token_verifier=verify)
        finally:
            db.dispose()
        assert report.ok and report.anchors >= 1 and report.entries >= 2, report
        ok = _verify_cli(url, pki_server.directory)
        assert ok.returncode == 0, ok.stderr

    # an entry edited behind the log's back is named by `edoc audit verify`
    db = Database(h_db)
    try:
        with db.sessions() as s, s.begin():
            s.execute(text("UPDATE audit_log SET details = replace(details, '\"01\"', '\"03\"') "
                           "WHERE action = 'receive'"))
    finally:
        db.dispose()
    bad = _verify_cli(h_db, pki_server.directory)
    assert bad.returncode == 1 and "first_bad=" in bad.stdout

