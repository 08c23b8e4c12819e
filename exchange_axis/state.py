"""The node's persistent state, on storage's models: every transaction of the exchange in one place.

Each public method is ONE transaction, because each is one step the exchange must take atomically:
- ``record_issue``: the outgoing document, its files, its deliveries (one per recipient, "queued")
  and one outbox row per next hop;
- ``record_arrival``: the inbox row (idempotency key + the first receipt), the incoming documents
  (one per hosted recipient) with their files and arrival numbers, statuses 01, and outbox rows for
  what travels on;
- ``mark_delivered``: the outbox row, and the statuses the receipt reports for its recipients;
- ``record_clerk_statuses``: the clerk's statuses and the outbox rows carrying them to the sender.
The outbox claim is a lease (``claimed_by``/``claimed_at``) so a crashed worker's rows come back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from edoc.agency import normalise
from edoc.document import VIETNAM
from edoc.document import Document as EdocDocument
from edoc.status import TRANSITIONS, StatusCode, StatusError, StatusMessage
from exchange_axis.receipts import RecipientOutcome
from exchange_axis.tracking import DocumentTrack, StatusEvent, fold
from storage.audit import AuditLog
from storage.db import Database, dialect_name, upgrade, upsert_insert
from storage.db import models as m
from storage.inbox import InboxRepository
from storage.outbox import OutboxRepository
from storage.registers import Registers

LEASE = dt.timedelta(minutes=5)


def worker_seat(node_name: str, listen: str) -> str:
    """Where one worker of a node runs: node, host and listen port. Two live workers never
    share a seat (they could not both bind the port), and a restarted worker takes its old
    seat again, so it may release exactly the claims its dead predecessor left. A random port
    (``:0``) names no stable seat: the process id stands in (its rows wait for the lease)."""
    host, _, port = listen.rpartition(":")
    where = port if port not in ("", "0") else f"{host}:0-pid{os.getpid()}"
    return f"{node_name}@{socket.gethostname()}:{where}"[:88]

#: What an incoming copy's state says about the last processing status its clerk sent.
STATE_CODES: dict[str, StatusCode | None] = {
    "arrived": StatusCode.ARRIVED, "accepted": StatusCode.ACCEPTED,
    "assigned": StatusCode.ASSIGNED, "processing": StatusCode.PROCESSING,
    "done": StatusCode.COMPLETED, "rejected": StatusCode.REJECTED,
}
PROCESSING_CODES = frozenset({StatusCode.REJECTED, StatusCode.ACCEPTED, StatusCode.ASSIGNED,
                              StatusCode.PROCESSING, StatusCode.COMPLETED})


def require_reason(code: StatusCode, reason: str | None) -> None:
    """A rejection (02) says why: the sender's clerk must know what to correct."""
    if code is StatusCode.REJECTED and not (reason or "").strip():
        raise StatusError("Từ chối văn bản phải nêu lý do", "a rejection (02) needs a reason")


def check_clerk_transition(state: str, code: StatusCode, reason: str | None) -> None:
    """A processing status (02–06) must follow the copy's current state as ``TRANSITIONS``
    says (a document is accepted before it is assigned, nothing follows a rejection), and a
    rejection needs its reason. Raises StatusError (bilingual) before anything is recorded."""
    if code not in PROCESSING_CODES:
        return
    require_reason(code, reason)
    if state not in STATE_CODES:
        raise StatusError(
            f"Văn bản đang ở trạng thái '{state}', không nhận mã {code.value} "
            f"({code.meaning_vi})",
            f"the document is '{state}': status {code.value} ({code.meaning_en}) does not apply")
    current = STATE_CODES[state]
    if code not in TRANSITIONS.get(current, frozenset()):
        raise StatusError(
            f"Không thể chuyển từ {current.value} ({current.meaning_vi}) sang {code.value} "
            f"({code.meaning_vi})",
            f"status {code.value} ({code.meaning_en}) cannot follow {current.value} "
            f"({current.meaning_en})")


@dataclass
class Transfer:
    """An outbox row to be: one package for one next hop, carrying ``recipients``."""

    next_hop: str
    recipients: list[str]
    package: bytes
    package_sha256: str
    priority: int
    kind: str  # "document" | "status"


@dataclass
class OutboxItem:
    id: int
    next_hop: str
    package: bytes
    package_sha256: str
    priority: int
    attempts: int
    kind: str
    document_id: int | None
    recipients: list[str]


@dataclass
class ReceivedDoc:
    sender: str
    code: str | None
    promulgation_date: dt.date | None


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


#: how often an arrival transaction aborted by a deadlock / serialisation failure is run again
DEADLOCK_RETRIES = 4
_INSERT_DOCUMENT = insert(m.Document.__table__).returning(m.Document.__table__.c.id)


