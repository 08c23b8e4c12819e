"""The schema exists only through Alembic: upgrade from empty, downgrade one step, upgrade again,
on SQLite and PostgreSQL; and the models agree with what the migrations built."""

from __future__ import annotations

import datetime as dt

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from storage.db import Database, current, downgrade, head, make_engine, upgrade
from storage.db.models import Base

TABLES = {
    "agencies", "documents", "document_files", "signatures", "register_counters",
    "outgoing_register", "incoming_register", "deliveries", "status_events", "outbox", "inbox",
    "audit_log", "audit_head", "audit_anchors",
    "users", "user_sessions", "login_throttle", "document_steps", "document_reads",
}  # fmt: skip
OFFICE = {"users", "user_sessions", "login_throttle", "document_steps", "document_reads"}


def tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_from_empty_then_downgrade_one_step(db_url: str) -> None:
    assert tables(db_url) == set()
    assert current(db_url) is None
    upgrade(db_url)
    assert current(db_url) == head()
    assert tables(db_url) == TABLES

    db = Database(db_url)
    with db.uow() as uow:  # data written before the downgrade survives it
        agency = uow.agencies.ensure("000.00.00.H41", "Ủy ban nhân dân tỉnh Nghệ An")
        uow.registers.issue_outgoing(agency.id, "QĐ-UBND", dt.datetime.now(dt.UTC))
        uow.audit.append("test", "create", "agency")
        uow.commit()
    db.dispose()

    downgrade(db_url, "0003")  # back before the e-office: its tables go, the rest stays
    assert current(db_url) != head()
    assert tables(db_url) == TABLES - OFFICE
    db = Database(db_url)
    with db.uow() as uow:
        assert [e.number for e in uow.registers.outgoing("000.00.00.H41", e_year())] == ["01"]
    db.dispose()

    upgrade(db_url)
    assert current(db_url) == head() and tables(db_url) == TABLES


def e_year() -> int:
    return dt.datetime.now(dt.timezone(dt.timedelta(hours=7))).year


def test_models_match_migrations(db_url: str) -> None:
    upgrade(db_url)
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(ctx, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_downgrade_to_base_leaves_nothing(db_url: str) -> None:
    upgrade(db_url)
    downgrade(db_url, "base")
    assert tables(db_url) == set()
