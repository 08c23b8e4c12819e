"""SQL metadata of edoc (SQLAlchemy 2 declarative models).

The schema is created ONLY by the Alembic migrations in ``storage/migrations``; these models
describe it for the ORM and a test checks that both agree. Times are stored in UTC and returned
timezone-aware (``UtcDateTime``), on SQLite as on PostgreSQL.

Rows that name an object (``object_key``, ``package_key``) are committed only AFTER the object was
put in the object store, so no row ever points at a missing object.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JsonType = JSON().with_variant(JSONB(), "postgresql")


class UtcDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out; naive input is refused (a bug upstream)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: edoc stores timezone-aware times only")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Agency(Base):
    __tablename__ = "agencies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(13), unique=True)  # QCVN 102 mã định danh
    name: Mapped[str] = mapped_column(String(500))
    parent_code: Mapped[str | None] = mapped_column(String(13))
    level: Mapped[str | None] = mapped_column(String(20))
    decision20_code: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Document(Base):
    """A document as one agency holds it: outgoing (drafted here) or incoming (received)."""

    __tablename__ = "documents"
    __table_args__ = (
        CheckConstraint("direction IN ('outgoing', 'incoming')", name="direction"),
        Index(None, "agency_id", "state"),
        Index(None, "external_id"),
        Index(None, "agency_id", "direction", "id"),
        Index(None, "assigned_to"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    direction: Mapped[str] = mapped_column(String(10))
    external_id: Mapped[str | None] = mapped_column(String(100))  # edXML DocumentId
    number: Mapped[str | None] = mapped_column(String(20))  # số
    notation: Mapped[str | None] = mapped_column(String(50))  # ký hiệu
    doc_type: Mapped[str | None] = mapped_column(String(100))
    subject: Mapped[str | None] = mapped_column(Text)  # trích yếu
    issued_place: Mapped[str | None] = mapped_column(String(200))
    issued_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    signer_name: Mapped[str | None] = mapped_column(String(200))
    signer_position: Mapped[str | None] = mapped_column(String(200))
    priority: Mapped[int] = mapped_column(Integer, default=0)  # độ khẩn 0..4
    business_type: Mapped[int] = mapped_column(Integer, default=0)
    due_date: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    state: Mapped[str] = mapped_column(String(30), default="draft")
    meta: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    assigned_to: Mapped[int | None] = mapped_column(Integer)  # users.id of the specialist (04)
    created_by: Mapped[int | None] = mapped_column(Integer)  # users.id of the drafter

    __mapper_args__ = {"version_id_col": version}  # lost updates of the state are refused


class DocumentFile(Base):
    """One stored file of a document: the main signed original, an attachment or a copy."""

    __tablename__ = "document_files"
    __table_args__ = (
        CheckConstraint("role IN ('main', 'attachment', 'copy')", name="role"),
        Index(None, "sha256"),
        Index(None, "document_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    object_key: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Signature(Base):
    """A signature found in a file, with the validation report that judged it (JSON)."""

    __tablename__ = "signatures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("document_files.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # pades, cms, xmldsig
    field_name: Mapped[str | None] = mapped_column(String(200))
    signer_name: Mapped[str | None] = mapped_column(String(300))
    signer_agency: Mapped[str | None] = mapped_column(String(300))
    signing_time: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    timestamp_time: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    level: Mapped[str | None] = mapped_column(String(20))
    indication: Mapped[str] = mapped_column(String(30))
    sub_indication: Mapped[str | None] = mapped_column(String(60))
    report: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    validated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class RegisterCounter(Base):
    """Last number given per (agency, register, year): the row that serialises issuers."""

    __tablename__ = "register_counters"
    __table_args__ = (CheckConstraint("register IN ('outgoing', 'incoming')", name="register"),)

    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), primary_key=True)
    register: Mapped[str] = mapped_column(String(10), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer)


class OutgoingEntry(Base):
    """Sổ văn bản đi: one number per issued document, per agency, per calendar year, from 01."""

    __tablename__ = "outgoing_register"
    __table_args__ = (
        UniqueConstraint("agency_id", "year", "seq"),
        UniqueConstraint("agency_id", "year", "number", "notation"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    number: Mapped[str] = mapped_column(String(20))
    notation: Mapped[str] = mapped_column(String(50))
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"), unique=True)
    subject: Mapped[str | None] = mapped_column(Text)
    issued_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class IncomingEntry(Base):
    """Sổ văn bản đến: arrival number (số đến) and date per agency per year."""

    __tablename__ = "incoming_register"
    __table_args__ = (UniqueConstraint("agency_id", "year", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    arrived_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"), unique=True)
    sender_code: Mapped[str | None] = mapped_column(String(13))
    sender_name: Mapped[str | None] = mapped_column(String(500))
    original_number: Mapped[str | None] = mapped_column(String(80))  # số/ký hiệu of the sender
    subject: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class Delivery(Base):
    """Tracking of one outgoing document towards one recipient agency."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("document_id", "recipient_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    recipient_code: Mapped[str] = mapped_column(String(13))
    state: Mapped[str] = mapped_column(String(20), default="queued")
    last_status: Mapped[str | None] = mapped_column(String(2))  # axis status code 01..16
    last_status_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    reason: Mapped[str | None] = mapped_column(Text)
    signature_indication: Mapped[str | None] = mapped_column(String(30))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)


