"""Repositories of agencies, documents, their stored files, signatures, deliveries and statuses.

They work inside the caller's session (the unit of work decides when to commit). A file row is
only added for an object that is already in the object store: ``add_file`` checks it when given
the store, and ``store_file`` does put-then-row in that order.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from storage.db.models import (
    Agency,
    Delivery,
    Document,
    DocumentFile,
    Signature,
    StatusEvent,
    utcnow,
)
from storage.errors import ObjectNotFound, StorageError
from storage.objects.base import ObjectStore, Source, digest_of_key

FILE_ROLES = ("main", "attachment", "copy")


class StateConflict(StorageError):
    """The document is not in the state the caller expected (someone else changed it)."""


class AgencyRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def ensure(self, code: str, name: str, **fields: Any) -> Agency:
        """The agency with this code, created (or its name/fields updated) as given."""
        agency = self.by_code(code)
        if agency is None:
            agency = Agency(code=code, name=name, **fields)
            self.session.add(agency)
        else:
            agency.name = name
            for k, v in fields.items():
                setattr(agency, k, v)
        self.session.flush()
        return agency

    def by_code(self, code: str) -> Agency | None:
        return self.session.scalar(select(Agency).where(Agency.code == code))

    def all(self) -> list[Agency]:
        return list(self.session.scalars(select(Agency).order_by(Agency.code)))


class DocumentRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, agency_id: int, direction: str, **fields: Any) -> Document:
        doc = Document(agency_id=agency_id, direction=direction, **fields)
        self.session.add(doc)
        self.session.flush()
        return doc

    def get(self, document_id: int) -> Document | None:
        return self.session.get(Document, document_id)

    def by_external_id(self, external_id: str, agency_id: int | None = None) -> list[Document]:
        stmt = select(Document).where(Document.external_id == external_id)
        if agency_id is not None:
            stmt = stmt.where(Document.agency_id == agency_id)
        return list(self.session.scalars(stmt.order_by(Document.id)))

    def set_state(
        self, document_id: int, new_state: str, *, expected: str | tuple[str, ...] | None = None
    ) -> Document:
        """Change the state; with ``expected``, refuse unless the current state is one of them.

        The row's version column makes a concurrent change fail at flush (no lost update).
        """
        doc = self.session.get(Document, document_id, with_for_update=True)
        if doc is None:
            raise StorageError(
                f"Không có văn bản id={document_id}", f"no document with id={document_id}"
            )
        allowed = (expected,) if isinstance(expected, str) else expected
        if allowed is not None and doc.state not in allowed:
            raise StateConflict(
                f"Văn bản {document_id} đang ở trạng thái {doc.state}, không phải {allowed}",
                f"document {document_id} is in state {doc.state}, not {allowed}",
            )
        doc.state = new_state
        try:
            self.session.flush()
        except StaleDataError:
            raise StateConflict(
                f"Văn bản {document_id} vừa bị người khác thay đổi; tải lại rồi thử lại",
                f"document {document_id} was changed concurrently; reload and retry",
            ) from None
        return doc

    # -- files -----------------------------------------------------------------------------
    def add_file(
        self,
        document_id: int,
        role: str,
        name: str,
        object_key: str,
        size: int,
        content_type: str,
        *,
        store: ObjectStore | None = None,
    ) -> DocumentFile:
        """Add the row of a file whose object is ALREADY stored (checked when ``store`` given)."""
        if role not in FILE_ROLES:
            raise StorageError(
                f"Vai trò tệp không hợp lệ: {role!r} (main, attachment, copy)",
                f"invalid file role {role!r} (main, attachment, copy)",
            )
        sha = digest_of_key(object_key)
        if store is not None and not store.exists(object_key):
            raise ObjectNotFound(
                f"Chưa lưu đối tượng {object_key}: lưu tệp vào kho trước rồi mới ghi siêu dữ liệu",
                f"object {object_key} is not stored: put the file first, then the metadata",
            )
        row = DocumentFile(
            document_id=document_id,
            role=role,
            name=name,
            sha256=sha,
            object_key=object_key,
            size=size,
            content_type=content_type,
        )
        self.session.add(row)
        self.session.flush()
        return row

    def store_file(
        self,
        store: ObjectStore,
        document_id: int,
        role: str,
        name: str,
        data: Source,
        content_type: str,
    ) -> DocumentFile:
        """Put the bytes in the object store FIRST, then add the row (commit is the caller's)."""
        key = store.put(data)
        return self.add_file(document_id, role, name, key, store.stat(key).size, content_type)

    def files(self, document_id: int, role: str | None = None) -> list[DocumentFile]:
        stmt = select(DocumentFile).where(DocumentFile.document_id == document_id)
        if role is not None:
            stmt = stmt.where(DocumentFile.role == role)
        return list(self.session.scalars(stmt.order_by(DocumentFile.id)))

    def add_signature(self, file_id: int, kind: str, indication: str, **fields: Any) -> Signature:
        """Record a signature and its validation report (``report=`` a JSON-ready dict)."""
        sig = Signature(file_id=file_id, kind=kind, indication=indication, **fields)
        self.session.add(sig)
        self.session.flush()
        return sig

    def signatures(self, file_id: int) -> list[Signature]:
        return list(
            self.session.scalars(
                select(Signature).where(Signature.file_id == file_id).order_by(Signature.id)
            )
        )

    # -- deliveries and statuses -----------------------------------------------------------
    def delivery(self, document_id: int, recipient_code: str) -> Delivery:
        """The delivery row of (document, recipient), created as ``queued`` if new."""
        row = self.session.scalar(
            select(Delivery).where(
                Delivery.document_id == document_id, Delivery.recipient_code == recipient_code
            )
        )
        if row is None:
            row = Delivery(document_id=document_id, recipient_code=recipient_code, state="queued")
            self.session.add(row)
            self.session.flush()
        return row

    def deliveries(self, document_id: int) -> list[Delivery]:
        return list(
            self.session.scalars(
                select(Delivery).where(Delivery.document_id == document_id).order_by(Delivery.id)
            )
        )

    def add_status(
        self,
        agency_code: str,
        status_code: str,
        occurred_at: dt.datetime,
        *,
        document_id: int | None = None,
        external_document_id: str | None = None,
        description: str | None = None,
        signature_indication: str | None = None,
        staff: dict[str, Any] | None = None,
        package_key: str | None = None,
    ) -> StatusEvent:
        """Record a status event from ``agency_code`` about a document; when the document is
        ours, the (document, recipient) delivery row keeps the LATEST status (by time: statuses
        may arrive out of order)."""
        event = StatusEvent(
            document_id=document_id,
            external_document_id=external_document_id,
            agency_code=agency_code,
            status_code=status_code,
            description=description,
            signature_indication=signature_indication,
            staff=staff or {},
            occurred_at=occurred_at,
            package_key=package_key,
        )
        self.session.add(event)
        if document_id is not None:
            delivery = self.delivery(document_id, agency_code)
            if delivery.last_status_at is None or occurred_at >= delivery.last_status_at:
                delivery.last_status = status_code
                delivery.last_status_at = occurred_at
                delivery.reason = description
                if signature_indication is not None:
                    delivery.signature_indication = signature_indication
                delivery.updated_at = utcnow()
        self.session.flush()
        return event

    def statuses(self, document_id: int) -> list[StatusEvent]:
        return list(
            self.session.scalars(
                select(StatusEvent)
                .where(StatusEvent.document_id == document_id)
                .order_by(StatusEvent.occurred_at, StatusEvent.id)
            )
        )
