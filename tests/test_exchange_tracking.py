"""Tracking at the sender: latest status per recipient and the leaders' numbers (sent, received
the same day, accepted, rejected with reasons, done early / on time / late, share signed)."""

from __future__ import annotations

import datetime as dt

from edoc.document import VIETNAM
from exchange_axis.tracking import DocumentTrack, StatusEvent, fold, leaders_numbers


def _t(day: int, hour: int = 9) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, tzinfo=VIETNAM)


def test_latest_status_and_leaders_numbers() -> None:
    due = dt.date(2026, 11, 20)
    a = fold(DocumentTrack("A", _t(10), due, True), [
        StatusEvent("c1", "pending", _t(10)), StatusEvent("c2", "pending", _t(10)),
        StatusEvent("c3", "pending", _t(10)), StatusEvent("c4", "pending", _t(10)),
        StatusEvent("c1", "01", _t(10, 10), indication="TOTAL_PASSED"),
        StatusEvent("c1", "03", _t(10, 11)), StatusEvent("c1", "06", _t(19)),
        StatusEvent("c2", "01", _t(11)), StatusEvent("c2", "03", _t(11, 10)),
        StatusEvent("c2", "06", _t(20)),
        StatusEvent("c3", "02", _t(10, 12), reason="Sai nơi nhận"),
        StatusEvent("c4", "03", _t(10, 13)), StatusEvent("c4", "01", _t(10, 14)),  # crossed
        StatusEvent("c4", "06", _t(22)),
    ])
    assert {c: r.status for c, r in a.recipients.items()} == {
        "c1": "06", "c2": "06", "c3": "02", "c4": "06"}
    assert a.recipients["c1"].indication == "TOTAL_PASSED"
    b = fold(DocumentTrack("B", _t(12), None, False), [StatusEvent("c1", "pending", _t(12))])
    n = leaders_numbers([a, b])
    assert n["documents"] == 2 and n["signed_share"] == 0.5
    assert n["sent"] == 5
    assert n["received_same_day"] == 2  # c1 and c4 on the 10th; c2 the next day
    assert n["accepted"] == 3
    assert n["rejected"] == 1 and n["rejections"][0]["reason"] == "Sai nơi nhận"
    assert (n["done_early"], n["done_on_time"], n["done_late"]) == (1, 1, 1)


def test_take_back_answers_always_apply() -> None:
    t = fold(DocumentTrack("A", _t(10), None, True), [
        StatusEvent("c1", "03", _t(10)), StatusEvent("c1", "13", _t(11)),
        StatusEvent("c1", "15", _t(11))])
    assert t.recipients["c1"].status == "15"
