"""Audit log: append-only and hash-chained, its head time-stamped from time to time.

Each entry's hash covers its sequence number, time, actor, action, subject, details (canonical
JSON, hashed exactly as stored) and the previous entry's hash. Editing, deleting or reordering
any entry breaks the chain at that point, and ``verify`` names the first bad entry. Truncating the
tail is caught by the head row (``audit_head``) and, against an attacker who also rewrites the
head, by the anchors: RFC 3161 time-stamp tokens over the head hash, obtained through a callable
the caller injects (api wires the TSA; storage does not import signing). This is how X-Road keeps
its message log.

Appends serialise on the head row (``FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite),
so sequence numbers have no gaps and the chain has no forks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.orm import Session

from storage.db.models import AuditAnchor, AuditEntry, AuditHead, utcnow
from storage.errors import StorageError

GENESIS = "0" * 64

#: ``timestamper(message) -> token``: message is the 32-byte head hash; token e.g. an RFC 3161
#: TimeStampToken (DER).
Timestamper = Callable[[bytes], bytes]
#: ``token_verifier(message, token) -> bool``: True when the token is a valid time-stamp of message.
TokenVerifier = Callable[[bytes, bytes], bool]


def canonical_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _time_text(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="microseconds")


def entry_hash(
    seq: int,
    at: dt.datetime,
    actor: str,
    action: str,
    subject: str,
    details: str,
    prev_hash: str,
) -> str:
    payload = canonical_json(
        {
            "seq": seq,
            "at": _time_text(at),
            "actor": actor,
            "action": action,
            "subject": subject,
            "details": details,
            "prev": prev_hash,
        }
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass
class AuditReport:
    """Result of ``verify``. ``first_bad`` is the sequence number of the first bad entry."""

    ok: bool
    entries: int
    anchors: int = 0
    first_bad: int | None = None
    reason_vi: str = ""
    reason_en: str = ""
    problems: list[str] = field(default_factory=list)

    def summary(self, lang: str = "vi") -> str:
        if self.ok:
            if lang == "en":
                return f"audit log intact: {self.entries} entries, {self.anchors} anchors"
            return f"Nhật ký kiểm toán nguyên vẹn: {self.entries} bản ghi, {self.anchors} mốc"
        return self.reason_en if lang == "en" else self.reason_vi


class AuditError(StorageError):
    """The audit log cannot be appended to or anchored."""


_INSERT_ENTRY = insert(AuditEntry.__table__)
_MOVE_HEAD = (update(AuditHead.__table__).where(AuditHead.__table__.c.id == 1)
              .values(seq=bindparam("new_seq"), hash=bindparam("new_hash")))


_LOCK_HEAD = select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1).with_for_update()


class AuditLog:
    """The chained log, in the caller's transaction: a Session, or its Connection where only
    ``append`` is used on a hot path (half the cost per statement)."""

    def __init__(self, session: Session | Connection) -> None:
        self.session = session

    def _lock_head(self) -> tuple[int, str]:
        row = self.session.execute(_LOCK_HEAD).one_or_none()
        if row is None:
            raise AuditError(
                "Thiếu dòng đầu chuỗi nhật ký (audit_head): chạy `edoc db upgrade`",
                "the audit head row is missing: run `edoc db upgrade`",
            )
        return int(row.seq), row.hash

    def append(
        self,
        actor: str,
        action: str,
        subject: str,
        details: dict[str, Any] | None = None,
        *,
        at: dt.datetime | None = None,
    ) -> AuditEntry:
        """Add an entry (committed with the caller's unit of work, together with what it logs)."""
        prev_seq, prev_hash = self._lock_head()
        seq = prev_seq + 1
        at = (at or utcnow()).astimezone(dt.UTC)
        text = canonical_json(details or {})
        digest = entry_hash(seq, at, actor, action, subject, text, prev_hash)
        values = {"seq": seq, "at": at, "actor": actor, "action": action, "subject": subject,
                  "details": text, "prev_hash": prev_hash, "hash": digest}
        # a Core insert, not the ORM unit of work: every arrival at a hub appends one entry,
        # and the ORM's flush machinery cost more than the hashing (the returned entry is
        # detached, a record of what was written)
        self.session.execute(_INSERT_ENTRY, values)
        self.session.execute(_MOVE_HEAD, {"new_seq": seq, "new_hash": digest})
        return AuditEntry(**values)

    def head(self) -> tuple[int, str]:
        row = self.session.execute(select(AuditHead.seq, AuditHead.hash)).one()
        return int(row.seq), row.hash

    def entries(self, after: int = 0, limit: int = 1000) -> list[AuditEntry]:
        return list(
            self.session.scalars(
                select(AuditEntry)
                .where(AuditEntry.seq > after)
                .order_by(AuditEntry.seq)
                .limit(limit)
            )
        )

    # -- anchoring -------------------------------------------------------------------------
    def anchor(self, timestamper: Timestamper) -> AuditAnchor:
        """Time-stamp the current head; the token is stored beside it."""
        seq, head_hash = self.head()
        if seq == 0:
            raise AuditError(
                "Nhật ký trống: chưa có gì để đóng dấu thời gian",
                "the audit log is empty: nothing to time-stamp",
            )
        return self.add_anchor(seq, head_hash, timestamper(bytes.fromhex(head_hash)))

    def anchor_due(self, every: dt.timedelta) -> tuple[int, str] | None:
        """The head to anchor now, if it moved since the last anchor and that anchor is older
        than ``every`` (None otherwise). No lock is taken: a service asks, gets the token from
        the TSA outside any transaction (appends never wait for the TSA), then ``add_anchor``.
        An anchor of a head that has moved on meanwhile still proves that entry and all before
        it existed at the token's time."""
        last = self.session.scalar(select(AuditAnchor).order_by(AuditAnchor.id.desc()).limit(1))
        seq, head_hash = self.head()
        if seq == 0 or (last is not None and last.seq == seq):
            return None
        if last is not None and utcnow() - last.created_at < every:
            return None
        return seq, head_hash

    def add_anchor(self, seq: int, head_hash: str, token: bytes) -> AuditAnchor:
        anchor = AuditAnchor(seq=seq, head_hash=head_hash, token=token)
        self.session.add(anchor)
        self.session.flush()
        return anchor

    # -- verification ----------------------------------------------------------------------
    def verify(self, token_verifier: TokenVerifier | None = None) -> AuditReport:
        """Walk the chain; report the first bad entry with the reason (vi and en)."""
        expected_seq, prev_hash, count = 1, GENESIS, 0
        hashes: dict[int, str] = {}
        stmt = select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=1000)
        for e in self.session.scalars(stmt):
            count += 1
            if e.seq != expected_seq:
                return _bad(
                    count, e.seq,
                    f"bản ghi {expected_seq}..{e.seq - 1} bị xóa (thiếu trước bản ghi {e.seq})",
                    f"entries {expected_seq}..{e.seq - 1} were deleted (missing before {e.seq})",
                )  # fmt: skip
            if e.prev_hash != prev_hash:
                return _bad(
                    count, e.seq,
                    f"bản ghi {e.seq} không nối với bản ghi trước (bị sửa, xóa hoặc đổi thứ tự)",
                    f"entry {e.seq} does not link to the previous one (edited, deleted or "
                    "reordered)",
                )  # fmt: skip
            actual = entry_hash(e.seq, e.at, e.actor, e.action, e.subject, e.details, e.prev_hash)
            if actual != e.hash:
                return _bad(
                    count, e.seq,
                    f"nội dung bản ghi {e.seq} đã bị sửa (mã băm không khớp)",
                    f"entry {e.seq} was altered (hash mismatch)",
                )  # fmt: skip
            hashes[e.seq] = e.hash
            prev_hash, expected_seq = e.hash, e.seq + 1
        last_seq = expected_seq - 1
        head_seq, head_hash = self.head()
        if head_seq != last_seq or head_hash != prev_hash:
            first = last_seq + 1 if head_seq > last_seq else head_seq + 1
            return _bad(
                count, first,
                f"đầu chuỗi ghi {head_seq} nhưng bảng có {last_seq} bản ghi: phần cuối bị xóa "
                f"hoặc đầu chuỗi bị sửa (từ bản ghi {first})",
                f"the head says {head_seq} but the log has {last_seq} entries: the tail was "
                f"deleted or the head altered (from entry {first})",
            )  # fmt: skip
        anchors = list(self.session.scalars(select(AuditAnchor).order_by(AuditAnchor.id)))
        for a in anchors:
            if hashes.get(a.seq) != a.head_hash:
                return _bad(
                    count, a.seq,
                    f"mốc thời gian #{a.id} đã đóng dấu bản ghi {a.seq} nhưng bản ghi đó nay "
                    "khác hoặc không còn (chuỗi bị viết lại)",
                    f"time-stamp anchor #{a.id} sealed entry {a.seq}, which is now different "
                    "or gone (the chain was rewritten)",
                    anchors=len(anchors),
                )  # fmt: skip
            if token_verifier is not None and not token_verifier(
                bytes.fromhex(a.head_hash), a.token
            ):
                return _bad(
                    count, a.seq,
                    f"dấu thời gian của mốc #{a.id} (bản ghi {a.seq}) không hợp lệ",
                    f"the time-stamp token of anchor #{a.id} (entry {a.seq}) is invalid",
                    anchors=len(anchors),
                )  # fmt: skip
        return AuditReport(ok=True, entries=count, anchors=len(anchors))


def _bad(count: int, seq: int, vi: str, en: str, *, anchors: int = 0) -> AuditReport:
    return AuditReport(
        ok=False,
        entries=count,
        anchors=anchors,
        first_bad=seq,
        reason_vi=f"Nhật ký kiểm toán bị can thiệp: {vi}",
        reason_en=f"audit log tampered with: {en}",
    )
