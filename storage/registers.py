"""Registers (sổ văn bản): outgoing numbers and incoming arrival numbers.

Decree 30/2020: an agency numbers its documents from 01 on the first day of each calendar year to
31 December, consecutively. Two clerks issuing at the same moment must never get the same number,
and no number may be skipped. How:

* one counter row per (agency, register, year), bumped with a single
  ``INSERT ... ON CONFLICT DO UPDATE SET last = last + 1 RETURNING last`` — on PostgreSQL the row
  stays locked until the transaction ends, so concurrent issuers queue on it; on SQLite the
  transaction began with ``BEGIN IMMEDIATE`` (see ``storage.db.engine``), which serialises writers;
* the register entry is inserted in the SAME transaction, so a rollback returns the number too:
  no gap, no duplicate (a unique constraint on (agency, year, seq) backs this up).

The year is the calendar year in Vietnam (+07:00) of the issue/arrival time.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, text
from sqlalchemy.orm import Session

from edoc.document import VIETNAM
from storage.db.engine import dialect_name, is_postgres, upsert_insert
from storage.db.models import (
    Agency,
    IncomingEntry,
    OutgoingEntry,
    RegisterCounter,
    UtcDateTime,
    utcnow,
)
from storage.errors import StorageError


class RegisterError(StorageError):
    """A register operation refused (unknown agency, naive time, bad notation)."""


@dataclass(frozen=True)
class Issued:
    """An outgoing number just taken: ``number`` + "/" + ``notation`` is the số/ký hiệu."""

    id: int
    agency_id: int
    year: int
    seq: int
    number: str
    notation: str
    issued_at: dt.datetime
    document_id: int | None

    @property
    def full(self) -> str:
        return f"{self.number}/{self.notation}"


_PG_ISSUE = text(
    """
    WITH c AS (
        INSERT INTO register_counters (agency_id, register, year, last)
        VALUES (:agency_id, 'outgoing', :year, 1)
        ON CONFLICT (agency_id, register, year)
        DO UPDATE SET last = register_counters.last + 1
        RETURNING last
    )
    INSERT INTO outgoing_register
        (agency_id, year, seq, number, notation, document_id, subject, issued_at, created_at)
    SELECT :agency_id, :year, c.last,
           CASE WHEN c.last < 10 THEN '0' || c.last::text ELSE c.last::text END,
           :notation, :document_id, :subject, :issued_at, :created_at
    FROM c
    RETURNING id, seq
    """
).bindparams(
    bindparam("issued_at", type_=UtcDateTime()), bindparam("created_at", type_=UtcDateTime())
)


def register_year(at: dt.datetime) -> int:
    """The calendar year of ``at`` in Vietnam: 31/12 23:30 +07:00 still belongs to that year."""
    if at.tzinfo is None:
        raise RegisterError(
            "Thời điểm phải có múi giờ (ví dụ +07:00)",
            "time must be timezone-aware (e.g. +07:00)",
        )
    return at.astimezone(VIETNAM).year


def format_number(seq: int) -> str:
    """Numbers are written with at least two digits: 01, 02, ..., 99, 100."""
    return f"{seq:02d}"


#: the counter statement per dialect, built once (a hub takes a number for every recipient of
#: every arrival; building the statement cost more than running it)
@functools.cache
def _counter_statement(dialect: str) -> Any:
    table = RegisterCounter.__table__
    return (
        upsert_insert(dialect)(table)
        .values(agency_id=bindparam("c_agency"), register=bindparam("c_register"),
                year=bindparam("c_year"), last=1)
        .on_conflict_do_update(
            index_elements=[table.c.agency_id, table.c.register, table.c.year],
            set_={"last": table.c.last + 1},
        )
        .returning(table.c.last)
    )


def next_value(session: Session | Connection, agency_id: int, register: str, year: int) -> int:
    """Atomically take the next value of a counter (1 for a new agency/year)."""
    stmt = _counter_statement(dialect_name(session))
    return int(session.execute(stmt, {"c_agency": agency_id, "c_register": register,
                                      "c_year": year}).scalar_one())


_INSERT_INCOMING = insert(IncomingEntry.__table__).returning(IncomingEntry.__table__.c.id)


class Registers:
    """Repository of both registers, working inside the caller's session (unit of work).
    The arrival path passes the session's Connection: its Core statements cost half as much
    there; the ORM-returning queries need the Session."""

    def __init__(self, session: Session | Connection) -> None:
        self.session = session

    def _agency_id(self, agency: int | str) -> int:
        if isinstance(agency, int):
            return agency
        found = self.session.scalar(select(Agency.id).where(Agency.code == agency))
        if found is None:
            raise RegisterError(
                f"Chưa có cơ quan với mã định danh {agency} trong cơ sở dữ liệu",
                f"no agency with code {agency} in the database",
            )
        return found

    def issue_outgoing(
        self,
        agency: int | str,
        notation: str,
        issued_at: dt.datetime,
        *,
        document_id: int | None = None,
        subject: str | None = None,
    ) -> Issued:
        """Give the next outgoing number of the agency for the year of ``issued_at``.

        Committed with the caller's unit of work; a rollback gives the number back. Commit soon:
        other issuers of the same agency wait for this transaction.
        """
        notation = (notation or "").strip()
        if not notation or "/" in notation:
            raise RegisterError(
                f"Ký hiệu văn bản không hợp lệ: {notation!r} (ví dụ: QĐ-UBND)",
                f"invalid notation {notation!r} (e.g. QĐ-UBND)",
            )
        agency_id = self._agency_id(agency)
        year = register_year(issued_at)
        params = {
            "agency_id": agency_id,
            "year": year,
            "notation": notation,
            "document_id": document_id,
            "subject": subject,
            "issued_at": issued_at,
            "created_at": utcnow(),
        }
        if is_postgres(self.session):
            # one round trip: the counter row is locked for the shortest possible time
            row = self.session.execute(_PG_ISSUE, params).one()
            entry_id, seq = row.id, row.seq
        else:
            seq = next_value(self.session, agency_id, "outgoing", year)
            entry_id = self.session.execute(
                insert(OutgoingEntry).values(seq=seq, number=format_number(seq), **params)
            ).inserted_primary_key[0]
        return Issued(
            id=entry_id,
            agency_id=agency_id,
            year=year,
            seq=seq,
            number=format_number(seq),
            notation=notation,
            issued_at=issued_at,
            document_id=document_id,
        )

    def register_incoming(
        self,
        agency: int | str,
        arrived_at: dt.datetime,
        *,
        document_id: int | None = None,
        sender_code: str | None = None,
        sender_name: str | None = None,
        original_number: str | None = None,
        subject: str | None = None,
    ) -> IncomingEntry:
        """Give the next arrival number (số đến) of the agency for the year of ``arrived_at``."""
        agency_id = self._agency_id(agency)
        year = register_year(arrived_at)
        seq = next_value(self.session, agency_id, "incoming", year)
        values = {"agency_id": agency_id, "year": year, "seq": seq, "arrived_at": arrived_at,
                  "document_id": document_id, "sender_code": sender_code,
                  "sender_name": sender_name, "original_number": original_number,
                  "subject": subject, "created_at": utcnow()}
        # a Core insert (one per recipient of every arrival at a hub: the ORM's flush cost more
        # than the statement); the returned entry is detached, a record of what was written
        entry_id = self.session.execute(_INSERT_INCOMING, values).scalar_one()
        return IncomingEntry(id=entry_id, **values)

    def outgoing(self, agency: int | str, year: int) -> list[OutgoingEntry]:
        agency_id = self._agency_id(agency)
        return list(
            self.session.scalars(
                select(OutgoingEntry)
                .where(OutgoingEntry.agency_id == agency_id, OutgoingEntry.year == year)
                .order_by(OutgoingEntry.seq)
            )
        )

    def incoming(self, agency: int | str, year: int) -> list[IncomingEntry]:
        agency_id = self._agency_id(agency)
        return list(
            self.session.scalars(
                select(IncomingEntry)
                .where(IncomingEntry.agency_id == agency_id, IncomingEntry.year == year)
                .order_by(IncomingEntry.seq)
            )
        )
