"""The leaders' figures: per agency, and rolled up the hierarchy to the caller's agency.

For a period (calendar days in Vietnam, +07:00), per agency:
- ``sent``: documents issued; ``signed_share_sent``: the share of them digitally signed;
- ``sent_done``: per (sent document, recipient) with a due date, by the recipient's 06 against
  the due day — ``early`` (before the due day), ``on_time`` (on it), ``late`` (after it),
  ``open_overdue`` (no 06 and the due day is past), ``open`` (no 06 yet, not overdue);
- ``delivery_latency_s``: issue → the recipient's 01 (its first "arrived" status: 01, or a
  later 03–06 when the 01 never came back), per (document, recipient);
- ``rejections``: the 02 answers to sent documents, with their reasons;
- ``received``, ``signed_share_received`` (verdict TOTAL_PASSED), ``received_done`` (the
  agency's own 06 against the due day) and ``rejected_received`` (what it refused, and why).

With ``per_day`` (or ``by=day`` for the CSV), each agency and the total also carry
``per_day``: one entry for EVERY calendar day of the period, in order, zeros included::

    {"day": "YYYY-MM-DD", "sent": n, "received": n,
     "delivery_p50_s": x | None, "delivery_p95_s": x | None}

- ``sent``: the documents counted in ``sent``, on the Vietnam day of their ``issued_at``;
- ``received``: the documents counted in ``received``, on the Vietnam day of their
  ``created_at`` (arrival at this node);
- ``delivery_p50_s`` / ``delivery_p95_s``: the latencies of ``delivery_latency_s`` (the same
  percentile rule), grouped by the Vietnam day of the recipient's 01; ``None`` on a day without
  one. A 01 that came after the period's last day belongs to no day of it (it still counts in
  ``delivery_latency_s``), so the days' latencies may be fewer than the period's.
The days' ``sent`` and ``received`` add up to the period's. So that neither a ten-year report
nor a province rolling up 3,321 communes makes a huge answer, ``per_day`` is refused (bilingual
400) beyond ``MAX_PER_DAY_DAYS`` days or ``MAX_PER_DAY_POINTS`` day entries in all (days ×
(agencies + the total)). ``to_csv_days`` writes the total's days, one CSV line each.

The per-document folding is the tracking's own (``exchange_axis.tracking.fold``), fed in bulk:
one query per table and chunk of documents, not one per document; the days are counted in the
same pass over the same rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import statistics
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from api.office.context import Office
from api.office.errors import ApiError
from edoc.agency import AgencyCode, AgencyCodeError
from edoc.document import VIETNAM
from exchange_axis.tracking import DocumentTrack, StatusEvent, fold
from storage.accounts import Principal
from storage.db import models as m

CHUNK = 500
DONE_KEYS = ("early", "on_time", "late", "open_overdue", "open")
#: The longest period (in calendar days) a report with ``per_day`` covers: a year, leap or not.
MAX_PER_DAY_DAYS = 366
#: The most day entries (days × (agencies + the total)) one answer carries (about 8 MB of JSON):
#: a province rolling up 3,321 communes gets a month of days, one commune a year.
MAX_PER_DAY_POINTS = 120_000
#: The per-day counters of a row (day → count, day → latencies); not part of the JSON as such.
_DAY_KEYS = ("sent_by_day", "received_by_day", "latencies_by_day")


def rolled_up(caller: str, agencies: dict[str, str | None]) -> list[str]:
    """The caller's agency and every agency (code → parent code, as the directory knows it)
    below it: by the directory's parent links, else by the parents the codes imply."""
    def ancestors(code: str) -> Iterable[str]:
        seen = set()
        parent = agencies.get(code)
        while parent and parent not in seen:
            seen.add(parent)
            yield parent
            parent = agencies.get(parent)
        try:
            yield from (str(a) for a in AgencyCode.parse(code).ancestors())
        except AgencyCodeError:
            return

    return [caller] + sorted(c for c in agencies if c != caller and caller in ancestors(c))


def _done_class(done: dt.datetime | None, due: dt.date | None, today: dt.date) -> str | None:
    if due is None:
        return None
    if done is None:
        return "open_overdue" if today > due else "open"
    day = done.astimezone(VIETNAM).date()
    return "early" if day < due else "on_time" if day == due else "late"


def _latency(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0, "p50": None, "p95": None, "max": None}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return {"count": len(ordered), "p50": round(statistics.median(ordered), 3),
            "p95": round(p95, 3), "max": round(ordered[-1], 3)}


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for i in range(0, len(ids), CHUNK):
        yield ids[i:i + CHUNK]


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _vn_day(value: dt.datetime) -> dt.date:
    """The calendar day in Vietnam of a stored instant (naive ones are UTC, as stored)."""
    return _aware(value).astimezone(VIETNAM).date()


def period_days(date_from: dt.date, date_to: dt.date) -> int:
    """How many calendar days the period covers, both ends included."""
    return (date_to - date_from).days + 1