class NodeState:
    def __init__(self, url: str, *, node_name: str, hosted: dict[str, str] | None = None) -> None:
        upgrade(url)
        self.db = Database(url)
        self.worker_id = f"{node_name}-{uuid.uuid4().hex[:8]}"
        self.actor = f"node:{node_name}"
        self._agency_ids: dict[str, int] = {}
        if hosted:
            self.ensure_agencies(hosted)

    def session(self) -> Session:
        return self.db.sessions()

    # -- audit -------------------------------------------------------------------------------
    def _audit(self, s: Session | Connection, action: str, subject: str,
               details: dict[str, Any], actor: str | None = None) -> None:
        """One audit entry in the caller's transaction: the log says exactly what committed."""
        AuditLog(s).append(actor or self.actor, action, subject, details)

    def anchor_audit(self, timestamper: Callable[[bytes], bytes], every: dt.timedelta
                     ) -> int | None:
        """Time-stamp the audit head if due; the TSA is called outside any transaction, so
        exchange work never waits for it. Returns the anchored sequence number, if any."""
        with self.session() as s:
            due = AuditLog(s).anchor_due(every)
        if due is None:
            return None
        seq, head_hash = due
        token = timestamper(bytes.fromhex(head_hash))
        with self.session() as s, s.begin():
            AuditLog(s).add_anchor(seq, head_hash, token)
        return seq

    # -- agencies ------------------------------------------------------------------------------
    def ensure_agencies(self, agencies: dict[str, str]) -> None:
        """Hosted agencies exist as rows (documents and registers belong to them). The workers
        of one node start together on one database: a code another worker inserted meanwhile
        is skipped (ON CONFLICT DO NOTHING), not an error that kills this worker."""
        with self.session() as s, s.begin():
            have = dict(s.execute(select(m.Agency.code, m.Agency.id)).all())
            missing = [{"code": c, "name": n or c} for c, n in agencies.items() if c not in have]
            if missing:
                s.execute(upsert_insert(dialect_name(s))(m.Agency.__table__).on_conflict_do_nothing(
                    index_elements=["code"]), missing)
                have = dict(s.execute(select(m.Agency.code, m.Agency.id)).all())
        self._agency_ids.update(have)

    def agency_id(self, s: Session, code: str, name: str | None = None) -> int:
        if code in self._agency_ids:
            return self._agency_ids[code]
        found = s.execute(select(m.Agency.id).where(m.Agency.code == code)).scalar()
        if found is None:
            row = m.Agency(code=code, name=name or code)
            s.add(row)
            s.flush()
            found = row.id
        self._agency_ids[code] = found
        return found

    # -- issuing -------------------------------------------------------------------------------
    def record_issue(self, document: EdocDocument, file_keys: dict[str, str],
                     transfers: list[Transfer], now: dt.datetime,
                     files: Iterable[tuple[str, str, int]] = (), business_type: int = 0,
                     links: dict[str, Any] | None = None, draft_id: int | None = None,
                     actor: str | None = None) -> int:
        """One transaction: outgoing document + files + deliveries + outbox rows. ``links``
        (update/replace packages: the DocumentIds they refer to) go into the document's meta.
        ``draft_id``: an e-office draft (state ``sealed``) becomes this document."""
        with self.session() as s, s.begin():
            sender = normalise(document.sender.organ_id)
            agency_id = self.agency_id(s, sender, document.sender.name)
            draft = None
            if draft_id is not None:
                draft = s.get(m.Document, draft_id, with_for_update=True)
                if (draft is None or draft.direction != "outgoing" or draft.state != "sealed"
                        or draft.agency_id != agency_id):
                    from exchange_axis.errors import ExchangeError  # noqa: PLC0415

                    raise ExchangeError(
                        "Chỉ ban hành được văn bản đã đóng dấu (có thể đã được ban hành)",
                        "only a sealed document can be issued (it may have been issued already)",
                        code="not_sealed")
            fields = dict(
                agency_id=agency_id,
                direction="outgoing", external_id=document.document_id,
                number=document.code.number if document.code else None,
                notation=document.code.notation if document.code else None,
                doc_type=document.document_type.name if document.document_type else None,
                subject=document.subject, issued_place=document.promulgation_place,
                issued_at=now, signer_name=document.signer.full_name if document.signer else None,
                signer_position=document.signer.position if document.signer else None,
                priority=int(document.priority or 0), business_type=business_type,
                due_date=(dt.datetime.combine(document.due_date, dt.time(23, 59), VIETNAM)
                          if document.due_date else None),
                state="issued",
                meta={"recipients": {normalise(r.organ_id): r.name or ""
                                     for r in document.recipients},
                      "signed": True,
                      "promulgation_date": (document.promulgation_date.isoformat()
                                            if document.promulgation_date else None),
                      **(links or {})},
            )
            if draft is None:
                doc = m.Document(**fields)
                s.add(doc)
            else:
                doc = draft
                fields["meta"] = {**(draft.meta or {}), **fields["meta"]}
                for name, value in fields.items():
                    setattr(doc, name, value)
            s.flush()
            for old_external in (links or {}).get("replaces", []):
                self._mark_replaced_outgoing(s, old_external, document.document_id)
            self._audit(s, {3: "replace", 1: "revoke"}.get(business_type, "issue"),
                        f"outgoing:{document.document_id}", {
                            "local_id": doc.id,
                            "sender": sender, "recipients": len(document.recipients),
                            "files": {sha: {"name": name, "key": file_keys[sha], "size": size}
                                      for name, sha, size in files},
                            "transfers": _transfers(transfers), **(links or {})},
                        actor=actor)
            for name, sha, size in files:
                s.add(m.DocumentFile(document_id=doc.id, role="main", name=name, sha256=sha,
                                     object_key=file_keys[sha], size=size,
                                     content_type="application/pdf"))
            s.execute(m.Delivery.__table__.insert(), [
                {"document_id": doc.id, "recipient_code": normalise(r.organ_id),
                 "state": "queued", "created_at": now, "updated_at": now}
                for r in document.recipients])
            self._enqueue(s, transfers, now, document_id=doc.id)
            return doc.id

    def _mark_replaced_outgoing(self, s: Session, old_external: str, new_external: str) -> None:
        """The sender's own record of a document it replaces: superseded, linked to the new
        one (as the recipients mark their copies), in the transaction that issues the new one."""
        old = s.execute(select(m.Document).where(
            m.Document.direction == "outgoing",
            m.Document.external_id == old_external)).scalars().first()
        if old is not None:
            old.meta = {**(old.meta or {}), "replaced_by": new_external}
            old.state = "replaced"

    def record_update(self, original_id: str, version: dict[str, Any],
                      transfers: list[Transfer], now: dt.datetime) -> int:
        """One transaction: an update of an outgoing document is a new version of it (the
        original's record and files stay), its packages queued per next hop on the original
        so the recipients' 15/16 land on the original's tracking."""
        with self.session() as s, s.begin():
            doc = s.execute(select(m.Document).where(
                m.Document.direction == "outgoing",
                m.Document.external_id == original_id)).scalars().first()
            doc.meta = {**doc.meta, "versions": [*doc.meta.get("versions", []), version]}
            doc.state = "updated"
            self._enqueue(s, transfers, now, document_id=doc.id)
            self._audit(s, "update", f"outgoing:{original_id}", {
                "package_document_id": version.get("document_id"), "reason": version.get("reason"),
                "files": version.get("files"), "transfers": _transfers(transfers)})
            return doc.id

    def _enqueue(self, s: Session, transfers: Iterable[Transfer], now: dt.datetime, *,
                 document_id: int | None = None) -> None:
        outbox = OutboxRepository(s)
        for t in transfers:
            outbox.enqueue(next_hop=t.next_hop, package_bytes=t.package, document_id=document_id,
                           recipients=t.recipients,
                           kind=t.kind, priority=t.priority, not_before=now)

    def allocate_number(self, agency: str, notation: str, at: dt.datetime,
                        subject: str | None = None) -> str:
        """The next number of the agency's outgoing register (sổ văn bản đi), committed."""
        with self.session() as s, s.begin():
            entry = Registers(s).issue_outgoing(self.agency_id(s, agency), notation, at,
                                                subject=subject)
            return entry.number

    # -- outbox --------------------------------------------------------------------------------
    def release_claims(self, seat: str) -> None:
        """At start-up: rows the previous process of this worker ``seat`` (see ``worker_seat``)
        was sending when it died go back to pending, and this process claims under that seat.
        Only that seat's rows: the node's other workers share the database and are alive,
        their rows stay theirs (a dead one's come back when its lease expires)."""
        self.worker_id = f"{seat}/{uuid.uuid4().hex[:8]}"
        with self.session() as s, s.begin():
            s.execute(update(m.OutboxItem).where(
                m.OutboxItem.state == "sending",
                m.OutboxItem.claimed_by.startswith(f"{seat}/", autoescape=True))
                      .values(state="pending", claimed_by=None, claimed_at=None))

    def claim_due(self, now: dt.datetime, limit: int, lease: dt.timedelta = LEASE
                  ) -> list[OutboxItem]:
        """Claim due rows, urgent first then oldest, under a lease (attempts counted here)."""
        with self.session() as s, s.begin():
            rows = OutboxRepository(s).claim_due(limit, now, self.worker_id, lease=lease)
            return [OutboxItem(r.id, r.next_hop, r.package_bytes or b"", r.package_sha256,
                               r.priority, r.attempts, r.kind, r.document_id,
                               list(r.recipients or [])) for r in rows]

    def release(self, ids: list[int], until: dt.datetime) -> None:
        """Claimed rows not attempted (their peer is down): back to pending until ``until``;
        the attempt the claim counted is given back."""
        with self.session() as s, s.begin():
            s.execute(update(m.OutboxItem).where(m.OutboxItem.id.in_(ids),
                                                 m.OutboxItem.claimed_by == self.worker_id)
                      .values(state="pending", claimed_by=None, claimed_at=None,
                              next_attempt_at=until, attempts=m.OutboxItem.attempts - 1))

    def mark_retry(self, item: OutboxItem, error: str, until: dt.datetime) -> None:
        """Back off this row and every pending row for the same peer to the SAME time: the peer
        is down, not the row. Rows of a peer then come due together and are claimed together,
        so when the peer is back its queue drains in priority order."""
        with self.session() as s, s.begin():
            OutboxRepository(s).mark_retry(item.id, error[:2000], until, worker=self.worker_id)
            s.execute(update(m.OutboxItem)
                      .where(m.OutboxItem.state == "pending",
                             m.OutboxItem.next_hop == item.next_hop)
                      .values(next_attempt_at=until))

    def mark_failed(self, item: OutboxItem, error: str) -> None:
        """Visible failure: the row stays ``failed`` (operator retry), its deliveries too."""
        with self.session() as s, s.begin():
            OutboxRepository(s).mark_failed(item.id, error[:2000], worker=self.worker_id)
            self._audit(s, "delivery_failed", f"outbox:{item.id}", {
                "next_hop": item.next_hop, "kind": item.kind, "attempts": item.attempts,
                "package_sha256": item.package_sha256, "error": error[:500]})
            if item.document_id is not None and item.kind == "document":
                s.execute(update(m.Delivery)
                          .where(m.Delivery.document_id == item.document_id,
                                 m.Delivery.state == "queued")
                          .values(state="failed"))

    def wake_peer(self, peer: str, now: dt.datetime) -> None:
        """The peer answered again: its waiting rows are due now (and drain by priority)."""
        with self.session() as s, s.begin():
            s.execute(update(m.OutboxItem)
                      .where(m.OutboxItem.state == "pending", m.OutboxItem.next_hop == peer,
                             m.OutboxItem.next_attempt_at > now)
                      .values(next_attempt_at=now))

    def mark_delivered_many(self, done: list[tuple[OutboxItem, bytes, Any]],
                            now: dt.datetime) -> None:
        """Several rows delivered by one bundle: one transaction."""
        with self.session() as s, s.begin():
            marked = [(item, answer) for item, answer, receipt in done
                      if self._delivered(s, item, answer, receipt, now, [])]
            if marked:
                self._audit(s, "delivered", f"bundle:{marked[0][0].next_hop}",
                            {"items": [_delivery(item, answer) for item, answer in marked]})

    def mark_delivered(self, item: OutboxItem, answer: bytes, receipt: Any,
                       now: dt.datetime, then: list[Transfer] | None = None) -> None:
        """The row is done; what the receipt says about each recipient becomes its status.
        ``then``: rows the delivery gives rise to (a relayed document's refusals, reported to
        its sender), enqueued with the mark so they exist once, or not at all."""
        with self.session() as s, s.begin():
            if self._delivered(s, item, answer, receipt, now, then or []):
                details = _delivery(item, answer)
                if then:
                    details["refusals_reported"] = _transfers(then)
                self._audit(s, "delivered", f"outbox:{item.id}", details)

    def _delivered(self, s: Session, item: OutboxItem, answer: bytes, receipt: Any,
                   now: dt.datetime, then: list[Transfer]) -> bool:
        """Mark the row delivered; False if it is no longer ours (its lease expired and another
        worker took it), so only the worker that marked it records the delivery."""
        if not OutboxRepository(s).mark_delivered(item.id, worker=self.worker_id,
                                                  receipt=answer, now=now):
            return False
        self._enqueue(s, then, now)
        if item.kind != "document" or item.document_id is None:
            return True
        doc = s.get(m.Document, item.document_id)
        if doc is None or doc.direction != "outgoing":
            return True
        indication = next(iter(receipt.verdicts.values()), None)
        events = [{"document_id": doc.id, "external_document_id": doc.external_id,
                   "agency_code": o.agency_code, "status_code": o.status,
                   "description": o.reason_vi or None, "signature_indication": indication,
                   "staff": {}, "occurred_at": receipt.received_at, "recorded_at": now}
                  for o in receipt.recipients if o.status != "relayed"]
        if events:
            s.execute(m.StatusEvent.__table__.insert(), events)
        self._update_deliveries(s, doc.id, receipt.recipients, receipt.received_at,
                                indication)
        return True

    def _update_deliveries(self, s: Session, doc_id: int, outcomes: Iterable[Any],
                           at: dt.datetime, indication: str | None = None) -> None:
        """Latest state per recipient; grouped so 3,321 recipients are a few UPDATEs."""
        groups: dict[tuple[str, str], list[str]] = {}
        for o in outcomes:
            groups.setdefault((o.status, o.reason_vi or ""), []).append(o.agency_code)
        for (code, reason), agencies in groups.items():
            values: dict[str, Any] = {"updated_at": at}
            if code == "relayed":
                values["state"] = "relayed"
            else:
                values.update(state="rejected" if code == "02" else "delivered",
                              last_status=code, last_status_at=at)
                if reason:
                    values["reason"] = reason
            if indication:
                values["signature_indication"] = indication
            for chunk in _chunks(agencies, 500):
                s.execute(update(m.Delivery)
                          .where(m.Delivery.document_id == doc_id,
                                 m.Delivery.recipient_code.in_(chunk))
                          .values(**values))

    def retry_failed(self, row_id: int | None, now: dt.datetime) -> int:
        """Operator retry: failed rows (one, or all) go back to the queue."""
        with self.session() as s, s.begin():
            outbox = OutboxRepository(s)
            ids = [row_id] if row_id is not None else [
                r.id for r in outbox.find(state="failed", limit=100000)]
            count = sum(outbox.requeue(i, now=now) for i in ids)
            self._audit(s, "retry", f"outbox:{row_id if row_id is not None else 'failed'}",
                        {"requeued": count}, actor="operator")
            s.execute(update(m.Delivery).where(m.Delivery.state == "failed")
                      .values(state="queued"))
            return count

    def queue_report(self) -> dict[str, Any]:
        with self.session() as s:
            counts = OutboxRepository(s).counts()
            failures = s.execute(
                select(m.OutboxItem).where(m.OutboxItem.last_error.is_not(None),
                                           m.OutboxItem.state != "delivered")
                .order_by(m.OutboxItem.id.desc()).limit(20)).scalars().all()
            inbox = s.execute(select(func.count()).select_from(m.InboxItem)).scalar()
            return {"counts": counts, "inbox": inbox,
                    "failures": [{"id": f.id, "next_hop": f.next_hop, "state": f.state,
                                  "attempts": f.attempts, "error": f.last_error or "",
                                  "next_attempt_at": f.next_attempt_at.isoformat()}
                                 for f in failures]}

    # -- arrivals ------------------------------------------------------------------------------
    def inbox_receipt(self, sender: str, document_id: str, sha: str) -> bytes | None:
        with self.db.reader.connect() as c:
            return InboxRepository(c).receipt_of(sender, document_id, sha)

    def sent_to(self, external_id: str, agency: str) -> bool:
        """Whether a document issued here (``external_id``) went to ``agency``: only then may
        that agency report statuses about it."""
        with self.db.reader.connect() as c:
            return c.execute(
                select(m.Delivery.id).join(m.Document, m.Document.id == m.Delivery.document_id)
                .where(m.Document.direction == "outgoing",
                       m.Document.external_id == external_id,
                       m.Delivery.recipient_code == agency).limit(1)).first() is not None

    def audit_refusal(self, arrival: Any, answer: bytes) -> None:
        """A package refused because its peer may not send it: nothing else is stored, but
        the attempt is an audit entry (who, what, why, the receipt answered)."""
        with self.session() as s, s.begin():
            self._audit(s, "refused", f"incoming:{arrival.sender}/{arrival.document_id}",
                        {**_arrival(arrival, answer), "came_from": arrival.came_from,
                         "reason_vi": arrival.refused[0], "reason_en": arrival.refused[1]})

    def holds_incoming(self, sender: str, external_id: str, agency: str) -> bool:
        """Whether ``agency`` (hosted here) received document ``external_id`` from ``sender``:
        updates and replacements may only touch what that sender sent."""
        with self.session() as s:
            return self._originals(s, sender, external_id, [agency]) != []

    def _originals(self, s: Session, sender: str, external_id: str,
                   agencies: list[str]) -> list[Any]:
        ids = [self.agency_id(s, a) for a in agencies]
        docs = s.execute(select(m.Document).where(
            m.Document.direction == "incoming", m.Document.external_id == external_id,
            m.Document.agency_id.in_(ids))).scalars().all()
        return [d for d in docs if (d.meta or {}).get("sender") == sender]

    def record_arrival(self, arrival: Any, seal: Callable[[dict[str, int]], bytes]) -> bytes:
        """One transaction for everything an accepted arrival writes; returns the receipt.

        A concurrent duplicate that got in first wins: its receipt is returned instead. A
        transaction PostgreSQL aborted to break a deadlock or a serialisation conflict wrote
        nothing and is run again (a few times), instead of failing the sender's request."""
        for attempt in range(DEADLOCK_RETRIES):
            try:
                return self._record_arrival(arrival, seal)
            except OperationalError as exc:
                code = getattr(getattr(exc, "orig", None), "sqlstate", None)
                if code not in ("40P01", "40001") or attempt == DEADLOCK_RETRIES - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    def _record_arrival(self, arrival: Any, seal: Callable[[dict[str, int]], bytes]) -> bytes:
        with self.session() as s:
            s.begin()
            # Core statements of the hot path run on the session's connection (same
            # transaction; half the cost of going through Session.execute each)
            conn = s.connection()
            numbers: dict[str, int] = {}
            first_doc: int | None = None
            if arrival.kind == "document":
                numbers, first_doc = self._incoming_documents(s, conn, arrival)
            else:
                self._incoming_status(s, arrival)
            answer = seal(numbers)
            inbox = InboxRepository(conn)
            if not inbox.claim(arrival.sender, arrival.document_id, arrival.package_sha256,
                               answer, package_key=arrival.package_key,
                               local_document_id=first_doc, now=arrival.received_at):
                # a concurrent duplicate committed first: it wins
                first = inbox.receipt_of(*arrival.key)
                s.rollback()
                return first or answer
            self._enqueue(s, arrival.forward, arrival.received_at)
            s.flush()  # ORM rows of this arrival (revokes, updates) before the audit entry
            self._audit(conn, "receive", f"incoming:{arrival.sender}/{arrival.document_id}",
                        _arrival(arrival, answer))
            s.commit()
            return answer

    def _mark_incoming(self, s: Session, external_id: str | None, agencies: list[str],
                       state: str, reporter: str, code: str, description: str | None,
                       at: dt.datetime) -> int:
        """Set the state of the incoming copies of a document held by ``agencies`` and log
        the status that caused it; returns how many copies changed."""
        ids = [self.agency_id(s, a) for a in agencies]
        docs = s.execute(select(m.Document).where(
            m.Document.direction == "incoming", m.Document.external_id == external_id,
            m.Document.agency_id.in_(ids))).scalars().all()
        for doc in docs:
            doc.state = state
            s.add(m.StatusEvent(document_id=doc.id, external_document_id=external_id,
                                agency_code=reporter, status_code=code,
                                description=description, occurred_at=at))
        return len(docs)

    def record_arrivals(self, batch: list[tuple[Any, Callable[[dict[str, int]], bytes]]]
                        ) -> list[bytes] | None:
        """Several status arrivals in ONE transaction; None (nothing written) if any of them
        was taken meanwhile by a concurrent duplicate (the caller then goes one by one)."""
        with self.session() as s:
            s.begin()
            answers = []
            inbox = InboxRepository(s)
            for arrival, seal in batch:
                self._incoming_status(s, arrival)
                answer = seal({})
                if not inbox.record_once(arrival.sender, arrival.document_id,
                                         arrival.package_sha256, answer,
                                         now=arrival.received_at).created:
                    s.rollback()
                    return None
                self._enqueue(s, arrival.forward, arrival.received_at)
                answers.append(answer)
            self._audit(s, "receive", f"statuses:{len(batch)}",
                        {"items": [_arrival(a, ans) for (a, _seal), ans in zip(batch, answers,
                                                                              strict=True)]})
            s.commit()
            return answers

    def _incoming_update(self, s: Session, arrival: Any) -> int | None:
        """An update package: the originals stay as they are (their files are evidence); the
        new metadata is appended to their versions and they are marked ``updated`` (15)."""
        package = arrival.parsed
        doc = package.document
        sender = normalise(doc.sender.organ_id)
        version = {"document_id": doc.document_id, "received_at": arrival.received_at.isoformat(),
                   "reason": package.business.reason, "subject": doc.subject,
                   "code": str(doc.code) if doc.code else None,
                   "document_info": package.business.document_info,
                   "document_receiver": package.business.document_receiver,
                   "receivers": [normalise(r.organ_id)
                                 for r in package.business.receivers or []],
                   "package_key": arrival.package_key,
                   "files": {sha: arrival.file_keys[sha] for _, sha in arrival.attachment_shas}}
        first = None
        for original in self._originals(s, sender, arrival.updates, arrival.local):
            meta = dict(original.meta or {})
            meta["versions"] = [*meta.get("versions", []), version]
            original.meta = meta
            original.state = "updated"
            first = first or original.id
            s.add(m.StatusEvent(document_id=original.id, external_document_id=arrival.updates,
                                agency_code=self._code_of(s, original.agency_id),
                                status_code="15", description=package.business.reason,
                                occurred_at=arrival.received_at,
                                recorded_at=arrival.received_at))
        return first

    def _link_replaced(self, s: Session, arrival: Any, new_ids: dict[str, int]) -> None:
        """Replaced copies held here: state ``replaced``, linked both ways with the new one."""
        sender = normalise(arrival.parsed.document.sender.organ_id)
        new_external = arrival.parsed.document.document_id
        for old_external, agencies in arrival.replaces:
            for old in self._originals(s, sender, old_external, agencies):
                code = self._code_of(s, old.agency_id)
                old.meta = {**(old.meta or {}), "replaced_by": new_external}
                old.state = "replaced"
                new = s.get(m.Document, new_ids[code])
                new.meta = {**(new.meta or {}),
                            "replaces": [*new.meta.get("replaces", []), old_external]}

    def _incoming_documents(self, s: Session, conn: Connection, arrival: Any
                            ) -> tuple[dict[str, int], int | None]:
        """The arrival's incoming copies: ORM work (updates, replacements) on ``s``, the hot
        Core statements on ``conn``, the session's own connection."""
        if arrival.updates:
            return {}, self._incoming_update(s, arrival)
        doc = arrival.parsed.document
        at = arrival.received_at
        row_ids: dict[str, int] = {}
        files = [(a.name, sha, len(a.data)) for a, sha in arrival.attachment_shas]
        report = {v.sha256: v for v in arrival.verdicts}
        numbers: dict[str, int] = {}
        first: int | None = None
        registers = Registers(conn)
        sender = normalise(doc.sender.organ_id)
        code_text = str(doc.code) if doc.code else None
        # Core statements, not the ORM unit of work: a hub writes these rows for every recipient
        # of every arrival, and the ORM's per-object flush cost more CPU than the SQL itself
        document = {
            "direction": "incoming", "external_id": doc.document_id,
            "number": doc.code.number if doc.code else None,
            "notation": doc.code.notation if doc.code else None,
            "doc_type": doc.document_type.name if doc.document_type else None,
            "subject": doc.subject, "issued_place": doc.promulgation_place,
            "signer_name": doc.signer.full_name if doc.signer else None,
            "signer_position": doc.signer.position if doc.signer else None,
            "priority": int(doc.priority or 0), "state": "arrived", "business_type": 0,
            "due_date": (dt.datetime.combine(doc.due_date, dt.time(23, 59), VIETNAM)
                         if doc.due_date else None),
            "meta": {"sender": sender, "sender_name": doc.sender.name,
                     "promulgation_date": (doc.promulgation_date.isoformat()
                                           if doc.promulgation_date else None),
                     "code": code_text,
                     "indications": {sha: v.indication for sha, v in report.items()},
                     "report_keys": dict(getattr(arrival, "report_keys", {}))},
            "created_at": at, "updated_at": at, "version": 1}
        file_rows: list[dict[str, Any]] = []
        event_rows: list[dict[str, Any]] = []
        # register counters are row-locked until commit: taken in one order (sorted codes) by
        # every arrival, so two packages to the same communes listed differently cannot
        # deadlock on PostgreSQL
        for code in sorted(arrival.local):
            agency_id = self.agency_id(s, code)
            row_id = conn.execute(_INSERT_DOCUMENT, {**document, "agency_id": agency_id}
                                  ).scalar_one()
            first = first or row_id
            row_ids[code] = row_id
            file_rows += [{"document_id": row_id, "role": "main" if sha in report
                           else "attachment", "name": name, "sha256": sha,
                           "object_key": arrival.file_keys[sha], "size": size,
                           "content_type": "application/pdf" if sha in report
                           else "application/octet-stream", "created_at": at}
                          for name, sha, size in files]
            numbers[code] = registers.register_incoming(
                agency_id, at, document_id=row_id, sender_code=sender,
                sender_name=doc.sender.name, original_number=code_text,
                subject=doc.subject).seq
            event_rows.append({"document_id": row_id, "external_document_id": doc.document_id,
                               "agency_code": code, "status_code": "01",
                               "description": "Đã đến", "occurred_at": at, "recorded_at": at,
                               "staff": {}})
        if file_rows:
            conn.execute(insert(m.DocumentFile.__table__), file_rows)
        if event_rows:
            conn.execute(insert(m.StatusEvent.__table__), event_rows)
        if arrival.revokes:
            self._mark_incoming(s, arrival.revokes, arrival.local, "revoked",
                                normalise(doc.sender.organ_id), "15",
                                "Đã hủy theo văn bản thu hồi", at)
        if arrival.replaces:
            self._link_replaced(s, arrival, row_ids)
        return numbers, first

    def _incoming_status(self, s: Session, arrival: Any) -> None:
        """A status about a document sent from here: record it for tracking."""
        if not arrival.local:
            return
        msg: StatusMessage = arrival.parsed
        if msg.code.value == "13":  # the sender asks our recipients to give it back
            self._mark_incoming(s, msg.response_for.document_id, arrival.local,
                                "take_back_requested", normalise(msg.sender.organ_id), "13",
                                msg.description, msg.timestamp)
            return
        doc = s.execute(select(m.Document).where(
            m.Document.direction == "outgoing",
            m.Document.external_id == msg.response_for.document_id)).scalars().first()
        reporter = normalise(msg.sender.organ_id)
        s.add(m.StatusEvent(document_id=doc.id if doc else None,
                            external_document_id=msg.response_for.document_id,
                            agency_code=reporter, status_code=msg.code.value,
                            description=msg.description, occurred_at=msg.timestamp,
                            recorded_at=arrival.received_at, staff=_staff(msg)))
        if doc is not None:
            outcome = RecipientOutcome(reporter, msg.code.value,
                                       msg.description if msg.code.value in ("02", "16")
                                       else "")
            self._update_deliveries(s, doc.id, [outcome], msg.timestamp)

    # -- clerks ----------------------------------------------------------------------------------
    def received_document(self, external_id: str) -> ReceivedDoc | None:
        with self.session() as s:
            doc = s.execute(select(m.Document).where(
                m.Document.direction == "incoming",
                m.Document.external_id == external_id)).scalars().first()
            if doc is None:
                return None
            pd = doc.meta.get("promulgation_date")
            return ReceivedDoc(doc.meta["sender"], doc.meta.get("code"),
                               dt.date.fromisoformat(pd) if pd else None)

    def record_clerk_statuses(self, external_id: str, messages: list[StatusMessage],
                              transfers: list[Transfer], now: dt.datetime, *,
                              assigned_to: int | None = None, actor: str | None = None) -> None:
        """The clerks' statuses, each checked against its copy's lifecycle, with the outbox rows
        carrying them to the sender; ``assigned_to`` (04): the specialist's user id."""
        with self.session() as s, s.begin():
            docs = {self._code_of(s, d.agency_id): d for d in s.execute(select(m.Document).where(
                m.Document.direction == "incoming",
                m.Document.external_id == external_id)).scalars()}
            events = []
            for msg in messages:
                code = normalise(msg.sender.organ_id)
                doc = docs.get(code)
                if doc is None:
                    from exchange_axis.errors import ExchangeError  # noqa: PLC0415

                    raise ExchangeError(f"{code} không nhận văn bản {external_id}",
                                        f"{code} did not receive document {external_id}")
                check_clerk_transition(doc.state, msg.code, msg.description)
                doc.state = {"03": "accepted", "02": "rejected", "04": "assigned",
                             "05": "processing", "06": "done", "15": "withdrawn"
                             }.get(msg.code.value, doc.state)
                if msg.code is StatusCode.ASSIGNED:
                    doc.assigned_to = assigned_to
                events.append({"document_id": doc.id, "external_document_id": external_id,
                               "agency_code": code, "status_code": msg.code.value,
                               "description": msg.description, "staff": _staff(msg),
                               "occurred_at": msg.timestamp, "recorded_at": now})
            s.execute(m.StatusEvent.__table__.insert(), events)
            self._enqueue(s, transfers, now)
            staff = next((msg.staff.staff for msg in messages if msg.staff and msg.staff.staff),
                         None)
            self._audit(s, "status_sent", f"incoming:{external_id}", {
                "statuses": {normalise(msg.sender.organ_id): msg.code.value for msg in messages},
                "reason": messages[0].description if messages else None,
                "transfers": _transfers(transfers)},
                actor=actor or (f"clerk:{staff}" if staff else None))

    def outgoing_header(self, external_id: str) -> tuple[str, dt.date | None, str | None]:
        """(sender code, promulgation date, "number/notation") of an outgoing document."""
        with self.session() as s:
            doc = s.execute(select(m.Document).where(
                m.Document.direction == "outgoing",
                m.Document.external_id == external_id)).scalars().first()
            sender = self._code_of(s, doc.agency_id)
            pd = doc.meta.get("promulgation_date")
            date = dt.date.fromisoformat(pd) if pd else None
            code = f"{doc.number}/{doc.notation}" if doc.number else None
            return sender, date, code

    def record_take_back(self, external_id: str, msg: StatusMessage,
                         transfers: list[Transfer], now: dt.datetime) -> None:
        """Status 13 leaves: logged on the outgoing document, queued per next hop."""
        with self.session() as s, s.begin():
            doc = s.execute(select(m.Document).where(
                m.Document.direction == "outgoing",
                m.Document.external_id == external_id)).scalars().first()
            for t in transfers:
                for code in t.recipients:
                    s.add(m.StatusEvent(document_id=doc.id, external_document_id=external_id,
                                        agency_code=code, status_code="13",
                                        description=msg.description, occurred_at=now))
            self._enqueue(s, transfers, now, document_id=doc.id)
            self._audit(s, "take_back", f"outgoing:{external_id}", {
                "reason": msg.description, "transfers": _transfers(transfers)})

    def _code_of(self, s: Session, agency_id: int) -> str:
        for code, aid in self._agency_ids.items():
            if aid == agency_id:
                return code
        return s.get(m.Agency, agency_id).code

    # -- reports ---------------------------------------------------------------------------------
    def document_track(self, external_id: str) -> DocumentTrack:
        with self.session() as s:
            doc = s.execute(select(m.Document).where(
                m.Document.direction == "outgoing",
                m.Document.external_id == external_id)).scalars().first()
            if doc is None:
                from exchange_axis.errors import ExchangeError  # noqa: PLC0415

                raise ExchangeError(f"Không có văn bản đi {external_id}",
                                    f"no outgoing document {external_id}")
            track = DocumentTrack(external_id, _aware(doc.issued_at or doc.created_at),
                                  doc.due_date.astimezone(VIETNAM).date() if doc.due_date
                                  else None, bool(doc.meta.get("signed")), state=doc.state,
                                  replaced_by=doc.meta.get("replaced_by"),
                                  replaces=list(doc.meta.get("replaces", [])),
                                  versions=len(doc.meta.get("versions", [])))
            names = doc.meta.get("recipients", {})
            events = []
            for d in s.execute(select(m.Delivery).where(m.Delivery.document_id == doc.id)
                               ).scalars():
                base = "relayed" if d.state == "relayed" else "pending"
                events.append(StatusEvent(d.recipient_code, base, track.sent_at,
                                          indication=d.signature_indication))
            for e in s.execute(select(m.StatusEvent).where(m.StatusEvent.document_id == doc.id)
                               .order_by(m.StatusEvent.id)).scalars():
                events.append(StatusEvent(e.agency_code, e.status_code, _aware(e.occurred_at),
                                          e.description, e.signature_indication))
            fold(track, events)
            for code, r in track.recipients.items():
                r.name = names.get(code, "")
            return track

    def packages_of(self, external_id: str) -> list[dict[str, Any]]:
        """The edXML packages queued for an outgoing document (what went on the wire)."""
        import base64  # noqa: PLC0415

        with self.session() as s:
            doc = s.execute(select(m.Document.id).where(
                m.Document.direction == "outgoing",
                m.Document.external_id == external_id)).scalar()
            rows = s.execute(select(m.OutboxItem).where(m.OutboxItem.document_id == doc)
                             .order_by(m.OutboxItem.id)).scalars().all()
            return [{"id": r.id, "kind": r.kind, "next_hop": r.next_hop, "state": r.state,
                     "package": base64.b64encode(r.package_bytes or b"").decode("ascii")}
                    for r in rows]

    def received_list(self) -> list[dict[str, Any]]:
        with self.session() as s:
            rows = s.execute(select(m.Document, m.Agency.code).join(
                m.Agency, m.Agency.id == m.Document.agency_id).where(
                m.Document.direction == "incoming").order_by(m.Document.id)).all()
            return [{"id": d.id, "agency_code": code, "document_id": d.external_id,
                     "subject": d.subject, "state": d.state, "priority": d.priority,
                     "indications": d.meta.get("indications", {}),
                     # update/replace links: newer versions, and which document supersedes
                     "versions": d.meta.get("versions", []),
                     "replaced_by": d.meta.get("replaced_by"),
                     "replaces": d.meta.get("replaces", []),
                     "created_at": d.created_at.isoformat()} for d, code in rows]


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _transfers(transfers: Iterable[Transfer]) -> list[dict[str, Any]]:
    """What left (or will leave) for each next hop: which bytes, for how many recipients."""
    return [{"next_hop": t.next_hop, "kind": t.kind, "recipients": len(t.recipients),
             "package_sha256": t.package_sha256} for t in transfers]


