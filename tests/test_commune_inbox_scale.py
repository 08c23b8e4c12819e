"""A node hosting all 3,321 communes of a province answers one commune's inbox without reading
the others': on PostgreSQL, with every commune holding documents, the inbox page, its total and
the caller's unread count are planned on the per-agency index and touch only that commune's rows
(EXPLAIN ANALYZE: no sequential scan of documents, rows read bounded by the commune's own)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy import insert, text

from api.office.incoming import _UNREAD, _inbox_statements
from storage.db import make_engine, upgrade
from storage.db import models as m

pytestmark = pytest.mark.postgres

COMMUNES = 3321
PER_COMMUNE = 6


def _seed(url: str) -> int:
    """3,321 communes with their incoming documents and register entries; one commune's id."""
    engine = make_engine(url)
    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    try:
        with engine.begin() as conn:
            conn.execute(insert(m.Agency), [
                {"id": i + 1, "code": f"{i // 99:03d}.{i % 99 + 1:02d}.50.H41",
                 "name": f"Ủy ban nhân dân xã {i + 1}", "created_at": now}
                for i in range(COMMUNES)])
            docs, entries = [], []
            for i in range(COMMUNES * PER_COMMUNE):
                agency = i % COMMUNES + 1
                docs.append({"id": i + 1, "agency_id": agency, "direction": "incoming",
                             "subject": f"Văn bản {i}", "state": "arrived", "priority": 0,
                             "business_type": 0, "meta": {}, "version": 1, "created_at": now,
                             "updated_at": now})
                entries.append({"agency_id": agency, "year": 2026, "seq": i // COMMUNES + 1,
                                "arrived_at": now, "document_id": i + 1, "created_at": now})
            conn.execute(insert(m.Document), docs)
            conn.execute(insert(m.IncomingEntry), entries)
            conn.execute(text("ANALYZE"))
    finally:
        engine.dispose()
    return COMMUNES // 2


def _plan(conn: Any, statement: Any, params: dict[str, Any]) -> dict[str, Any]:
    compiled = statement.compile(dialect=conn.dialect)
    sql = f"EXPLAIN (ANALYZE, FORMAT JSON) {compiled}"
    values = {**compiled.params, **params}
    return conn.exec_driver_sql(sql, values).scalar()[0]["Plan"]


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(n for child in plan.get("Plans", []) for n in _nodes(child))]


def test_one_commune_inbox_reads_only_its_rows(pg_url):
    upgrade(pg_url)
    agency = _seed(pg_url)
    page, count = _inbox_statements((False,) * 7)
    engine = make_engine(pg_url)
    try:
        with engine.connect() as conn:
            for name, statement, params in (
                    ("page", page, {"agency": agency, "reader": 1, "limit": 20, "offset": 0}),
                    ("count", count, {"agency": agency}),
                    ("unread", _UNREAD, {"agency": agency, "reader": 1})):
                nodes = _nodes(_plan(conn, statement, params))
                on_documents = [n for n in nodes if n.get("Relation Name") == "documents"]
                assert on_documents, name
                described = json.dumps(on_documents, ensure_ascii=False)[:2000]
                assert all(n["Node Type"] != "Seq Scan" for n in on_documents), \
                    f"{name}: {described}"
                read = sum(n.get("Actual Rows", 0) * n.get("Actual Loops", 1)
                           + n.get("Rows Removed by Filter", 0) for n in on_documents)
                assert read <= 4 * PER_COMMUNE, f"{name} read {read} document rows: {described}"
    finally:
        engine.dispose()