def summary(ctx: Office, who: Principal, date_from: dt.date, date_to: dt.date,
            rollup: bool, *, per_day: bool = False) -> dict[str, Any]:
    """The report of the module docstring; ``per_day`` adds the day series, refused (400)
    beyond ``MAX_PER_DAY_DAYS`` days or ``MAX_PER_DAY_POINTS`` day entries."""
    if per_day:
        _check_per_day(period_days(date_from, date_to), 1)
    days = ([date_from + dt.timedelta(days=i) for i in range(period_days(date_from, date_to))]
            if per_day else None)
    start = dt.datetime.combine(date_from, dt.time(), VIETNAM)
    end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), VIETNAM)
    today = ctx.now().date()
    with ctx.session() as s:
        directory = dict(s.execute(select(m.Agency.code, m.Agency.parent_code)).all())
        codes = rolled_up(who.agency_code, directory) if rollup else [who.agency_code]
        agencies = {code: (aid, name) for code, aid, name in s.execute(
            select(m.Agency.code, m.Agency.id, m.Agency.name).where(m.Agency.code.in_(codes)))}
        by_id = {aid: code for code, (aid, _n) in agencies.items()}
        if days is not None:
            _check_per_day(len(days), len(agencies) + 1)
        rows = {code: _empty() for code in agencies}
        _sent(s, rows, by_id, start, end, today)
        _received(s, rows, by_id, start, end, today)
    items = [{"code": code, "name": agencies[code][1], **_finish(rows[code], days)}
             for code in codes if code in rows]
    total = _empty()
    for code in rows:
        _merge(total, rows[code])
    return {"agency": who.agency_code, "from": date_from.isoformat(),
            "to": date_to.isoformat(), "rollup": rollup, "agencies": items,
            "total": _finish(total, days)}


def _check_per_day(days: int, series: int) -> None:
    """Refuse a day series that would make the answer huge: more days than a year, or more
    day entries (days × (agencies + the total)) than ``MAX_PER_DAY_POINTS``."""
    if days > MAX_PER_DAY_DAYS:
        raise ApiError(400, "bad_period",
                       f"Số liệu theo ngày chỉ có cho khoảng tối đa {MAX_PER_DAY_DAYS} ngày",
                       f"per-day figures cover at most {MAX_PER_DAY_DAYS} days",
                       details={"days": days, "max_days": MAX_PER_DAY_DAYS})
    if days * series > MAX_PER_DAY_POINTS:
        raise ApiError(400, "too_many_points",
                       f"Số liệu theo ngày của {series - 1} cơ quan trong {days} ngày quá lớn; "
                       "hãy rút ngắn khoảng thời gian hoặc bỏ tổng hợp cấp dưới (rollup=false)",
                       f"per-day figures of {series - 1} agencies over {days} days are too "
                       "many; shorten the period or ask with rollup=false",
                       details={"days": days, "agencies": series - 1,
                                "max_points": MAX_PER_DAY_POINTS})


def _empty() -> dict[str, Any]:
    return {"sent": 0, "sent_signed": 0, "sent_done": dict.fromkeys(DONE_KEYS, 0),
            "latencies": [], "rejections": [], "received": 0, "received_passed": 0,
            "received_done": dict.fromkeys(DONE_KEYS, 0), "rejected_received": [],
            "sent_by_day": defaultdict(int), "received_by_day": defaultdict(int),
            "latencies_by_day": defaultdict(list)}


def _merge(into: dict[str, Any], row: dict[str, Any]) -> None:
    for key, value in row.items():
        if isinstance(value, dict):
            for k, v in value.items():
                into[key][k] += v
        else:
            into[key] += value


def _finish(row: dict[str, Any], days: list[dt.date] | None = None) -> dict[str, Any]:
    """The JSON of a row: shares and latency figures from its counters; ``per_day`` only when
    the days of the period are given."""
    hidden = ("sent_signed", "received_passed", "latencies", *_DAY_KEYS)
    out = {k: v for k, v in row.items() if k not in hidden}
    out["signed_share_sent"] = round(row["sent_signed"] / row["sent"], 4) if row["sent"] else 0.0
    out["signed_share_received"] = (round(row["received_passed"] / row["received"], 4)
                                    if row["received"] else 0.0)
    out["delivery_latency_s"] = _latency(row["latencies"])
    if days is not None:
        out["per_day"] = _per_day(row, days)
    return out


def _per_day(row: dict[str, Any], days: list[dt.date]) -> list[dict[str, Any]]:
    """Every day of the period, zeros included (a chart needs the empty days too)."""
    out = []
    for day in days:
        latency = _latency(row["latencies_by_day"].get(day, []))
        out.append({"day": day.isoformat(), "sent": row["sent_by_day"].get(day, 0),
                    "received": row["received_by_day"].get(day, 0),
                    "delivery_p50_s": latency["p50"], "delivery_p95_s": latency["p95"]})
    return out