def _delivery(item: OutboxItem, answer: bytes) -> dict[str, Any]:
    return {"outbox": item.id, "next_hop": item.next_hop, "kind": item.kind,
            "package_sha256": item.package_sha256,
            "receipt_sha256": hashlib.sha256(answer).hexdigest()}


def _arrival(arrival: Any, answer: bytes) -> dict[str, Any]:
    """Which bytes came, from where, what was decided and answered (the signed receipt)."""
    outcomes = dict(Counter(o.status for o in arrival.outcomes))
    details: dict[str, Any] = {
        "kind": arrival.kind, "sender": arrival.sender, "document_id": arrival.document_id,
        "came_from": arrival.came_from, "package_sha256": arrival.package_sha256,
        "receipt_sha256": hashlib.sha256(answer).hexdigest(), "outcomes": outcomes}
    if arrival.kind == "document":
        details.update(package_key=arrival.package_key, files=dict(arrival.file_keys),
                       verdicts={v.sha256: v.indication for v in arrival.verdicts},
                       forwarded=_transfers(arrival.forward))
    else:
        details["status"] = arrival.parsed.code.value
    return details


def _staff(msg: StatusMessage) -> dict[str, Any]:
    """The status's StaffInfo (who handled it), as stored with the status event."""
    st = msg.staff
    if st is None:
        return {}
    return {k: v for k, v in (("department", st.department), ("staff", st.staff),
                              ("email", st.email), ("mobile", st.mobile)) if v}
