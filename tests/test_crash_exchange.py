"""Crash injection: a node dies like ``kill -9`` at the worst moments, restarts, and the document
is delivered exactly once, with no orphan rows and consistent statuses.

The crash points are hooks in the node (``crash_at`` in node.toml → ``os._exit``), so each case
hits its moment deterministically:
- the sender after committing the issue, before any send;
- the sender after the receiver answered, before it recorded the delivery (it resends: duplicate);
- the receiver after its commit, before the receipt went out (the sender retries: duplicate);
- the receiver mid-request, before its commit (the sender retries: first real delivery).
The randomized campaign (real SIGKILLs at random times) is in ``test_crash_campaign.py``.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import httpx
import pytest

from api.cluster import NAMED_COMMUNES, PROVINCE, NodeProcess, layout
from api.directive import document_json, sign_directive
from exchange_axis.config import WorkerSettings
from tests.exchange_helpers import (
    all_have,
    assert_consistent,
    province_and_hub,
    set_crash,
    statuses,
    wait_for,
)

FAST = WorkerSettings(base_delay=0.2, max_delay=1.0, max_attempts=50, poll_interval=0.1)


@pytest.fixture(scope="module")
def directive(pki_server):
    return sign_directive(pki_server, lambda _n: "21")


def _pair(tmp: Path, manifest) -> dict[str, Path]:
    specs = province_and_hub()
    return layout(tmp, manifest, specs, worker=FAST)


def _issue_body(directive, number: str) -> dict:
    body = document_json(directive, PROVINCE, NAMED_COMMUNES)
    body["document"]["code"] = f"{number}/CT-UBND"
    return body


def _db(path: Path) -> tuple[str, str]:
    from exchange_axis.config import load

    cfg = load(path)
    return cfg.database_url, cfg.store_url


@pytest.mark.parametrize("point", ["sender_after_commit", "sender_before_mark_delivered"])
def test_sender_crash_then_restart_delivers_exactly_once(tmp_path: Path, pki_server, directive,
                                                         point: str) -> None:
    paths = _pair(tmp_path, pki_server)
    set_crash(paths["province"], point)
    hub = NodeProcess(paths["hub"]).start()
    province = NodeProcess(paths["province"]).start()
    try:
        # the node dies under us: that is the point
        with province.admin() as admin, contextlib.suppress(httpx.HTTPError):
            admin.post("/admin/v1/issue", json=_issue_body(directive, "31"))
        province.proc.wait(30)
        assert province.proc.returncode == 137  # it really crashed at the hook
        set_crash(paths["province"], None)
        province = NodeProcess(paths["province"]).start()
        doc_id = f"{PROVINCE[0]},{directive.issue_date:%Y/%m/%d},31/CT-UBND"
        wait_for(all_have(province, doc_id, "01"), 60, "01 after restart")
        wait_for(lambda: _db_outbox_done(paths["province"]), 30, "outbox drained")
        hub_counts = assert_consistent(*_db(paths["hub"]))
        assert hub_counts["incoming_documents"] == len(NAMED_COMMUNES)
        assert hub_counts["inbox"] == 1
        sender = assert_consistent(*_db(paths["province"]))
        assert sender["outbox"] == {"delivered": 1}
        assert sender["deliveries"] == {"01": len(NAMED_COMMUNES)}
    finally:
        province.stop()
        hub.stop()


@pytest.mark.parametrize("point", ["after_receiver_commit", "receiver_before_commit"])
def test_receiver_crash_then_restart_delivers_exactly_once(tmp_path: Path, pki_server,
                                                           directive, point: str) -> None:
    paths = _pair(tmp_path, pki_server)
    set_crash(paths["hub"], point)
    hub = NodeProcess(paths["hub"]).start()
    province = NodeProcess(paths["province"]).start()
    try:
        with province.admin() as admin:
            doc_id = admin.call("POST", "/admin/v1/issue",
                                json=_issue_body(directive, "32"))["document_id"]
        hub.proc.wait(60)
        assert hub.proc.returncode == 137
        committed = point == "after_receiver_commit"
        assert _counts(paths["hub"])["inbox"] == (1 if committed else 0)
        assert set(statuses(province, doc_id).values()) == {"pending"}
        set_crash(paths["hub"], None)
        hub = NodeProcess(paths["hub"]).start()
        wait_for(all_have(province, doc_id, "01"), 60, "01 after the hub came back")
        hub_counts = assert_consistent(*_db(paths["hub"]))
        assert hub_counts["incoming_documents"] == len(NAMED_COMMUNES)
        assert hub_counts["inbox"] == 1
        sender = assert_consistent(*_db(paths["province"]))
        assert sender["outbox"] == {"delivered": 1}
    finally:
        province.stop()
        hub.stop()


def _counts(path: Path) -> dict:
    from tests.exchange_helpers import db_counts

    return db_counts(_db(path)[0])


def _db_outbox_done(path: Path) -> bool:
    outbox = _counts(path)["outbox"]
    return set(outbox) == {"delivered"}
