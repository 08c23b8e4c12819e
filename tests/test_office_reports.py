"""The leaders' report: which agencies a roll-up takes, how completion is classed against the
due day, and the CSV a leader opens in a spreadsheet (the figures themselves are checked end to
end over HTTP in tests/test_office_e2e.py)."""

from __future__ import annotations

import csv
import datetime as dt
import io

from api.office.reports import _done_class, _empty, _finish, rolled_up, to_csv
from edoc.document import VIETNAM


def test_roll_up_takes_the_agencies_below_only():
    directory = {"000.00.00.H41": None, "000.01.00.H41": None, "000.00.32.H41": None,
                 "000.05.32.H41": None, "000.00.00.H40": None, "001.00.00.H41": None}
    assert rolled_up("000.00.00.H41", directory) == [  # not the other province (H40)
        "000.00.00.H41", "000.00.32.H41", "000.01.00.H41", "000.05.32.H41", "001.00.00.H41"]
    assert rolled_up("000.00.32.H41", directory) == ["000.00.32.H41", "000.05.32.H41"]
    assert rolled_up("000.01.00.H41", directory) == ["000.01.00.H41"]
    # a parent link of the directory (the axis knows merges) counts as well as the code
    directory["000.09.00.H40"] = "000.00.00.H41"
    assert "000.09.00.H40" in rolled_up("000.00.00.H41", directory)


def test_completion_against_the_due_day():
    due = dt.date(2026, 12, 10)
    at = lambda d, h=12: dt.datetime(2026, 12, d, h, tzinfo=VIETNAM)  # noqa: E731
    assert _done_class(at(9), due, dt.date(2026, 12, 1)) == "early"
    assert _done_class(at(10, 23), due, dt.date(2026, 12, 1)) == "on_time"
    assert _done_class(at(11, 0), due, dt.date(2026, 12, 1)) == "late"
    assert _done_class(None, due, dt.date(2026, 12, 10)) == "open"
    assert _done_class(None, due, dt.date(2026, 12, 11)) == "open_overdue"
    assert _done_class(None, None, dt.date(2026, 12, 11)) is None


def test_csv_has_a_line_per_agency_and_a_total():
    row = _empty()
    row.update(sent=2, sent_signed=2, received=1, received_passed=1, latencies=[1.5, 3.0])
    row["sent_done"]["late"] = 1
    item = {"code": "000.01.00.H41", "name": "Ủy ban nhân dân phường Trường Vinh",
            **_finish(row)}
    text = to_csv({"agencies": [item], "total": _finish(row)})
    lines = list(csv.DictReader(io.StringIO(text)))
    assert [r["code"] for r in lines] == ["000.01.00.H41", "TOTAL"]
    first = lines[0]
    assert first["name"] == "Ủy ban nhân dân phường Trường Vinh"
    assert first["sent"] == "2" and first["signed_share_sent"] == "1.0"
    assert first["sent_late"] == "1" and first["delivery_p50_s"] == "2.25"
