"""Inbox repository: each received package is recorded once.

The receiver keys a delivery on (sender, DocumentId, package hash). A duplicate (the sender retried
after a lost answer) is answered with the FIRST receipt, so delivery is idempotent. The insert is
``INSERT ... ON CONFLICT DO NOTHING``: under concurrency on PostgreSQL the second inserter waits
for the first transaction and then sees its row; SQLite serialises writers.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from storage.db.engine import dialect_name, upsert_insert
from storage.db.models import InboxItem, utcnow
from storage.errors import StorageError

#: the receiver's two statements per arrival, built once (building a statement with its
#: clauses cost more than running it on a hub's hot path)
_RECEIPT_OF = select(InboxItem.receipt).where(
    InboxItem.sender == bindparam("r_sender"),
    InboxItem.document_id == bindparam("r_document_id"),
    InboxItem.package_hash == bindparam("r_hash"),
)
_CLAIMED = ("sender", "document_id", "package_hash", "package_key", "receipt", "outcome",
            "reason", "local_document_id", "received_at")


@functools.cache
def _claim_statement(dialect: str) -> Any:
    table = InboxItem.__table__
    return (
        upsert_insert(dialect)(table)
        .values({name: bindparam(f"c_{name}") for name in _CLAIMED})
        .on_conflict_do_nothing(
            index_elements=[table.c.sender, table.c.document_id, table.c.package_hash]
        )
        .returning(table.c.id)
    )


@dataclass(frozen=True)
class Recorded:
    """Result of ``record_once``: the row, and whether this call created it."""

    item: InboxItem
    created: bool

    @property
    def receipt(self) -> bytes | None:
        return self.item.receipt


class InboxRepository:
    def __init__(self, session: Session | Connection) -> None:
        self.session = session

    def record_once(self, sender: str, document_id: str, package_hash: str,
                    receipt: bytes | None = None, **fields: Any) -> Recorded:
        """Record a received package; for a duplicate return the existing row (and receipt).
        ``fields``: those of ``claim``."""
        created = self.claim(sender, document_id, package_hash, receipt, **fields)
        item = self.find(sender, document_id, package_hash)
        assert item is not None  # inserted now or by a committed earlier transaction
        return Recorded(item, created=created)

    def claim(
        self,
        sender: str,
        document_id: str,
        package_hash: str,
        receipt: bytes | None = None,
        *,
        outcome: str | None = None,
        reason: str | None = None,
        package_key: str | None = None,
        local_document_id: int | None = None,
        now: dt.datetime | None = None,
    ) -> bool:
        """Insert the package's row unless (sender, DocumentId, hash) is already there; True if
        this call inserted it. One statement, no row loaded: the receiver's hot path."""
        stmt = _claim_statement(dialect_name(self.session))
        values = {"sender": sender, "document_id": document_id, "package_hash": package_hash,
                  "package_key": package_key, "receipt": receipt, "outcome": outcome,
                  "reason": reason, "local_document_id": local_document_id,
                  "received_at": now or utcnow()}
        params = {f"c_{name}": values[name] for name in _CLAIMED}
        return self.session.execute(stmt, params).scalar_one_or_none() is not None

    def receipt_of(self, sender: str, document_id: str, package_hash: str) -> bytes | None:
        """The receipt recorded for a package (None: not taken, or taken without receipt)."""
        return self.session.scalar(_RECEIPT_OF, {"r_sender": sender,
                                                 "r_document_id": document_id,
                                                 "r_hash": package_hash})

    def find(self, sender: str, document_id: str, package_hash: str) -> InboxItem | None:
        return self.session.scalar(
            select(InboxItem)
            .where(
                InboxItem.sender == sender,
                InboxItem.document_id == document_id,
                InboxItem.package_hash == package_hash,
            )
            .execution_options(populate_existing=True)
        )

    get = find

    def set_receipt(
        self,
        item_id: int,
        receipt: bytes,
        *,
        outcome: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Store the receipt (and outcome 01/02, reason) once built, if built after recording."""
        item = self._get(item_id)
        item.receipt = receipt
        if outcome is not None:
            item.outcome = outcome
        if reason is not None:
            item.reason = reason
        self.session.flush()

    def link_document(self, item_id: int, local_document_id: int) -> None:
        self._get(item_id).local_document_id = local_document_id
        self.session.flush()

    def _get(self, item_id: int) -> InboxItem:
        item = self.session.get(InboxItem, item_id)
        if item is None:
            raise StorageError(f"Không có mục inbox id={item_id}", f"no inbox item id={item_id}")
        return item
