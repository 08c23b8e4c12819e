"""A relayed document refused by the node it was relayed to still reaches its sender as a 02.

Topology: province → hub (two communes) → ward (one commune). The hub's routing table sends a
code the ward does not host (GHOST, a stale route) to the ward too, so the ward refuses that
recipient as "wrong recipient", a refusal only the last node can make.

A node that refuses every recipient of a package records nothing and sends no status (nothing is
stored for a refused package); before the fix the province then waited at "relayed" for ever.
Found by the hub-workers test timing out in CI with every ward pair missing and every outbox
drained. Now the relay, which holds the refusing node's signed receipt, reports each refused
recipient to the sender, in the transaction that marks its row delivered: once.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from api.cluster import LEGACY_COMMUNE, NAMED_COMMUNES, PROVINCE, NodeProcess, NodeSpec, layout
from api.directive import document_json, sign_directive
from exchange_axis.config import WorkerSettings
from storage.db import models as m
from tests.cluster_helpers import outbox_idle
from tests.exchange_helpers import scalars, statuses, wait_for

C1 = NAMED_COMMUNES[0]
WARD = LEGACY_COMMUNE
GHOST = ("000.09.32.H41", "Ủy ban nhân dân xã không còn trên nút phường")


def _events(db_url: str, document_id: str) -> Counter[str]:
    """"agency status reason" of every status the province recorded about the document."""
    e = m.StatusEvent
    return Counter(scalars(db_url, select(
        e.agency_code + " " + e.status_code + " " + func.coalesce(e.description, "-"))
        .where(e.external_document_id == document_id)))


def test_a_relayed_document_refused_whole_downstream_is_reported_to_its_sender(
        tmp_path: Path, pki_server) -> None:
    specs = [NodeSpec("province", "node-province", agencies=[PROVINCE],
                      routes=[("*.H41", "hub")], peers=["hub"]),
             NodeSpec("hub", "node-hub", agencies=NAMED_COMMUNES,
                      routes=[(WARD[0], "ward"), (GHOST[0], "ward")],
                      upstream="province", peers=["province", "ward"]),
             NodeSpec("ward", "node-district", agencies=[WARD], upstream="hub", peers=["hub"])]
    paths = layout(tmp_path, pki_server, specs, worker=WorkerSettings(poll_interval=0.1))
    nodes = {name: NodeProcess(paths[name]).start() for name in ("ward", "hub", "province")}
    province, hub = nodes["province"], nodes["hub"]
    number = iter(range(70, 99))
    directive = sign_directive(pki_server, lambda _n: str(next(number)))
    try:
        cases = {  # recipients → the statuses the province must end with
            "refused whole at the ward": ([GHOST], {GHOST[0]: "02"}),
            "refused in part at the ward": ([WARD, GHOST], {WARD[0]: "01", GHOST[0]: "02"}),
            "one at the hub, one refused at the ward": ([C1, GHOST],
                                                        {C1[0]: "01", GHOST[0]: "02"}),
        }
        sent = {}
        with province.admin() as admin:
            for what, (recipients, _) in cases.items():
                body = document_json(directive, PROVINCE, recipients)
                body["document"]["code"] = f"{next(number)}/CT-UBND"  # a DocumentId of its own
                sent[what] = admin.call("POST", "/admin/v1/issue", json=body)["document_id"]
        for what, (_, expected) in cases.items():
            wait_for(lambda d=sent[what], e=expected: statuses(province, d) == e, 60,
                     f"the province's statuses, {what}")
        wait_for(lambda: all(outbox_idle(n.cfg.database_url) for n in nodes.values()), 30,
                 "every outbox drained")
        for what, document_id in sent.items():
            events = _events(province.cfg.database_url, document_id)
            ghost = [e for e in events if e.startswith(f"{GHOST[0]} 02 ")]
            assert len(ghost) == 1 and events[ghost[0]] == 1, (what, events)  # once
            assert "Sai nơi nhận" in ghost[0] and "không thuộc nút ward" in ghost[0], ghost
        # the hub's audit says which delivery gave rise to the report
        reported = scalars(hub.cfg.database_url, select(m.AuditEntry.details).where(
            m.AuditEntry.action == "delivered",
            m.AuditEntry.details.contains("refusals_reported")))
        assert len(reported) == 2, reported  # the two packages the ward refused whole
    finally:
        for node in nodes.values():
            node.stop()
