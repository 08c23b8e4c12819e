"""Outbox repository: store-and-forward queue of packages to the next hop.

How the exchange uses it (each step its own short unit of work):

1. ``enqueue`` in the SAME transaction as the document's state change (the package object is put
   in the object store before, so the row never names a missing object);
2. ``claim_due(batch, now, worker)`` then commit: rows become ``sending``, owned by ``worker``,
   ``attempts`` + 1. PostgreSQL uses ``FOR UPDATE SKIP LOCKED`` so parallel workers take disjoint
   rows; SQLite serialises claimers with ``BEGIN IMMEDIATE``. A row left ``sending`` by a crashed
   worker is claimable again once its ``lease`` expired;
3. deliver outside any transaction, then ``mark_delivered`` / ``mark_retry`` / ``mark_failed``.
   The back-off policy is the caller's; these methods only refuse to touch a row the worker no
   longer owns (returns False).
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from storage.db.engine import is_postgres
from storage.db.models import OutboxItem, utcnow
from storage.errors import StorageError
from storage.objects.base import digest_of_key

DEFAULT_LEASE = dt.timedelta(minutes=5)


class OutboxRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def enqueue(
        self,
        *,
        next_hop: str,
        package_key: str | None = None,
        package_bytes: bytes | None = None,
        document_id: int | None = None,
        recipients: list[str] | tuple[str, ...] = (),
        kind: str = "document",
        priority: int = 0,
        not_before: dt.datetime | None = None,
    ) -> OutboxItem:
        """Queue a package (an object key, or inline bytes for small status packages) for
        ``next_hop``; ``recipients`` are the agency codes it carries (all hosted at that hop)."""
        if (package_key is None) == (package_bytes is None):
            raise StorageError(
                "Cần đúng một trong package_key hoặc package_bytes",
                "give exactly one of package_key or package_bytes",
            )
        if package_key is not None:
            sha = digest_of_key(package_key)
        else:
            sha = hashlib.sha256(package_bytes).hexdigest()  # type: ignore[arg-type]
        item = OutboxItem(
            document_id=document_id,
            kind=kind,
            recipients=list(recipients),
            next_hop=next_hop,
            package_key=package_key,
            package_bytes=package_bytes,
            package_sha256=sha,
            priority=priority,
            attempts=0,
            state="pending",
            next_attempt_at=not_before or utcnow(),
        )
        self.session.add(item)
        self.session.flush()
        return item

    def claim_due(
        self,
        batch: int,
        now: dt.datetime,
        worker: str,
        *,
        lease: dt.timedelta = DEFAULT_LEASE,
    ) -> list[OutboxItem]:
        """Take up to ``batch`` due rows, most urgent first (priority desc, then oldest)."""
        due = or_(
            and_(OutboxItem.state == "pending", OutboxItem.next_attempt_at <= now),
            and_(OutboxItem.state == "sending", OutboxItem.claimed_at <= now - lease),
        )
        stmt = (
            select(OutboxItem)
            .where(due)
            .order_by(OutboxItem.priority.desc(), OutboxItem.created_at, OutboxItem.id)
            .limit(batch)
            .execution_options(populate_existing=True)
        )
        if is_postgres(self.session):
            stmt = stmt.with_for_update(skip_locked=True)
        items = list(self.session.scalars(stmt))
        for item in items:
            item.state = "sending"
            item.claimed_by = worker
            item.claimed_at = now
            item.attempts += 1
        self.session.flush()
        return items

    def _finish(self, item_id: int, worker: str | None, **values) -> bool:
        cond = [OutboxItem.id == item_id, OutboxItem.state == "sending"]
        if worker is not None:
            cond.append(OutboxItem.claimed_by == worker)
        result = self.session.execute(
            update(OutboxItem)
            .where(*cond)
            .values(**values)
            .execution_options(synchronize_session="fetch")
        )
        return result.rowcount == 1

    def mark_delivered(
        self,
        item_id: int,
        *,
        worker: str | None = None,
        receipt: bytes | None = None,
        now: dt.datetime | None = None,
    ) -> bool:
        return self._finish(
            item_id,
            worker,
            state="delivered",
            delivered_at=now or utcnow(),
            receipt=receipt,
            last_error=None,
        )

    def mark_retry(
        self,
        item_id: int,
        error: str,
        next_attempt_at: dt.datetime,
        *,
        worker: str | None = None,
    ) -> bool:
        return self._finish(
            item_id,
            worker,
            state="pending",
            next_attempt_at=next_attempt_at,
            last_error=error,
            claimed_by=None,
            claimed_at=None,
        )

    def mark_failed(self, item_id: int, error: str, *, worker: str | None = None) -> bool:
        """Give up: the row stays visible as ``failed`` with its last error."""
        return self._finish(item_id, worker, state="failed", last_error=error)

    def requeue(
        self, item_id: int, *, now: dt.datetime | None = None, reset_attempts: bool = True
    ) -> bool:
        """An operator retries a failed row: pending again, due now, attempts reset (the old
        error stays in ``last_error`` until the next attempt)."""
        values: dict = {"state": "pending", "next_attempt_at": now or utcnow()}
        if reset_attempts:
            values["attempts"] = 0
        result = self.session.execute(
            update(OutboxItem)
            .where(OutboxItem.id == item_id, OutboxItem.state == "failed")
            .values(**values)
            .execution_options(synchronize_session="fetch")
        )
        return result.rowcount == 1

    add = enqueue  # the name the exchange helper asked for
    retry = requeue

    def recent_failures(self, limit: int = 50) -> list[OutboxItem]:
        """Failed rows, newest first, for the operator's view."""
        return list(
            self.session.scalars(
                select(OutboxItem)
                .where(OutboxItem.state == "failed")
                .order_by(OutboxItem.id.desc())
                .limit(limit)
            )
        )

    def get(self, item_id: int) -> OutboxItem | None:
        return self.session.get(OutboxItem, item_id, populate_existing=True)

    def find(
        self, *, state: str | None = None, document_id: int | None = None, limit: int = 1000
    ) -> list[OutboxItem]:
        stmt = select(OutboxItem).order_by(OutboxItem.id).limit(limit)
        if state is not None:
            stmt = stmt.where(OutboxItem.state == state)
        if document_id is not None:
            stmt = stmt.where(OutboxItem.document_id == document_id)
        return list(self.session.scalars(stmt.execution_options(populate_existing=True)))

    def counts(self) -> dict[str, int]:
        """Rows per state (for metrics and the operator's view)."""
        rows = self.session.execute(
            select(OutboxItem.state, func.count()).group_by(OutboxItem.state)
        )
        return {state: n for state, n in rows}