def _sent(s, rows, by_id, start, end, today) -> None:
    docs = s.execute(select(m.Document).where(
        m.Document.agency_id.in_(list(by_id)), m.Document.direction == "outgoing",
        m.Document.issued_at >= start, m.Document.issued_at < end,
        m.Document.external_id.is_not(None))).scalars().all()
    tracks: dict[int, tuple[DocumentTrack, m.Document]] = {}
    for d in docs:
        due = d.due_date.astimezone(VIETNAM).date() if d.due_date else None
        tracks[d.id] = (DocumentTrack(d.external_id, _aware(d.issued_at), due,
                                      bool((d.meta or {}).get("signed"))), d)
    events: dict[int, list[StatusEvent]] = defaultdict(list)
    for chunk in _chunks(list(tracks)):
        for dl in s.execute(select(m.Delivery).where(m.Delivery.document_id.in_(chunk))
                            ).scalars():
            track = tracks[dl.document_id][0]
            events[dl.document_id].append(StatusEvent(dl.recipient_code, "pending",
                                                      track.sent_at))
        for e in s.execute(select(m.StatusEvent).where(m.StatusEvent.document_id.in_(chunk))
                           .order_by(m.StatusEvent.id)).scalars():
            events[e.document_id].append(StatusEvent(e.agency_code, e.status_code,
                                                     _aware(e.occurred_at), e.description))
    for doc_id, (track, doc) in tracks.items():
        fold(track, events[doc_id])
        row = rows[by_id[doc.agency_id]]
        row["sent"] += 1
        row["sent_by_day"][_vn_day(track.sent_at)] += 1
        row["sent_signed"] += int(track.signed)
        for r in track.recipients.values():
            kind = _done_class(r.done_at, track.due_date, today)
            if kind and r.status != "02":
                row["sent_done"][kind] += 1
            if r.received_at is not None:
                latency = (r.received_at - track.sent_at).total_seconds()
                row["latencies"].append(latency)
                row["latencies_by_day"][_vn_day(r.received_at)].append(latency)
            if r.status == "02":
                row["rejections"].append({"document_id": track.document_id, "code": "02",
                                          "recipient": r.agency_code, "reason": r.reason,
                                          "at": r.status_at.isoformat() if r.status_at
                                          else None})


def _received(s, rows, by_id, start, end, today) -> None:
    docs = s.execute(select(m.Document).where(
        m.Document.agency_id.in_(list(by_id)), m.Document.direction == "incoming",
        m.Document.created_at >= start, m.Document.created_at < end)).scalars().all()
    done: dict[int, dt.datetime] = {}
    refusals: dict[int, tuple[str | None, dt.datetime]] = {}
    for chunk in _chunks([d.id for d in docs]):
        for e in s.execute(select(m.StatusEvent).where(
                m.StatusEvent.document_id.in_(chunk),
                m.StatusEvent.status_code.in_(("02", "06"))).order_by(m.StatusEvent.id)
                ).scalars():
            if e.status_code == "06":
                done[e.document_id] = _aware(e.occurred_at)
            else:
                refusals[e.document_id] = (e.description, _aware(e.occurred_at))
    for d in docs:
        row = rows[by_id[d.agency_id]]
        meta = d.meta or {}
        row["received"] += 1
        row["received_by_day"][_vn_day(d.created_at)] += 1
        indications = list((meta.get("indications") or {}).values())
        row["received_passed"] += int(bool(indications)
                                      and all(i == "TOTAL_PASSED" for i in indications))
        if d.state == "rejected":
            reason, at = refusals.get(d.id, (None, None))
            row["rejected_received"].append({"document_id": d.external_id,
                                             "sender": meta.get("sender"), "reason": reason,
                                             "at": at.isoformat() if at else None})
            continue
        due = d.due_date.astimezone(VIETNAM).date() if d.due_date else None
        kind = _done_class(done.get(d.id), due, today)
        if kind:
            row["received_done"][kind] += 1


CSV_COLUMNS = ["code", "name", "sent", "signed_share_sent", "sent_early", "sent_on_time",
               "sent_late", "sent_open_overdue", "sent_open", "delivery_p50_s",
               "delivery_p95_s", "rejections", "received", "signed_share_received",
               "received_early", "received_on_time", "received_late", "received_open_overdue",
               "received_open", "rejected_received"]


def to_csv(report: dict[str, Any]) -> str:
    """One line per agency and a total line (code ``TOTAL``), UTF-8 with its names intact."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for item in [*report["agencies"], {"code": "TOTAL", "name": "Tổng cộng (total)",
                                       **report["total"]}]:
        sd, rd, lat = item["sent_done"], item["received_done"], item["delivery_latency_s"]
        writer.writerow([
            item["code"], item["name"], item["sent"], item["signed_share_sent"],
            *(sd[k] for k in DONE_KEYS), lat["p50"], lat["p95"], len(item["rejections"]),
            item["received"], item["signed_share_received"], *(rd[k] for k in DONE_KEYS),
            len(item["rejected_received"])])
    return out.getvalue()


DAY_CSV_COLUMNS = ["day", "sent", "received", "delivery_p50_s", "delivery_p95_s"]


def to_csv_days(report: dict[str, Any]) -> str:
    """One line per day of the period for the total (the report must carry ``per_day``)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, DAY_CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(report["total"]["per_day"])
    return out.getvalue()
