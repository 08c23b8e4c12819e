"""Audit log: any edited, deleted or reordered row is detected and the first bad one named, on
SQLite and PostgreSQL; the head is anchored by a time-stamp callable (a real RFC 3161-style token
is the api's business; here an HMAC stands in for the TSA and is checked by its verifier)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from storage.db import Database

KEY = b"test-tsa-key"


def fake_tsa(message: bytes) -> bytes:
    return hmac.new(KEY, message, hashlib.sha256).digest()


def fake_verify(message: bytes, token: bytes) -> bool:
    return hmac.compare_digest(fake_tsa(message), token)


@pytest.fixture
def db(migrated_db_url: str) -> Iterator[Database]:
    database = Database(migrated_db_url)
    with database.uow() as uow:
        for i in range(1, 11):
            uow.audit.append(
                "văn thư Trần Thị Bình", "issue", f"document:{i}",
                {"số": f"{i:02d}/QĐ-UBND", "trích yếu": "Về việc phòng, chống lụt bão"},
            )  # fmt: skip
        uow.commit()
    yield database
    database.dispose()


def verify(db: Database, **kw):
    with db.uow() as uow:
        return uow.audit.verify(**kw)


def sql(db: Database, statement: str, **params) -> None:
    with db.engine.begin() as conn:
        conn.execute(text(statement), params)


def test_intact_chain_verifies(db: Database) -> None:
    report = verify(db)
    assert report.ok and report.entries == 10 and report.first_bad is None
    assert "nguyên vẹn" in report.summary()


def test_edited_row_is_named(db: Database) -> None:
    sql(db, "UPDATE audit_log SET details = :d WHERE seq = 4", d='{"số":"99/QĐ-UBND"}')
    report = verify(db)
    assert not report.ok and report.first_bad == 4
    assert "đã bị sửa" in report.reason_vi and "altered" in report.reason_en


def test_edited_row_with_recomputed_hash_breaks_the_next_link(db: Database) -> None:
    from storage.audit import entry_hash

    with db.uow() as uow:
        e = uow.audit.entries()[5]  # seq 6
        new_hash = entry_hash(e.seq, e.at, "kẻ gian", e.action, e.subject, e.details, e.prev_hash)
    sql(db, "UPDATE audit_log SET actor = 'kẻ gian', hash = :h WHERE seq = 6", h=new_hash)
    report = verify(db)
    assert not report.ok and report.first_bad == 7


def test_deleted_row_is_named(db: Database) -> None:
    sql(db, "DELETE FROM audit_log WHERE seq = 3")
    report = verify(db)
    assert not report.ok and report.first_bad == 4  # the entry after the hole
    assert "3..3" in report.reason_en


def test_deleted_and_renumbered_rows_detected(db: Database) -> None:
    sql(db, "DELETE FROM audit_log WHERE seq = 3")
    for seq in range(4, 11):
        sql(db, "UPDATE audit_log SET seq = :n WHERE seq = :o", n=seq - 1, o=seq)
    sql(db, "UPDATE audit_head SET seq = 9")
    report = verify(db)
    assert not report.ok and report.first_bad == 3


def test_reordered_rows_detected(db: Database) -> None:
    sql(db, "UPDATE audit_log SET seq = 1000 WHERE seq = 5")
    sql(db, "UPDATE audit_log SET seq = 5 WHERE seq = 8")
    sql(db, "UPDATE audit_log SET seq = 8 WHERE seq = 1000")
    report = verify(db)
    assert not report.ok and report.first_bad == 5


def test_truncated_tail_detected(db: Database) -> None:
    sql(db, "DELETE FROM audit_log WHERE seq >= 9")
    report = verify(db)
    assert not report.ok and report.first_bad == 9


def test_anchor_catches_a_rewritten_tail(db: Database) -> None:
    with db.uow() as uow:
        anchor = uow.audit.anchor(fake_tsa)
        uow.commit()
    assert anchor.seq == 10 and verify(db, token_verifier=fake_verify).ok
    # an attacker truncates the tail AND fixes the head row: only the anchor notices
    with db.uow() as uow:
        e8 = uow.audit.entries()[7]
    sql(db, "DELETE FROM audit_log WHERE seq > 8")
    sql(db, "UPDATE audit_head SET seq = 8, hash = :h", h=e8.hash)
    report = verify(db, token_verifier=fake_verify)
    assert not report.ok and report.first_bad == 10
    assert "anchor" in report.reason_en


def test_forged_token_detected(db: Database) -> None:
    with db.uow() as uow:
        uow.audit.anchor(fake_tsa)
        uow.commit()
    sql(db, "UPDATE audit_anchors SET token = :t", t=b"forged")
    assert verify(db).ok  # without a verifier only the chain is checked
    report = verify(db, token_verifier=fake_verify)
    assert not report.ok and report.first_bad == 10


def test_anchor_due(db: Database) -> None:
    hour = dt.timedelta(hours=1)
    with db.uow() as uow:
        assert uow.audit.anchor_due(hour) is not None  # never anchored
        uow.audit.anchor(fake_tsa)
        assert uow.audit.anchor_due(hour) is None  # head did not move
        uow.audit.append("x", "y", "z")
        assert uow.audit.anchor_due(hour) is None  # too soon
        assert uow.audit.anchor_due(dt.timedelta(0)) == uow.audit.head()
        uow.commit()


def test_concurrent_appends_keep_one_chain(db: Database) -> None:
    def worker(i: int) -> None:
        for j in range(15):
            with db.uow() as uow:
                uow.audit.append(f"worker-{i}", "touch", f"doc:{j}")
                uow.commit()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = verify(db)
    assert report.ok and report.entries == 70


def test_rolled_back_append_leaves_no_trace(db: Database) -> None:
    with db.uow() as uow:
        uow.audit.append("x", "y", "z")
        uow.rollback()
    with db.uow() as uow:
        assert uow.audit.head()[0] == 10
    assert verify(db).ok