class StatusEvent(Base):
    """A status package (01..06, 13, 15, 16) sent or received about a document."""

    __tablename__ = "status_events"
    __table_args__ = (Index(None, "document_id"), Index(None, "external_document_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    external_document_id: Mapped[str | None] = mapped_column(String(100))
    agency_code: Mapped[str] = mapped_column(String(13))  # who reports the status
    status_code: Mapped[str] = mapped_column(String(2))
    description: Mapped[str | None] = mapped_column(Text)  # reason of a 02 rejection etc.
    signature_indication: Mapped[str | None] = mapped_column(String(30))
    staff: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    occurred_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    recorded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    package_key: Mapped[str | None] = mapped_column(String(100))


OUTBOX_STATES = ("pending", "sending", "delivered", "failed")


class OutboxItem(Base):
    """A package waiting to be delivered to the next hop (store-and-forward).

    Enqueued in the same transaction as the document's state change; a worker claims due rows
    (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), delivers, and marks them delivered, retry or
    failed. The package is an object key (large documents) or inline bytes (small statuses).
    """

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'sending', 'delivered', 'failed')", name="state"),
        CheckConstraint("package_key IS NOT NULL OR package_bytes IS NOT NULL", name="package"),
        Index(None, "state", "next_attempt_at"),
        Index(None, "document_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20), default="document")  # document | status
    recipients: Mapped[list[str]] = mapped_column(JsonType, default=list)  # agency codes
    next_hop: Mapped[str] = mapped_column(String(300))
    package_key: Mapped[str | None] = mapped_column(String(100))
    package_bytes: Mapped[bytes | None] = mapped_column(LargeBinary)
    package_sha256: Mapped[str] = mapped_column(String(64))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    state: Mapped[str] = mapped_column(String(12), default="pending")
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    receipt: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class InboxItem(Base):
    """A package received from a peer, once: (sender, DocumentId, package hash) is unique and a
    duplicate delivery is answered with the first receipt."""

    __tablename__ = "inbox"
    __table_args__ = (UniqueConstraint("sender", "document_id", "package_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sender: Mapped[str] = mapped_column(String(300))
    document_id: Mapped[str] = mapped_column(String(100))  # edXML DocumentId
    package_hash: Mapped[str] = mapped_column(String(64))
    package_key: Mapped[str | None] = mapped_column(String(100))
    receipt: Mapped[bytes | None] = mapped_column(LargeBinary)
    outcome: Mapped[str | None] = mapped_column(String(2))  # status answered: 01 or 02
    reason: Mapped[str | None] = mapped_column(Text)
    local_document_id: Mapped[int | None] = mapped_column(
        ForeignKey("documents.id", ondelete="SET NULL")
    )
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class AuditEntry(Base):
    """One audit record; ``hash`` covers every field and ``prev_hash`` (a hash chain)."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(300))
    details: Mapped[str] = mapped_column(Text)  # canonical JSON, hashed as stored
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The single row holding the chain head: locked by each append, so appends serialise."""

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class AuditAnchor(Base):
    """A time-stamp token over the chain head at ``seq`` (RFC 3161, from the TSA api wires)."""

    __tablename__ = "audit_anchors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[str] = mapped_column(String(64))
    token: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class User(Base):
    """A person of one hosted agency: what they may do is their roles (``api.office.authz``)."""

    __tablename__ = "users"
    __table_args__ = (Index(None, "agency_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    username: Mapped[str] = mapped_column(String(100), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    position: Mapped[str | None] = mapped_column(String(200))  # chức vụ, e.g. "Chủ tịch"
    email: Mapped[str | None] = mapped_column(String(200))
    roles: Mapped[list[str]] = mapped_column(JsonType, default=list)
    password_hash: Mapped[str | None] = mapped_column(String(200))  # argon2id; None: OIDC only
    oidc_subject: Mapped[str | None] = mapped_column(String(300), unique=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    #: signing set-up: signature image object key, server-side key name, CSC credential…
    profile: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class UserSession(Base):
    """A login: a cookie session of the web page or a bearer token of an integrator. Only the
    SHA-256 of the token is kept, so a copy of the database opens no session."""

    __tablename__ = "user_sessions"
    __table_args__ = (
        CheckConstraint("kind IN ('cookie', 'bearer')", name="kind"),
        Index(None, "user_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class LoginThrottle(Base):
    """Failed logins per key (``user:<name>``, ``ip:<address>``): shared by every worker."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_failure_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    locked_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())


class DocumentStep(Base):
    """One step of an outgoing document's workflow (draft, personal signature, number, seal,
    issue): who did it, when, and the PDF it produced (immutable object, by SHA-256)."""

    __tablename__ = "document_steps"
    __table_args__ = (Index(None, "document_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    step: Mapped[str] = mapped_column(String(30))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    sha256: Mapped[str | None] = mapped_column(String(64))
    object_key: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int | None] = mapped_column(BigInteger)
    details: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)


class DocumentRead(Base):
    """A person opened an incoming document (first time): what the inbox shows as read, so each
    clerk and specialist sees what is new to HIM, not only what nobody has handled yet."""

    __tablename__ = "document_reads"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"),
                                             primary_key=True)
    read_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
