"""Province → district → commune and province → commune hub → communes, end to end.

Three real node processes on loopback with mutual TLS on PostgreSQL + SeaweedFS S3 (the same flow
on SQLite + local store is ``tests/test_demo.py``, which runs it through ``edoc demo``).
A directive is signed (leader, then numbered, then sealed), issued, verified at each node,
answered 01 automatically, accepted (03) by the clerks; the province's tracking shows it all.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from api.cluster import layout, running
from tests.exchange_helpers import (
    all_have,
    directive_for,
    issue,
    topology,
    tracking,
    wait_for,
)


def _run_flow(tmp: Path, manifest, **layout_kwargs) -> None:
    specs, recipients = topology(3)
    paths = layout(tmp, manifest, specs, **layout_kwargs)
    with running(paths) as nodes:
        province, hub = nodes["province"], nodes["hub"]
        directive = directive_for(province, manifest)
        doc_id = issue(province, directive, recipients)
        wait_for(all_have(province, doc_id, "01"), 60, "01 from every commune")
        track = tracking(province, doc_id)
        assert {r["agency_code"] for r in track["recipients"]} == {c for c, _ in recipients}
        for r in track["recipients"]:
            assert r["indication"] == "TOTAL_PASSED", r
            assert r["received_at"]
        with hub.admin() as admin:
            admin.call("POST", "/admin/v1/status", json={
                "document_id": doc_id, "recipients": [c for c, _ in recipients], "code": "03"})
        wait_for(all_have(province, doc_id, "03"), 60, "03 from every commune")
        numbers = tracking(province, doc_id)["numbers"]
        assert numbers["sent"] == len(recipients) == numbers["accepted"]
        assert numbers["received_same_day"] == len(recipients)
        assert numbers["signed_share"] == 1.0
        with hub.admin() as admin:
            inbox = admin.call("GET", "/admin/v1/inbox")
        assert sorted(i["agency_code"] for i in inbox) == sorted(c for c, _ in recipients)
        assert {i["state"] for i in inbox} == {"accepted"}
    return directive


@pytest.mark.postgres
@pytest.mark.s3
def test_directive_reaches_every_commune_postgres_s3(tmp_path: Path, pki_server,
                                                     s3_server) -> None:
    from tests.fixtures.db import create_pg_database, drop_pg_database

    urls: dict[str, str] = {}

    def database(name: str, _home: Path) -> str:
        urls[name] = create_pg_database("edoc_x")
        return urls[name]

    stores: dict[str, str] = {}

    def store(name: str, _home: Path) -> str:
        stores[name] = s3_server.url(s3_server.new_bucket_name(f"x-{name}"), retention_days=1)
        return stores[name]

    try:
        directive = _run_flow(tmp_path, pki_server, database_url=database, store_url=store)
    finally:
        for url in urls.values():
            drop_pg_database(url)
    from storage.objects import key_for_digest, open_store

    # every node that handled it holds the same bytes once, under its hash
    for name in ("hub", "district"):
        assert open_store(stores[name]).get(key_for_digest(directive.sha256)) == directive.pdf
