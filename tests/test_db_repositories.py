"""Repositories and the unit of work on SQLite and PostgreSQL: a document's state change and its
outbox rows commit together; the outbox hands each due row to exactly one worker; the inbox
records a package once and answers duplicates with the first receipt; file rows only for stored
objects."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.db import Database
from storage.documents import StateConflict
from storage.errors import ObjectNotFound
from storage.inbox import InboxRepository
from storage.objects import key_for_bytes, open_store

UTC = dt.UTC
H41 = "000.00.00.H41"


@pytest.fixture
def db(migrated_db_url: str) -> Iterator[Database]:
    database = Database(migrated_db_url)
    yield database
    database.dispose()


def new_document(db: Database, state: str = "sealed") -> int:
    with db.uow() as uow:
        agency = uow.agencies.ensure(H41, "Ủy ban nhân dân tỉnh Nghệ An")
        doc = uow.documents.add(
            agency.id, "outgoing", subject="Chỉ thị về phòng, chống lụt bão", state=state,
            priority=1, meta={"độ khẩn": "Khẩn"},
        )  # fmt: skip
        uow.commit()
        return doc.id


def test_state_change_and_outbox_commit_together(db: Database) -> None:
    doc_id = new_document(db)
    with db.uow() as uow:
        uow.documents.set_state(doc_id, "issued", expected="sealed")
        uow.outbox.enqueue(
            next_hop="https://c1.example",
            package_bytes=b"<edXML/>",
            document_id=doc_id,
            recipients=["000.01.00.H41"],
        )
        uow.rollback()
    with db.uow() as uow:
        assert uow.documents.get(doc_id).state == "sealed"
        assert uow.outbox.find(document_id=doc_id) == []

    with pytest.raises(RuntimeError), db.uow() as uow:
        uow.documents.set_state(doc_id, "issued", expected="sealed")
        uow.outbox.enqueue(
            next_hop="https://c1.example", package_bytes=b"<edXML/>", document_id=doc_id
        )
        raise RuntimeError("crash before commit")
    with db.uow() as uow:
        assert uow.documents.get(doc_id).state == "sealed"
        assert uow.outbox.find(document_id=doc_id) == []

    with db.uow() as uow:
        uow.documents.set_state(doc_id, "issued", expected="sealed")
        for code in ("000.01.00.H41", "000.02.00.H41"):
            uow.outbox.enqueue(
                next_hop="https://hub.example",
                package_bytes=b"<edXML/>",
                document_id=doc_id,
                recipients=[code],
            )
        uow.commit()
    with db.uow() as uow:
        assert uow.documents.get(doc_id).state == "issued"
        assert len(uow.outbox.find(document_id=doc_id, state="pending")) == 2


def test_set_state_refuses_unexpected_state(db: Database) -> None:
    doc_id = new_document(db, state="draft")
    with db.uow() as uow, pytest.raises(StateConflict) as err:
        uow.documents.set_state(doc_id, "issued", expected="sealed")
    assert "draft" in err.value.message_en


def test_outbox_claim_order_lease_and_marks(db: Database) -> None:
    now = dt.datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
    with db.uow() as uow:
        low = uow.outbox.enqueue(
            next_hop="h", package_bytes=b"a", priority=0, not_before=now - dt.timedelta(minutes=5)
        )
        urgent = uow.outbox.enqueue(
            next_hop="h", package_bytes=b"b", priority=3, not_before=now - dt.timedelta(minutes=1)
        )
        later = uow.outbox.enqueue(
            next_hop="h", package_bytes=b"c", priority=4, not_before=now + dt.timedelta(minutes=1)
        )
        uow.commit()
    with db.uow() as uow:
        claimed = uow.outbox.claim_due(10, now, "w1")
        uow.commit()
    assert [c.id for c in claimed] == [urgent.id, low.id]  # most urgent first; `later` not due
    assert all(c.state == "sending" and c.attempts == 1 for c in claimed)

    with db.uow() as uow:
        assert uow.outbox.claim_due(10, now, "w2") == []  # nothing else due, lease not expired
        assert not uow.outbox.mark_delivered(urgent.id, worker="w2")  # not w2's row
        assert uow.outbox.mark_delivered(urgent.id, worker="w1", receipt=b"01", now=now)
        assert uow.outbox.mark_retry(
            low.id, "connection refused", now + dt.timedelta(seconds=30), worker="w1"
        )
        uow.commit()
    with db.uow() as uow:
        assert uow.outbox.get(urgent.id).state == "delivered"
        assert uow.outbox.get(urgent.id).receipt == b"01"
        row = uow.outbox.get(low.id)
        assert (row.state, row.last_error, row.claimed_by) == (
            "pending",
            "connection refused",
            None,
        )
        # due again after the back-off: claimed again, attempts counted
        again = uow.outbox.claim_due(10, now + dt.timedelta(minutes=2), "w1")
        assert sorted(c.id for c in again) == sorted([low.id, later.id])
        assert {c.id: c.attempts for c in again}[low.id] == 2
        assert uow.outbox.mark_failed(low.id, "gave up after 2 attempts", worker="w1")
        uow.commit()
    with db.uow() as uow:
        # `later` is held by w1 (crashed?): after the lease it is claimable by another worker
        stale = uow.outbox.claim_due(10, now + dt.timedelta(minutes=20), "w3")
        assert [c.id for c in stale] == [later.id] and stale[0].claimed_by == "w3"
        assert uow.outbox.counts() == {"delivered": 1, "failed": 1, "sending": 1}
        assert uow.outbox.requeue(low.id, now=now)
        uow.commit()
    with db.uow() as uow:
        row = uow.outbox.get(low.id)
        assert (row.state, row.attempts) == ("pending", 0)
        assert uow.outbox.recent_failures() == []


def test_concurrent_workers_claim_each_row_once(db: Database) -> None:
    with db.uow() as uow:
        for i in range(120):
            uow.outbox.enqueue(next_hop="h", package_bytes=str(i).encode())
        uow.commit()
    claimed: dict[int, str] = {}
    dupes: list[int] = []
    lock = threading.Lock()
    now = dt.datetime.now(UTC) + dt.timedelta(seconds=1)

    def worker(name: str) -> None:
        while True:
            with db.uow() as uow:
                batch = uow.outbox.claim_due(7, now, name)
                uow.commit()
            if not batch:
                return
            with lock:
                for item in batch:
                    if item.id in claimed:
                        dupes.append(item.id)
                    claimed[item.id] = name
            with db.uow() as uow:
                for item in batch:
                    assert uow.outbox.mark_delivered(item.id, worker=name)
                uow.commit()

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert dupes == [] and len(claimed) == 120
    with db.uow() as uow:
        assert uow.outbox.counts() == {"delivered": 120}


def test_inbox_records_once_and_returns_first_receipt(db: Database) -> None:
    h = "ab" * 32
    with db.uow() as uow:
        first = uow.inbox.record_once("000.00.00.H41", "doc-1", h, b"receipt-1", outcome="01")
        uow.commit()
    with db.uow() as uow:
        dup = uow.inbox.record_once("000.00.00.H41", "doc-1", h, b"receipt-2")
        other = uow.inbox.record_once("000.00.00.H41", "doc-1", "cd" * 32, None)
        uow.inbox.set_receipt(other.item.id, b"receipt-3")
        uow.commit()
    assert first.created and not dup.created and other.created
    assert dup.receipt == b"receipt-1" and dup.item.id == first.item.id
    assert dup.item.outcome == "01"
    with db.uow() as uow:
        assert uow.inbox.find("000.00.00.H41", "doc-1", "cd" * 32).receipt == b"receipt-3"


def test_inbox_concurrent_duplicates(db: Database) -> None:
    results = []
    barrier = threading.Barrier(6)

    def receive(i: int) -> None:
        barrier.wait()
        with db.uow() as uow:
            r = uow.inbox.record_once("peer", "doc-x", "ee" * 32, f"receipt-{i}".encode())
            uow.commit()
        results.append(r)

    threads = [threading.Thread(target=receive, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.created for r in results) == 1
    assert len({r.receipt for r in results}) == 1


def test_file_rows_only_for_stored_objects(db: Database, tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "objects"))
    doc_id = new_document(db)
    pdf = b"%PDF-1.7 signed original"
    with db.uow() as uow:
        row = uow.documents.store_file(store, doc_id, "main", "chi-thi.pdf", pdf, "application/pdf")
        uow.commit()
    assert row.object_key == key_for_bytes(pdf) and row.size == len(pdf)
    with db.uow() as uow, pytest.raises(ObjectNotFound):
        uow.documents.add_file(
            doc_id,
            "attachment",
            "x.pdf",
            key_for_bytes(b"never stored"),
            1,
            "application/pdf",
            store=store,
        )
    with db.uow() as uow:
        files = uow.documents.files(doc_id)
        assert [(f.role, f.name) for f in files] == [("main", "chi-thi.pdf")]
        assert store.get(files[0].object_key) == pdf


def test_signatures_deliveries_and_statuses(db: Database, tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "objects"))
    doc_id = new_document(db)
    report = {
        "indication": "TOTAL_PASSED",
        "summary_vi": "Chữ ký hợp lệ",
        "signer": "Nguyễn Văn An",
    }
    at = dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))
    with db.uow() as uow:
        f = uow.documents.store_file(store, doc_id, "main", "a.pdf", b"%PDF", "application/pdf")
        uow.documents.add_signature(
            f.id,
            "pades",
            "TOTAL_PASSED",
            report=report,
            signer_name="Nguyễn Văn An",
            signing_time=at,
            level="B-T",
        )
        uow.documents.delivery(doc_id, "000.01.00.H41")
        uow.documents.add_status(
            "000.01.00.H41", "01", at, document_id=doc_id, staff={"name": "Trần Thị Bình"}
        )
        uow.documents.add_status(
            "000.01.00.H41",
            "03",
            at + dt.timedelta(minutes=5),
            document_id=doc_id,
            signature_indication="TOTAL_PASSED",
        )
        # a late, older status does not move the delivery backwards
        uow.documents.add_status(
            "000.01.00.H41", "01", at - dt.timedelta(minutes=5), document_id=doc_id
        )
        uow.documents.add_status(
            "000.02.00.H41", "02", at, document_id=doc_id, description="Sai nơi nhận"
        )
        uow.commit()
    with db.uow() as uow:
        sig = uow.documents.signatures(f.id)[0]
        assert sig.report == report and sig.signing_time == at
        got = {
            d.recipient_code: (d.last_status, d.reason, d.signature_indication)
            for d in uow.documents.deliveries(doc_id)
        }
        assert got == {
            "000.01.00.H41": ("03", None, "TOTAL_PASSED"),
            "000.02.00.H41": ("02", "Sai nơi nhận", None),
        }
        assert [s.status_code for s in uow.documents.statuses(doc_id)] == ["01", "01", "02", "03"]


def test_naive_datetimes_refused(db: Database) -> None:
    with db.uow() as uow, pytest.raises(Exception, match="naive"):
        uow.outbox.enqueue(next_hop="h", package_bytes=b"x", not_before=dt.datetime(2026, 1, 1))


def test_a_reader_does_not_wait_for_a_writer(tmp_path: Path) -> None:
    """SQLite: writers take the write lock at BEGIN (IMMEDIATE); a reader (``Database.reader``,
    used for the receiver's duplicate checks) must not queue behind them: it reads the last
    committed snapshot at once."""
    import time

    from sqlalchemy import text

    from storage.db import upgrade

    url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    upgrade(url)
    db = Database(url)
    try:
        with db.sessions() as s, s.begin():
            InboxRepository(s).claim("peer", "doc-1", "aa" * 32, b"first receipt")
        with db.sessions() as writer:
            writer.begin()
            writer.execute(text("UPDATE inbox SET receipt = x'00' WHERE id < 0"))
            t = time.monotonic()
            with db.reader.connect() as c:
                got = InboxRepository(c).receipt_of("peer", "doc-1", "aa" * 32)
            waited = time.monotonic() - t
            writer.rollback()
        assert got == b"first receipt" and waited < 5  # busy_timeout is 30 s
        with db.engine.connect() as c:  # an ordinary connection would have queued
            assert c.get_execution_options().get("edoc_read_only") is None
    finally:
        db.dispose()


def test_an_arrival_aborted_by_a_deadlock_is_run_again(tmp_path: Path, monkeypatch) -> None:
    """PostgreSQL breaks a deadlock by aborting one transaction (SQLSTATE 40P01): the arrival
    wrote nothing, so the node runs it again instead of answering the sender 500; any other
    database error still fails at once."""
    from sqlalchemy.exc import OperationalError

    from exchange_axis.state import NodeState

    class PgError(Exception):
        def __init__(self, sqlstate: str) -> None:
            super().__init__(sqlstate)
            self.sqlstate = sqlstate

    state = NodeState(f"sqlite:///{tmp_path / 'n.sqlite'}", node_name="hub")
    calls = []

    def flaky(arrival, seal):
        calls.append(arrival)
        if len(calls) < 3:
            raise OperationalError("INSERT …", {}, PgError("40P01"))
        return b"receipt"

    monkeypatch.setattr(state, "_record_arrival", flaky)
    assert state.record_arrival("arrival", lambda numbers: b"") == b"receipt"
    assert len(calls) == 3
    calls.clear()

    def broken(arrival, seal):
        calls.append(arrival)
        raise OperationalError("INSERT …", {}, PgError("53100"))  # disk full: not transient

    monkeypatch.setattr(state, "_record_arrival", broken)
    with pytest.raises(OperationalError):
        state.record_arrival("arrival", lambda numbers: b"")
    assert len(calls) == 1
    state.db.dispose()


def test_sqlite_connections_are_tuned_for_a_hub(tmp_path: Path):
    """Every SQLite connection: WAL, full sync, and a page cache and memory map large enough
    that a hub's growing indexes are not re-read with a system call per page."""
    from storage.db.engine import SQLITE_CACHE_KIB, SQLITE_MMAP_BYTES, make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'hub.sqlite'}")
    try:
        for _ in range(2):  # a new connection each time (the pool's second one too)
            with engine.connect() as conn:
                pragma = conn.exec_driver_sql
                assert pragma("PRAGMA journal_mode").scalar() == "wal"
                assert pragma("PRAGMA synchronous").scalar() == 2  # FULL
                assert pragma("PRAGMA cache_size").scalar() == -SQLITE_CACHE_KIB
                assert pragma("PRAGMA mmap_size").scalar() == SQLITE_MMAP_BYTES
            engine.dispose()
    finally:
        engine.dispose()
