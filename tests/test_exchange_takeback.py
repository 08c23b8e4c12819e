"""Take-back and revocation between two real nodes: the sender asks for a document back (13), the
recipients' clerks agree (15) or refuse (16); a revoke package cancels the original at every
recipient, which tells the sender (15) automatically."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from api.cluster import NAMED_COMMUNES, PROVINCE, NodeProcess, layout
from api.directive import document_json, sign_directive
from exchange_axis.config import WorkerSettings
from tests.exchange_helpers import all_have, province_and_hub, statuses, wait_for

C1, C2 = (c for c, _ in NAMED_COMMUNES)
DEPARTMENT = ("000.00.05.H41", "Sở Nội vụ tỉnh Nghệ An")  # hosted on the province's own node


def test_take_back_and_revoke(tmp_path: Path, pki_server) -> None:
    specs = province_and_hub(DEPARTMENT)
    paths = layout(tmp_path, pki_server, specs, worker=WorkerSettings(poll_interval=0.1))
    directive = sign_directive(pki_server, lambda _n: "81")
    hub = NodeProcess(paths["hub"]).start()
    province = NodeProcess(paths["province"]).start()
    try:
        with province.admin() as p, hub.admin() as h:
            doc_id = p.call("POST", "/admin/v1/issue", json=document_json(
                directive, PROVINCE, [*NAMED_COMMUNES, DEPARTMENT]))["document_id"]
            wait_for(all_have(province, doc_id, "01"), 30, "01 (two remote, one local)")
            local = [i for i in p.call("GET", "/admin/v1/inbox") if i["document_id"] == doc_id]
            assert [i["agency_code"] for i in local] == [DEPARTMENT[0]]
            p.call("POST", "/admin/v1/takeback", json={
                "document_id": doc_id, "recipients": [C1, C2], "reason": "Ban hành nhầm"})

            def states() -> dict[str, str]:
                return {i["agency_code"]: i["state"] for i in h.call("GET", "/admin/v1/inbox")
                        if i["document_id"] == doc_id}

            wait_for(lambda: set(states().values()) == {"take_back_requested"}, 30, "13 arrived")
            h.call("POST", "/admin/v1/status", json={"document_id": doc_id, "recipients": [C1],
                                                     "code": "15"})
            h.call("POST", "/admin/v1/status", json={"document_id": doc_id, "recipients": [C2],
                                                     "code": "16", "reason": "Đã triển khai"})
            wait_for(lambda: statuses(province, doc_id) == {C1: "15", C2: "16",
                                                            DEPARTMENT[0]: "01"}, 30, "15/16")
            assert states() == {C1: "withdrawn", C2: "take_back_requested"}

            # a revoke package: a signed decision that cancels the original everywhere
            revoke = document_json(replace(directive, number="82"), PROVINCE,
                                   [*NAMED_COMMUNES, DEPARTMENT])
            revoke["document"]["business"] = {"type": 1, "document_id": doc_id,
                                              "reason": "Thu hồi chỉ thị ban hành nhầm"}
            p.call("POST", "/admin/v1/issue", json=revoke)
            wait_for(lambda: set(states().values()) == {"revoked"}, 30, "original revoked")
            wait_for(lambda: [i["state"] for i in p.call("GET", "/admin/v1/inbox")
                              if i["document_id"] == doc_id] == ["revoked"], 30,
                     "the department's copy revoked too")
            wait_for(lambda: statuses(province, doc_id) == {C1: "15", C2: "15",
                                                            DEPARTMENT[0]: "15"}, 30,
                     "automatic 15 for the revoked original")
    finally:
        province.stop()
        hub.stop()
