"""An offline commune hub: documents queue at the province with back-off (shortened here), nothing
is lost, and when the hub comes back the queue drains in priority order (Hỏa tốc first).
Also: bounded attempts end in a visible failed state that an operator can retry
(``edoc node status`` / ``edoc node retry``)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select

from api.cluster import NAMED_COMMUNES, PROVINCE, NodeProcess, layout
from api.directive import document_json, sign_directive
from exchange_axis.config import WorkerSettings, load
from tests.exchange_helpers import all_have, db_counts, province_and_hub, wait_for


def _pair(tmp: Path, manifest, worker: WorkerSettings) -> dict[str, Path]:
    specs = province_and_hub()
    return layout(tmp, manifest, specs, worker=worker)


def _issue(province: NodeProcess, directive, number: str, priority: int) -> str:
    body = document_json(directive, PROVINCE, NAMED_COMMUNES, priority=priority)
    body["document"]["code"] = f"{number}/CT-UBND"
    with province.admin() as admin:
        return admin.call("POST", "/admin/v1/issue", json=body)["document_id"]


def _arrival_order(hub_path: Path) -> list[str]:
    from storage.db import Database
    from storage.db import models as m

    db = Database(load(hub_path).database_url)
    try:
        with db.sessions() as s:
            rows = s.execute(select(m.InboxItem.document_id).order_by(m.InboxItem.id)).scalars()
            return [r.rsplit(",", 1)[1] for r in rows]
    finally:
        db.dispose()


def test_offline_hub_queue_drains_in_priority_order(tmp_path: Path, pki_server,
                                                     reliability) -> None:
    directive = sign_directive(pki_server, lambda _n: "41")
    paths = _pair(tmp_path, pki_server, WorkerSettings(base_delay=0.3, max_delay=1.5,
                                                       max_attempts=100, poll_interval=0.1))
    province = NodeProcess(paths["province"]).start()
    hub = NodeProcess(paths["hub"])
    try:
        ids = [_issue(province, directive, n, p)
               for n, p in (("41", 0), ("42", 3), ("43", 1), ("44", 0), ("45", 4))]
        wait_for(lambda: db_counts(load(paths["province"]).database_url)["outbox"]
                 .get("pending", 0) == 5, 20, "all five queued")
        time.sleep(2.5)  # several failed attempts with back-off while the hub is down
        with province.admin() as admin:
            queue = admin.call("GET", "/admin/v1/queue")
        assert queue["counts"].get("delivered", 0) == 0
        assert queue["failures"] and all(f["attempts"] >= 1 for f in queue["failures"])
        hub.start()
        for doc_id in ids:
            wait_for(all_have(province, doc_id, "01"), 60, f"01 for {doc_id}")
        order = _arrival_order(paths["hub"])
        # by priority: Hỏa tốc hẹn giờ (4), Hỏa tốc (3), Khẩn (1), then the two normal ones
        assert order[:3] == ["45/CT-UBND", "42/CT-UBND", "43/CT-UBND"], order
        assert set(order[3:]) == {"41/CT-UBND", "44/CT-UBND"}, order
        reliability(documents_queued=len(ids), attempts_while_offline=max(
            f["attempts"] for f in queue["failures"]), arrival_order=" ".join(
            o.split("/")[0] for o in order))
    finally:
        province.stop()
        hub.stop()


def test_bounded_attempts_end_failed_and_operator_retry_delivers(tmp_path: Path,
                                                                 pki_server) -> None:
    directive = sign_directive(pki_server, lambda _n: "51")
    paths = _pair(tmp_path, pki_server, WorkerSettings(base_delay=0.1, max_delay=0.2,
                                                       max_attempts=3, poll_interval=0.1))
    province = NodeProcess(paths["province"]).start()
    hub = NodeProcess(paths["hub"])
    try:
        doc_id = _issue(province, directive, "51", 0)
        wait_for(lambda: db_counts(load(paths["province"]).database_url)["outbox"]
                 == {"failed": 1}, 30, "a visible failed row")
        status = subprocess.run(
            [sys.executable, "-m", "api.cli.main", "node", "status", "--config",
             str(paths["province"]), "--json"], capture_output=True, text=True, timeout=60)
        assert status.returncode == 0, status.stderr
        report = json.loads(status.stdout)
        assert report["counts"] == {"failed": 1}
        assert report["failures"][0]["attempts"] == 3 and report["failures"][0]["next_hop"] == "hub"
        hub.start()
        retry = subprocess.run(
            [sys.executable, "-m", "api.cli.main", "node", "retry", "--config",
             str(paths["province"])], capture_output=True, text=True, timeout=60)
        assert retry.returncode == 0 and "1" in retry.stdout, retry.stderr
        wait_for(all_have(province, doc_id, "01"), 60, "01 after operator retry")
    finally:
        province.stop()
        hub.stop()
