"""Unit of work: one session, one transaction, every repository on it.

A document's state change, its register number, its outbox rows and its audit entry commit
together or not at all::

    with db.uow() as uow:
        doc = uow.documents.set_state(doc_id, "issued", expected="sealed")
        uow.outbox.enqueue(next_hop=hop, package_key=key, document_id=doc_id)
        uow.audit.append("clerk@h41", "issue", f"document:{doc_id}")
        uow.commit()

Leaving the block without ``commit()`` (or by an exception) rolls everything back. Objects put in
the object store before the commit stay there (immutable, harmless); rows never point at missing
objects because the puts come first.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.orm import Session, sessionmaker

from storage.audit import AuditLog
from storage.documents import AgencyRepository, DocumentRepository
from storage.inbox import InboxRepository
from storage.outbox import OutboxRepository
from storage.registers import Registers


class UnitOfWork:
    session: Session
    agencies: AgencyRepository
    documents: DocumentRepository
    registers: Registers
    outbox: OutboxRepository
    inbox: InboxRepository
    audit: AuditLog

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def __enter__(self) -> UnitOfWork:
        self.session = s = self._sessions()
        self.agencies = AgencyRepository(s)
        self.documents = DocumentRepository(s)
        self.registers = Registers(s)
        self.outbox = OutboxRepository(s)
        self.inbox = InboxRepository(s)
        self.audit = AuditLog(s)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # close() ends (rolls back) an uncommitted transaction and detaches the objects WITHOUT
        # expiring them, so what a read-only unit of work loaded stays usable after the block.
        try:
            if exc_type is not None:
                self.session.rollback()
        finally:
            self.session.close()

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()
