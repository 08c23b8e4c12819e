"""Peer identity is authorization, by the routing table: a downstream node may speak only for
the agencies a route leads to through it.

A hub hosting two communes has the province upstream and a ward node downstream (one commune,
routed to it by code). The ward's certificate is genuine and pinned, so every refusal below is
decided by what the ward may say, not by who it is: it may not send a document "from" the
province, nor a status "by" an agency the hub reaches upstream; its own commune's status is
taken. Each refusal is a 02 with the reason, stores nothing and writes an audit entry.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from api.cluster import (
    DISTRICT,
    LEGACY_COMMUNE,
    NAMED_COMMUNES,
    PROVINCE,
    NodeProcess,
    NodeSpec,
    layout,
)
from edoc.document import (
    Attachment,
    Document,
    DocumentCode,
    DocumentPackage,
    Organization,
    TraceHeader,
    now_vietnam,
)
from edoc.edxml import build
from tests.test_exchange_security import _audited_refusals, _post, _receipt, _status, _stored

C1, C2 = NAMED_COMMUNES
WARD = LEGACY_COMMUNE


@pytest.fixture(scope="module")
def hub_with_ward(tmp_path_factory: pytest.TempPathFactory, pki_server):
    tmp = tmp_path_factory.mktemp("peer-authz")
    specs = [NodeSpec("hub", "node-hub", agencies=[C1, C2], routes=[(WARD[0], "ward")],
                      upstream="province", peers=["province", "ward"]),
             NodeSpec("province", "node-province", agencies=[PROVINCE], peers=["hub"]),
             NodeSpec("ward", "node-district", agencies=[WARD], upstream="hub", peers=["hub"])]
    paths = layout(tmp, pki_server, specs)
    node = NodeProcess(paths["hub"]).start()
    yield node, NodeProcess(paths["ward"]).cfg, tmp
    node.stop()


def test_a_downstream_peer_speaks_only_for_agencies_routed_to_it(hub_with_ward,
                                                                  reliability) -> None:
    node, ward, tmp = hub_with_ward
    before = _stored(node, tmp)
    seen = len(_audited_refusals(node))
    posing = build(DocumentPackage(
        document=replace(Document(sender=Organization(*PROVINCE), recipients=[Organization(*C1)],
                                  subject="Chỉ thị giả danh tỉnh",
                                  code=DocumentCode("11", "CT-UBND"),
                                  promulgation_date=dt.date.today()), document_id=None),
        traces=[TraceHeader(PROVINCE[0], now_vietnam())],
        attachments=[Attachment("11.pdf", b"%PDF-1.7 not even looked at")]))
    attempts = {
        "a document 'from' the province": (posing, C1[0]),
        "a status 'by' an agency upstream": (
            _status(DISTRICT, "000.00.00.H41,2026/any", PROVINCE, "03"), PROVINCE[0]),
    }
    for what, (body, answered_for) in attempts.items():
        receipt = _receipt(node, _post(node, ward.tls, body))
        outcome = {o.agency_code: o for o in receipt.recipients}[answered_for]
        assert outcome.status == "02", (what, outcome)
        assert "no route to it through ward" in outcome.reason_en, (what, outcome)
        assert "speaks_for" in outcome.reason_vi, (what, outcome)
    assert _stored(node, tmp) == before
    audited = _audited_refusals(node)[seen:]
    assert len(audited) == len(attempts)
    assert all(a["came_from"] == "ward" for a in audited), audited

    # the ward's own commune reporting on the province's document is its to say: relayed on
    own = _receipt(node, _post(node, ward.tls,
                               _status(WARD, "000.00.00.H41,2026/real", PROVINCE, "03")))
    assert [o.status for o in own.recipients] != ["02"], own
    assert len(_audited_refusals(node)) == seen + len(attempts)
    reliability(attempts_refused=len(audited), stored_by_refusals=0)
