"""The per-day series of the leaders' report (``GET /api/v1/reports/summary?per_day=true``),
over real HTTP between real node processes, on real issued documents:

the province issues two directives to the communes (A to both, B to commune 1), the communes'
nodes answer 01 and the hub registers the copies. The app's clock is the real one and nothing
can be issued in the past through the API, so B is then moved in the databases to
(today - 3) 23:59 Vietnam time, its 01 two minutes later, just past midnight, and commune 1's copy
of B to that next day at 00:30: the series must put B's sending on its day, its latency and its
arrival on the next one (the day boundary is +07:00, not UTC), A on its own day, and zeros
elsewhere. Then: a year of days at most, and no ``per_day`` unless asked (the old shape).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select, update

from api.cluster import PROVINCE
from api.office.errors import ApiError
from api.office.reports import (
    DAY_CSV_COLUMNS,
    MAX_PER_DAY_POINTS,
    _check_per_day,
    _empty,
    _finish,
)
from edoc.document import VIETNAM
from storage.db import Database
from storage.db import models as m
from tests.exchange_helpers import wait_for
from tests.office_helpers import C1, C2, OfficeClient, OfficeNodes, issue_over_api, office_nodes

SUMMARY = "/api/v1/reports/summary"
PER_DAY_KEYS = {"day", "sent", "received", "delivery_p50_s", "delivery_p95_s"}
#: the keys of an agency's figures before per_day existed (tests/test_office_e2e.py reads them)
FIGURE_KEYS = {"sent", "sent_done", "rejections", "received", "received_done",
               "rejected_received", "signed_share_sent", "signed_share_received",
               "delivery_latency_s"}


@dataclass
class World:
    nodes: OfficeNodes
    province: OfficeClient  # the province's leader
    commune: OfficeClient  # commune 1's leader
    day_a: dt.date  # the Vietnam day directive A was issued (and answered) on
    day_b: dt.date  # the day B was moved to; its 01 and commune 1's copy are on the next day


def _db(nodes: OfficeNodes, node: str) -> Database:
    from exchange_axis.config import load  # noqa: PLC0415

    return Database(load(nodes.paths[node]).database_url)


def _all_arrived(leader: OfficeClient, doc: int, count: int) -> bool:
    recipients = leader.ok("GET", f"/api/v1/outgoing/{doc}")["tracking"]["recipients"]
    return len(recipients) == count and all(r["received_at"] for r in recipients)


def _inbox(client: OfficeClient) -> set[str]:
    return {i["document_id"] for i in client.ok("GET", "/api/v1/inbox")["items"]}


def _vn(day: dt.date, hour: int, minute: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), VIETNAM)


def _move_b(nodes: OfficeNodes, doc_b: int, document_id: str, day: dt.date) -> None:
    """B issued at ``day`` 23:59 (+07:00), its statuses at 00:01 the next day, commune 1's copy
    registered at 00:30 the next day (in UTC: 16:59, 17:01 and 17:30 on ``day``)."""
    province = _db(nodes, "province")
    try:
        with province.sessions() as s, s.begin():
            s.execute(update(m.Document).where(m.Document.id == doc_b)
                      .values(issued_at=_vn(day, 23, 59)))
            s.execute(update(m.StatusEvent).where(m.StatusEvent.document_id == doc_b)
                      .values(occurred_at=_vn(day + dt.timedelta(days=1), 0, 1)))
    finally:
        province.dispose()
    hub = _db(nodes, "hub")
    try:
        with hub.sessions() as s, s.begin():
            c1 = s.execute(select(m.Agency.id).where(m.Agency.code == C1[0])).scalar_one()
            s.execute(update(m.Document).where(
                m.Document.agency_id == c1, m.Document.direction == "incoming",
                m.Document.external_id == document_id)
                .values(created_at=_vn(day + dt.timedelta(days=1), 0, 30)))
    finally:
        hub.dispose()


def _issued_day(nodes: OfficeNodes, doc: int) -> dt.date:
    province = _db(nodes, "province")
    try:
        with province.sessions() as s:
            issued = s.execute(select(m.Document.issued_at).where(m.Document.id == doc)
                               ).scalar_one()
    finally:
        province.dispose()
    return issued.astimezone(VIETNAM).date()


@pytest.fixture(scope="module")
def world(pki_server, tmp_path_factory) -> Iterator[World]:
    with office_nodes(tmp_path_factory.mktemp("dashboard"), pki_server) as nodes:
        leader = nodes.client("lanhdao.h41", bearer=True)
        clerk = nodes.client("vanthu.h41", bearer=True)
        password = pki_server.entity("official-h41").password
        doc_a, _id_a = issue_over_api(leader, clerk, password, "Chỉ thị A gửi hai xã",
                                      [C1[0], C2[0]])
        doc_b, id_b = issue_over_api(leader, clerk, password, "Chỉ thị B gửi phường", [C1[0]])
        c1_clerk = nodes.client("vanthu.c1", bearer=True)
        wait_for(lambda: len(_inbox(c1_clerk)) == 2, what="both directives at commune 1")
        wait_for(lambda: _all_arrived(leader, doc_a, 2) and _all_arrived(leader, doc_b, 1),
                 what="the communes' 01 at the province")
        day_a = _issued_day(nodes, doc_a)
        day_b = day_a - dt.timedelta(days=3)
        _move_b(nodes, doc_b, id_b, day_b)
        yield World(nodes, leader, nodes.client("lanhdao.c1", bearer=True), day_a, day_b)


def _report(client: OfficeClient, first: dt.date, last: dt.date, **params: Any) -> Any:
    return client.ok("GET", SUMMARY, params={"from": first.isoformat(), "to": last.isoformat(),
                                             **params})


def _by_day(series: list[dict[str, Any]]) -> dict[dt.date, dict[str, Any]]:
    return {dt.date.fromisoformat(d["day"]): d for d in series}


def _days(first: dt.date, last: dt.date) -> list[str]:
    return [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def test_sent_and_latency_on_their_vietnam_days(world: World) -> None:
    first, last = world.day_b - dt.timedelta(days=2), world.day_a + dt.timedelta(days=2)
    report = _report(world.province, first, last, per_day="true", rollup="false")
    total = report["total"]
    series = total["per_day"]
    assert [d["day"] for d in series] == _days(first, last)  # every day, in order
    assert all(set(d) == PER_DAY_KEYS for d in series), series[0]
    days = _by_day(series)
    after_b = world.day_b + dt.timedelta(days=1)
    assert days[world.day_b]["sent"] == 1 and days[world.day_a]["sent"] == 1
    # B's 01 came two minutes after its issue, just past midnight in Vietnam: the next day
    assert days[world.day_b]["delivery_p50_s"] is None
    assert days[after_b]["sent"] == 0
    assert days[after_b]["delivery_p50_s"] == pytest.approx(120.0)
    assert days[after_b]["delivery_p95_s"] == pytest.approx(120.0)
    # A's two 01s came on its day (the same run, seconds after its issue)
    a_day = days[world.day_a]
    assert a_day["delivery_p50_s"] is not None and 0 <= a_day["delivery_p50_s"] < 600
    assert a_day["delivery_p95_s"] >= a_day["delivery_p50_s"]
    for day, figures in days.items():  # zeros, and no latency, on every other day
        if day not in (world.day_a, world.day_b):
            assert figures["sent"] == 0, figures
        if day not in (world.day_a, after_b):
            assert figures["delivery_p50_s"] is None and figures["delivery_p95_s"] is None
        assert figures["received"] == 0, figures  # the province received nothing
    assert sum(d["sent"] for d in series) == total["sent"] == 2
    assert total["delivery_latency_s"]["count"] == 3
    (province,) = report["agencies"]
    assert province["code"] == PROVINCE[0] and province["per_day"] == series


def test_received_on_the_day_of_arrival(world: World) -> None:
    first, last = world.day_b, world.day_a
    report = _report(world.commune, first, last, per_day="true")
    days = _by_day(report["total"]["per_day"])
    assert len(days) == (last - first).days + 1
    # commune 1's copy of B was registered at 00:30 (+07:00) the day after B's day
    assert days[world.day_b + dt.timedelta(days=1)]["received"] == 1
    assert days[world.day_a]["received"] == 1
    assert sum(d["received"] for d in days.values()) == report["total"]["received"] == 2
    assert all(d["sent"] == 0 and d["delivery_p50_s"] is None for d in days.values())


def test_rolled_up_total_is_the_sum_of_the_agencies(world: World) -> None:
    report = _report(world.province, world.day_b, world.day_a, per_day="true")
    assert len(report["agencies"]) > 1  # the province and the communes below it
    for i, day in enumerate(report["total"]["per_day"]):
        for key in ("sent", "received"):
            assert day[key] == sum(a["per_day"][i][key] for a in report["agencies"])
    commune = next(a for a in report["agencies"] if a["code"] == C1[0])
    # the communes' documents live on the hub, not in the province's database
    assert all(d["sent"] == d["received"] == 0 for d in commune["per_day"])


def test_without_per_day_the_shape_is_the_old_one(world: World) -> None:
    ten_years = _report(world.province, world.day_a - dt.timedelta(days=3650), world.day_a)
    assert set(ten_years) == {"agency", "from", "to", "rollup", "agencies", "total"}
    for figures in [ten_years["total"], *ten_years["agencies"]]:
        assert "per_day" not in figures
        assert set(figures) - {"code", "name"} == FIGURE_KEYS
    assert ten_years["total"]["sent"] == 2
    assert "per_day" not in _report(world.province, world.day_a, world.day_a,
                                    per_day="false")["total"]


def test_per_day_covers_a_year_at_most(world: World) -> None:
    leap = _report(world.province, dt.date(2024, 1, 1), dt.date(2024, 12, 31), per_day="true")
    assert len(leap["total"]["per_day"]) == 366
    assert leap["total"]["per_day"][-1] == {"day": "2024-12-31", "sent": 0, "received": 0,
                                            "delivery_p50_s": None, "delivery_p95_s": None}
    for params in ({"per_day": "true"}, {"format": "csv", "by": "day"}):
        r = world.province.get(SUMMARY, params={"from": "2024-01-01", "to": "2025-01-01",
                                                **params})
        assert r.status_code == 400, r.text
        body = r.json()
        assert body["error"] == "bad_period", body
        assert "366" in body["message_vi"] and "366" in body["message_en"], body
        assert body["message_vi"] != body["message_en"]


def test_day_csv_has_a_line_per_day_of_the_total(world: World) -> None:
    first, last = world.day_b, world.day_a
    r = world.province.get(SUMMARY, params={"from": first.isoformat(), "to": last.isoformat(),
                                            "format": "csv", "by": "day", "rollup": "false"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv"), r.text
    assert "theo-ngay" in r.headers["content-disposition"]
    lines = list(csv.DictReader(io.StringIO(r.text)))
    assert list(lines[0]) == DAY_CSV_COLUMNS
    assert [line["day"] for line in lines] == _days(first, last)
    assert sum(int(line["sent"]) for line in lines) == 2
    # the agency CSV is unchanged: one line per agency and the total
    plain = world.province.get(SUMMARY, params={"format": "csv", "rollup": "false"})
    assert [row["code"] for row in csv.DictReader(io.StringIO(plain.text))] == [PROVINCE[0],
                                                                                "TOTAL"]


def test_too_many_day_entries_are_refused() -> None:
    """A province rolling up 3,321 communes: a month of days, not a year (it would be ~100 MB)."""
    _check_per_day(31, 3322)
    with pytest.raises(ApiError) as refused:
        _check_per_day(366, 3322)
    assert refused.value.status == 400 and refused.value.code == "too_many_points"
    assert refused.value.details["max_points"] == MAX_PER_DAY_POINTS
    with pytest.raises(ApiError) as refused:
        _check_per_day(367, 1)
    assert refused.value.code == "bad_period"


def test_per_day_only_when_the_days_are_given() -> None:
    row = _empty()
    assert "per_day" not in _finish(row)
    day = dt.date(2026, 3, 1)
    row["sent_by_day"][day] += 2
    row["latencies_by_day"][day] += [10.0, 20.0, 30.0]
    (only,) = _finish(row, [day])["per_day"]
    assert only == {"day": "2026-03-01", "sent": 2, "received": 0, "delivery_p50_s": 20.0,
                    "delivery_p95_s": 30.0}
