"""Crash campaign: ≥ 100 real ``kill -9`` of the sending and receiving nodes at random moments
while documents flow, each followed by a restart. At the end every document issued at the
province is held exactly once by every recipient, statuses agree, and no row is orphaned.

Marked ``campaign`` (deselected by default; run with ``pytest -m campaign``). The number of kills
is ``EDOC_CAMPAIGN_KILLS`` (default 100).
"""

from __future__ import annotations

import os
import random
import threading
import time
from pathlib import Path

import pytest

from api.cluster import NAMED_COMMUNES, PROVINCE, NodeProcess, layout
from api.directive import document_json, sign_directive
from exchange_axis.config import WorkerSettings, load
from tests.exchange_helpers import assert_consistent, db_counts, province_and_hub, wait_for

FAST = WorkerSettings(base_delay=0.1, max_delay=0.5, max_attempts=10_000, poll_interval=0.05)


@pytest.mark.campaign
@pytest.mark.timeout(3600)
def test_randomized_kills_deliver_exactly_once(tmp_path: Path, pki_server,
                                               reliability) -> None:
    kills_wanted = int(os.environ.get("EDOC_CAMPAIGN_KILLS", "100"))
    rng = random.Random(int(os.environ.get("EDOC_CAMPAIGN_SEED", "7")))
    directive = sign_directive(pki_server, lambda _n: "61")
    specs = province_and_hub()
    paths = layout(tmp_path, pki_server, specs, worker=FAST)
    nodes = {name: NodeProcess(p).start() for name, p in paths.items()}
    stop = threading.Event()
    issued_calls = [0]

    def issue_forever() -> None:
        n = 100
        while not stop.is_set():
            n += 1
            body = document_json(directive, PROVINCE, NAMED_COMMUNES, priority=n % 4)
            body["document"]["code"] = f"{n}/CT-UBND"
            try:
                with nodes["province"].admin() as admin:
                    admin.post("/admin/v1/issue", json=body, timeout=10)
                issued_calls[0] += 1
            except Exception:  # noqa: BLE001 - the province may be dead right now
                time.sleep(0.2)
            time.sleep(rng.uniform(0.0, 0.15))

    feeder = threading.Thread(target=issue_forever, daemon=True)
    feeder.start()
    kills = {"province": 0, "hub": 0}
    try:
        while sum(kills.values()) < kills_wanted:
            time.sleep(rng.uniform(0.05, 1.2))
            victim = rng.choice(["province", "hub", "hub"])
            nodes[victim].kill()
            kills[victim] += 1
            if rng.random() < 0.3:
                time.sleep(rng.uniform(0.1, 1.0))  # stay down a while: queues build up
            nodes[victim] = NodeProcess(paths[victim]).start()
        stop.set()
        feeder.join(30)
        province_db = load(paths["province"]).database_url
        wait_for(lambda: set(db_counts(province_db)["outbox"]) <= {"delivered"}, 180,
                 "province outbox drained")
        hub_db = load(paths["hub"]).database_url
        sent = assert_consistent(province_db, load(paths["province"]).store_url)
        held = assert_consistent(hub_db, load(paths["hub"]).store_url)
        assert sent["outgoing_documents"] > 20, sent
        assert held["incoming_documents"] == sent["outgoing_documents"] * len(NAMED_COMMUNES)
        assert held["incoming_per_agency_doc"] == 1
        assert held["inbox"] == sent["outgoing_documents"]
        assert sent["deliveries"] == {"01": sent["outgoing_documents"] * len(NAMED_COMMUNES)}
        reliability(kills_province=kills["province"], kills_hub=kills["hub"],
                    documents=sent["outgoing_documents"],
                    copies_held=held["incoming_documents"], lost=0, doubled=0)
        print(f"kills={kills} documents={sent['outgoing_documents']} "
              f"successful issue calls={issued_calls[0]}")
    finally:
        stop.set()
        for node in nodes.values():
            node.stop()
