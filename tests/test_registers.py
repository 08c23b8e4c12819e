"""Registers: concurrent issuers never share a number nor leave a gap; numbering restarts at 01
each calendar year (in Vietnam time); a rolled-back issue gives its number back."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy.exc import IntegrityError

from storage.db import Database
from storage.registers import RegisterError, format_number, register_year

VN = dt.timezone(dt.timedelta(hours=7))
H41 = "000.00.00.H41"
C1 = "000.01.00.H41"


@pytest.fixture
def db(migrated_db_url: str) -> Iterator[Database]:
    database = Database(migrated_db_url, pool_size=10)
    with database.uow() as uow:
        uow.agencies.ensure(H41, "Ủy ban nhân dân tỉnh Nghệ An")
        uow.agencies.ensure(C1, "Ủy ban nhân dân xã 01")
        uow.commit()
    yield database
    database.dispose()


def issue_many(db: Database, threads: int, per_thread: int, at: dt.datetime) -> list[int]:
    got: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker() -> None:
        try:
            for _ in range(per_thread):
                with db.uow() as uow:
                    e = uow.registers.issue_outgoing(H41, "QĐ-UBND", at, subject="Chỉ thị")
                    uow.commit()
                with lock:
                    got.append(e.seq)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert not errors, errors[0]
    return got


@pytest.mark.postgres
def test_8_threads_x_500_on_postgres_give_4000_consecutive_numbers(pg_url: str) -> None:
    from storage.db import upgrade

    upgrade(pg_url)
    database = Database(pg_url, pool_size=8)
    with database.uow() as uow:
        uow.agencies.ensure(H41, "Ủy ban nhân dân tỉnh Nghệ An")
        uow.commit()
    try:
        at = dt.datetime(2026, 3, 1, 9, 0, tzinfo=VN)
        got = issue_many(database, 8, 500, at)
        assert sorted(got) == list(range(1, 4001))
        with database.uow() as uow:
            entries = uow.registers.outgoing(H41, 2026)
        assert [e.seq for e in entries] == list(range(1, 4001))
        assert [e.number for e in entries[:3]] == ["01", "02", "03"]
        assert len({(e.number, e.notation) for e in entries}) == 4000
    finally:
        database.dispose()


def test_concurrent_issuers_on_both_databases(db: Database) -> None:
    at = dt.datetime(2026, 5, 2, 8, 0, tzinfo=VN)
    got = issue_many(db, 4, 50, at)
    assert sorted(got) == list(range(1, 201))


def test_year_rollover_restarts_at_01_in_vietnam_time(db: Database) -> None:
    last_evening = dt.datetime(2026, 12, 31, 23, 30, tzinfo=VN)
    new_year = dt.datetime(2027, 1, 1, 0, 10, tzinfo=VN)  # still 2026 in UTC
    assert new_year.astimezone(dt.UTC).year == 2026
    with db.uow() as uow:
        a = uow.registers.issue_outgoing(H41, "QĐ-UBND", last_evening)
        b = uow.registers.issue_outgoing(H41, "CT-UBND", last_evening)
        c = uow.registers.issue_outgoing(H41, "QĐ-UBND", new_year)
        d = uow.registers.issue_outgoing(H41, "QĐ-UBND", new_year + dt.timedelta(hours=1))
        e = uow.registers.issue_outgoing(C1, "QĐ-UBND", new_year)  # another agency: its own 01
        uow.commit()
    assert (a.year, a.number, b.number) == (2026, "01", "02")
    assert (c.year, c.number, d.number) == (2027, "01", "02")
    assert (e.year, e.number) == (2027, "01")


def test_rollback_returns_the_number(db: Database) -> None:
    at = dt.datetime(2026, 6, 1, tzinfo=VN)
    with db.uow() as uow:
        assert uow.registers.issue_outgoing(H41, "QĐ-UBND", at).number == "01"
        uow.rollback()
    with db.uow() as uow:
        assert uow.registers.issue_outgoing(H41, "QĐ-UBND", at).number == "01"
        uow.commit()
    with db.uow() as uow:
        assert uow.registers.issue_outgoing(H41, "QĐ-UBND", at).number == "02"
        uow.commit()


def test_number_and_notation_unique(db: Database) -> None:
    at = dt.datetime(2026, 7, 1, tzinfo=VN)
    with db.uow() as uow:
        entry = uow.registers.issue_outgoing(H41, "QĐ-UBND", at)
        uow.commit()
    from storage.db.models import OutgoingEntry

    with db.uow() as uow:
        uow.session.add(
            OutgoingEntry(
                agency_id=entry.agency_id, year=2026, seq=999, number=entry.number,
                notation="QĐ-UBND", issued_at=at,
            )
        )  # fmt: skip
        with pytest.raises(IntegrityError):
            uow.session.flush()


def test_incoming_register(db: Database) -> None:
    arrived = dt.datetime(2026, 8, 3, 14, 5, tzinfo=VN)
    with db.uow() as uow:
        first = uow.registers.register_incoming(
            C1, arrived, sender_code=H41, original_number="12/CT-UBND", subject="Về việc ..."
        )
        second = uow.registers.register_incoming(C1, arrived + dt.timedelta(minutes=1))
        uow.commit()
    assert (first.seq, second.seq, first.year) == (1, 2, 2026)
    with db.uow() as uow:
        rows = uow.registers.incoming(C1, 2026)
        assert [r.original_number for r in rows] == ["12/CT-UBND", None]
        assert rows[0].arrived_at == arrived  # aware, same instant


def test_bad_input_is_explained(db: Database) -> None:
    with db.uow() as uow:
        with pytest.raises(RegisterError) as err:
            uow.registers.issue_outgoing("000.99.00.H41", "QĐ-UBND", dt.datetime.now(VN))
        assert "Chưa có cơ quan" in err.value.message_vi
        with pytest.raises(RegisterError):
            uow.registers.issue_outgoing(H41, "12/QĐ-UBND", dt.datetime.now(VN))
        with pytest.raises(RegisterError):
            register_year(dt.datetime(2026, 1, 1))
    assert format_number(7) == "07" and format_number(123) == "123"


def test_the_numbering_statements_run_on_the_sessions_connection(db: Database) -> None:
    """The arrival path hands Registers the session's Connection (its statements cost half as
    much there): taking numbers works on it, on SQLite and PostgreSQL, inside the session's
    transaction."""
    from storage.registers import Registers

    at = dt.datetime(2026, 9, 1, 9, 0, tzinfo=VN)
    with db.uow() as uow:
        c1 = uow.agencies.ensure(C1, "Ủy ban nhân dân xã 01").id
        on_conn = Registers(uow.session.connection())
        arrived = [on_conn.register_incoming(c1, at, sender_code=H41).seq for _ in range(2)]
        issued = on_conn.issue_outgoing(c1, "CV-UBND", at, subject="Trả lời")
        uow.commit()
    assert arrived == [1, 2] and issued.number == "01"
    with db.uow() as uow:
        assert [r.seq for r in uow.registers.incoming(C1, 2026)] == [1, 2]
        assert [r.number for r in uow.registers.outgoing(C1, 2026)] == ["01"]
