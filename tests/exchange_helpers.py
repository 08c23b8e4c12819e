"""Shared helpers of the exchange tests: a running topology, issuing a signed directive, waiting
for statuses. Real processes, real mutual TLS, real databases and stores."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from api.cluster import NAMED_COMMUNES, PROVINCE, NodeProcess, NodeSpec, province_topology
from api.directive import SignedDirective, document_json, sign_directive


def province_and_hub(*province_agencies: tuple[str, str]) -> list[NodeSpec]:
    """The two-node topology most exchange tests use: the province (its People's Committee and
    any ``province_agencies``) routes ``*.H41`` to a hub hosting the two named communes."""
    return [NodeSpec("province", "node-province", agencies=[PROVINCE, *province_agencies],
                     routes=[("*.H41", "hub")], peers=["hub"]),
            NodeSpec("hub", "node-hub", agencies=NAMED_COMMUNES, upstream="province",
                     peers=["province"])]


def wait_for(predicate: Callable[[], Any], timeout: float = 60.0, what: str = "condition",
             interval: float = 0.2, explain: Callable[[], str] | None = None) -> Any:
    """Poll ``predicate`` until it is true; on time-out fail with ``explain()``'s account of
    the state (what is still missing, and why), so a failure seen once can be understood."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    state = f"\n{explain()}" if explain is not None else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last={last!r}{state}")


def outbox_backlog(db_url: str) -> list[str]:
    """Outbox rows not delivered yet, one line each: what, to whom, state, attempts, error."""
    from sqlalchemy import String, func, select  # noqa: PLC0415

    from storage.db import models as m  # noqa: PLC0415

    o = m.OutboxItem
    rows = scalars(db_url, select(
        o.kind + " " + o.next_hop + " " + o.state + " attempts=" + o.attempts.cast(String)
        + " claimed_by=" + func.coalesce(o.claimed_by, "-") + " error="
        + func.coalesce(o.last_error, "-")).where(o.state != "delivered"))
    return [r[:300] for r in rows]


def directive_for(province: NodeProcess, manifest: Any) -> SignedDirective:
    with province.admin() as admin:
        return sign_directive(manifest, lambda notation: admin.call(
            "POST", "/admin/v1/number", json={"agency": PROVINCE[0], "notation": notation}
        )["number"])


def issue(province: NodeProcess, directive: SignedDirective, recipients: list[tuple[str, str]],
          **kwargs: Any) -> str:
    with province.admin() as admin:
        return admin.call("POST", "/admin/v1/issue",
                          json=document_json(directive, PROVINCE, recipients, **kwargs)
                          )["document_id"]


def tracking(node: NodeProcess, document_id: str) -> dict[str, Any]:
    with node.admin() as admin:
        return admin.call("GET", "/admin/v1/tracking", params={"document_id": document_id})


def statuses(node: NodeProcess, document_id: str) -> dict[str, str]:
    return {r["agency_code"]: r["status"] for r in tracking(node, document_id)["recipients"]}


def all_have(node: NodeProcess, document_id: str, code: str) -> Callable[[], bool]:
    return lambda: all(s == code for s in statuses(node, document_id).values())


def topology(communes: int) -> tuple[list, list[tuple[str, str]]]:
    return province_topology(communes)


def object_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and "sha256" in p.parts]


def set_crash(path: Path, point: str | None) -> None:
    """Rewrite a node.toml with (or without) a crash-injection point."""
    from exchange_axis.config import dump, load

    cfg = load(path)
    cfg.crash_at = point
    path.write_text(dump(cfg), encoding="utf-8")


def scalars(db_url: str, stmt) -> list[Any]:
    """The first column of one SELECT against a node's database, read directly (not through
    the node)."""
    from storage.db import Database  # noqa: PLC0415

    db = Database(db_url)
    try:
        with db.sessions() as s:
            return list(s.scalars(stmt).all())
    finally:
        db.dispose()


def db_counts(db_url: str) -> dict[str, Any]:
    """Row counts and invariants of one node's database, read directly (not via the node)."""
    from sqlalchemy import func, select

    from storage.db import Database
    from storage.db import models as m

    db = Database(db_url)
    try:
        with db.sessions() as s:
            def count(model, *where) -> int:
                return s.execute(select(func.count()).select_from(model).where(*where)).scalar()

            incoming = count(m.Document, m.Document.direction == "incoming")
            return {
                "incoming_documents": incoming,
                "incoming_register": count(m.IncomingEntry),
                "files": count(m.DocumentFile),
                "inbox": count(m.InboxItem),
                "outgoing_documents": count(m.Document, m.Document.direction == "outgoing"),
                "outbox": dict(s.execute(select(m.OutboxItem.state, func.count())
                                         .group_by(m.OutboxItem.state)).all()),
                "deliveries": dict(s.execute(select(m.Delivery.last_status, func.count())
                                             .group_by(m.Delivery.last_status)).all()),
                "incoming_per_agency_doc": s.execute(
                    select(func.max(func.coalesce(_dup_subquery(s, m), 0)))).scalar(),
                "object_keys": sorted(set(s.execute(select(m.DocumentFile.object_key))
                                          .scalars())),
            }
    finally:
        db.dispose()


def _dup_subquery(s, m):
    """Largest number of incoming copies of one document held by one agency (1 = exactly once)."""
    from sqlalchemy import func, select

    sub = (select(func.count().label("n"))
           .where(m.Document.direction == "incoming")
           .group_by(m.Document.agency_id, m.Document.external_id).subquery())
    return select(func.max(sub.c.n)).scalar_subquery()


def assert_consistent(db_url: str, store_url: str) -> dict[str, Any]:
    """No orphan rows: every incoming document has one arrival number and its files; every file
    row names an object that is in the store with the right bytes; no row is left mid-send."""
    from storage.objects import open_store

    counts = db_counts(db_url)
    assert counts["incoming_register"] == counts["incoming_documents"], counts
    assert counts["files"] >= counts["incoming_documents"], counts
    assert counts["outbox"].get("sending", 0) == 0, counts
    assert (counts["incoming_per_agency_doc"] or 0) <= 1, counts
    store = open_store(store_url)
    for key in counts["object_keys"]:
        store.verify(key)
    import json  # noqa: PLC0415

    from sqlalchemy import select  # noqa: PLC0415

    from storage.db import Database  # noqa: PLC0415
    from storage.db import models as m  # noqa: PLC0415

    db = Database(db_url)  # the audit trail is committed with each step: intact, and every
    try:                   # accepted arrival (inbox row) audited exactly once
        with db.uow() as uow:
            report = uow.audit.verify()
            receives = [json.loads(d) for d in uow.session.scalars(
                select(m.AuditEntry.details).where(m.AuditEntry.action == "receive"))]
    finally:
        db.dispose()
    assert report.ok, report.reason_en
    audited = sum(len(d["items"]) if "items" in d else 1 for d in receives)
    assert audited == counts["inbox"], (audited, counts)
    return counts
