"""Update (BussinessDocType 2) and replacement (3) packages between two real nodes.

An update corrects a document the recipient holds: it agrees (15) automatically, the new metadata
is recorded as a version of the original, whose stored bytes stay as they were (evidence). An
update for a document the recipient never received is refused (16, with the reason) and leaves
nothing behind. A replacement is a new signed document (verified, stored, numbered, 01) that marks
the documents it replaces; a replaced document unknown to the recipient is reported in its 01."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy import select

from api.cluster import NAMED_COMMUNES, PROVINCE, NodeProcess, layout
from api.directive import document_json, sign_directive
from exchange_axis.config import WorkerSettings
from storage.db import Database
from storage.db import models as m
from storage.objects import open_store
from tests.exchange_helpers import db_counts, province_and_hub, statuses, tracking, wait_for

C1, C2 = (c for c, _ in NAMED_COMMUNES)


def _issue(admin: Any, body: dict[str, Any]) -> str:
    return admin.call("POST", "/admin/v1/issue", json=body)["document_id"]


def _stored_files(db_url: str, external_id: str) -> dict[str, str]:
    """object key → sha256 of the files of the incoming copies of ``external_id``."""
    db = Database(db_url)
    try:
        with db.sessions() as s:
            rows = s.execute(select(m.DocumentFile.object_key, m.DocumentFile.sha256).join(
                m.Document, m.Document.id == m.DocumentFile.document_id).where(
                m.Document.direction == "incoming", m.Document.external_id == external_id)).all()
            return dict(rows)
    finally:
        db.dispose()


def _descriptions(db_url: str, external_id: str) -> dict[str, str | None]:
    """The sender's recorded 01 descriptions per recipient (the receipt's words)."""
    db = Database(db_url)
    try:
        with db.sessions() as s:
            return dict(s.execute(select(m.StatusEvent.agency_code, m.StatusEvent.description)
                                  .where(m.StatusEvent.external_document_id == external_id,
                                         m.StatusEvent.status_code == "01")).all())
    finally:
        db.dispose()


def test_update_and_replace(tmp_path: Path, pki_server) -> None:
    specs = province_and_hub()
    paths = layout(tmp_path, pki_server, specs, worker=WorkerSettings(poll_interval=0.1))
    first = sign_directive(pki_server, lambda _n: "81")
    hub = NodeProcess(paths["hub"]).start()
    province = NodeProcess(paths["province"]).start()
    hub_db, hub_store = hub.cfg.database_url, hub.cfg.store_url
    try:
        with province.admin() as p, hub.admin() as h:
            def inbox(doc_id: str) -> dict[str, dict[str, Any]]:
                return {i["agency_code"]: i for i in h.call("GET", "/admin/v1/inbox")
                        if i["document_id"] == doc_id}

            d1 = _issue(p, document_json(first, PROVINCE, NAMED_COMMUNES))
            d2 = _issue(p, document_json(replace(first, number="82"), PROVINCE,
                                         [NAMED_COMMUNES[0]], subject="Văn bản chỉ gửi C1"))
            wait_for(lambda: statuses(province, d1) == {C1: "01", C2: "01"}
                     and statuses(province, d2) == {C1: "01"}, 30, "01 for both documents")
            originals = _stored_files(hub_db, d1)
            assert set(originals.values()) == {first.sha256}

            # -- update accepted: metadata only, C1 holds the original --------------------------
            corrected = "Về việc tăng cường phòng, chống thiên tai (đính chính trích yếu)"
            update = document_json(first, PROVINCE, [NAMED_COMMUNES[0]], subject=corrected)
            update["files"] = []
            update["document"]["business"] = {"type": 2, "document_id": d1,
                                              "reason": "Đính chính trích yếu"}
            assert _issue(p, update) == d1  # tracked on the original
            wait_for(lambda: statuses(province, d1) == {C1: "15", C2: "01"}, 30,
                     "15 for the update, on the original's tracking")
            copies = inbox(d1)
            assert copies[C1]["state"] == "updated" and copies[C2]["state"] == "arrived"
            [version] = copies[C1]["versions"]
            assert version["subject"] == corrected and version["reason"] == "Đính chính trích yếu"
            assert copies[C1]["subject"] != corrected  # the original's record is kept as is
            assert len(h.call("GET", "/admin/v1/inbox")) == 3  # no new incoming document

            # -- the sender refuses an update of a document it never sent, before storing it ---
            bogus = document_json(first, PROVINCE, [NAMED_COMMUNES[0]])
            bogus["document"]["business"] = {"type": 2, "document_id": "000.00.00.H41,x,1/X"}
            refused = p.request("POST", "/admin/v1/issue", json=bogus)
            assert refused.status_code == 400 and "message_en" in refused.json(), refused.text

            # -- update of a document C2 never received: 16 with the reason, nothing stored -------
            before = db_counts(hub_db)
            objects_before = sorted(p_.name for p_ in Path(hub_store).rglob("*") if p_.is_file())
            stray = document_json(replace(first, number="82"), PROVINCE, [NAMED_COMMUNES[1]])
            stray["document"]["business"] = {"type": 2, "document_id": d2,
                                             "reason": "Sửa nơi nhận"}
            assert _issue(p, stray) == d2
            wait_for(lambda: statuses(province, d2) == {C1: "01", C2: "16"}, 30,
                     "16 for the update of a document C2 never received")
            row = next(r for r in tracking(province, d2)["recipients"] if r["agency_code"] == C2)
            assert d2 in row["reason"] and "cập nhật" in row["reason"]
            assert db_counts(hub_db) == before
            assert sorted(p_.name for p_ in Path(hub_store).rglob("*")
                          if p_.is_file()) == objects_before

            # -- replacement: a new signed document, d1 replaced for both, d2 unknown at C2 -----
            second = sign_directive(pki_server, lambda _n: "83")
            repl = document_json(second, PROVINCE, NAMED_COMMUNES)
            repl["document"]["business"] = {
                "type": 3, "document_id": d1, "reason": "Thay thế chỉ thị số 81",
                "replacements": [{"document_id": d1, "organ_ids": [C1, C2]},
                                 {"document_id": d2, "organ_ids": [C2]}]}
            d3 = _issue(p, repl)
            wait_for(lambda: statuses(province, d3) == {C1: "01", C2: "01"}, 30,
                     "01 for the replacement")
            notes = _descriptions(province.cfg.database_url, d3)
            assert d2 in notes[C2] and "thay thế" in notes[C2] and notes[C1] is None
            new = inbox(d3)
            assert {c: i["state"] for c, i in new.items()} == {C1: "arrived", C2: "arrived"}
            assert new[C1]["replaces"] == [d1] and new[C2]["replaces"] == [d1]
            assert {c: (i["state"], i["replaced_by"]) for c, i in inbox(d1).items()} == {
                C1: ("replaced", d3), C2: ("replaced", d3)}
            assert inbox(d2)[C1]["state"] == "arrived"  # not concerned by the replacement
            assert set(_stored_files(hub_db, d3).values()) == {second.sha256}
            assert all(i["indications"] for i in new.values())  # verified like a new one

            # the sender's own records: d1 superseded by d3 (after one update), d3 replaces both
            t1, t2, t3 = (tracking(province, d) for d in (d1, d2, d3))
            assert (t1["state"], t1["replaced_by"], t1["versions"]) == ("replaced", d3, 1)
            assert (t2["state"], t2["replaced_by"]) == ("replaced", d3)
            assert (t3["state"], t3["replaces"], t3["replaced_by"]) == ("issued", [d1, d2], None)

            # the originals' bytes are unchanged in the object store
            store = open_store(hub_store)
            assert _stored_files(hub_db, d1) == originals
            for key, sha in originals.items():
                assert hashlib.sha256(store.get(key)).hexdigest() == sha == first.sha256
    finally:
        province.stop()
        hub.stop()


def test_update_and_replace_through_a_relay(tmp_path: Path, pki_server) -> None:
    """The legacy commune is reached province → district → hub: the update and the replacement
    are relayed like any document, and their statuses travel back as status packages."""
    from api.cluster import LEGACY_COMMUNE, province_topology

    specs, _ = province_topology(2)
    paths = layout(tmp_path, pki_server, specs, worker=WorkerSettings(poll_interval=0.1))
    commune = LEGACY_COMMUNE[0]
    first = sign_directive(pki_server, lambda _n: "91")
    nodes = {name: NodeProcess(paths[name]).start() for name in ("hub", "district", "province")}
    province, hub = nodes["province"], nodes["hub"]
    try:
        with province.admin() as p, hub.admin() as h:
            def copies(doc_id: str) -> dict[str, Any]:
                return {i["agency_code"]: i for i in h.call("GET", "/admin/v1/inbox")
                        if i["document_id"] == doc_id}

            d1 = _issue(p, document_json(first, PROVINCE, [LEGACY_COMMUNE]))
            wait_for(lambda: statuses(province, d1) == {commune: "01"}, 30, "01 via the relay")
            originals = _stored_files(hub.cfg.database_url, d1)

            corrected = "Về việc tăng cường phòng, chống thiên tai (đính chính qua nút trung gian)"
            update = document_json(first, PROVINCE, [LEGACY_COMMUNE], subject=corrected)
            update["files"] = []
            update["document"]["business"] = {"type": 2, "document_id": d1,
                                              "reason": "Đính chính trích yếu"}
            assert _issue(p, update) == d1
            wait_for(lambda: statuses(province, d1) == {commune: "15"}, 30,
                     "15 for the relayed update")
            copy = copies(d1)[commune]
            assert copy["state"] == "updated"
            assert [v["subject"] for v in copy["versions"]] == [corrected]

            second = sign_directive(pki_server, lambda _n: "92")
            repl = document_json(second, PROVINCE, [LEGACY_COMMUNE])
            repl["document"]["business"] = {
                "type": 3, "document_id": d1, "reason": "Thay thế chỉ thị số 91",
                "replacements": [{"document_id": d1, "organ_ids": [commune]}]}
            d2 = _issue(p, repl)
            wait_for(lambda: statuses(province, d2) == {commune: "01"}, 30,
                     "01 for the relayed replacement")
            assert copies(d1)[commune]["state"] == "replaced"
            assert copies(d1)[commune]["replaced_by"] == d2
            assert copies(d2)[commune]["replaces"] == [d1]
            assert _stored_files(hub.cfg.database_url, d1) == originals
            assert set(_stored_files(hub.cfg.database_url, d2).values()) == {second.sha256}
    finally:
        for node in nodes.values():
            node.stop()
