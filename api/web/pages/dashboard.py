"""The leaders' dashboard: the seeds' own figures for a period, per agency and rolled up the
hierarchy — share digitally signed, handled early / on time / late, received and sent per day,
delivery latency, rejections — as server-drawn SVG charts beside the same figures in tables.

The figures are the report's (``api.office.reports.summary``, the JSON/CSV route's own
function); this page only draws them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from api.office import reports
from api.office.authz import Action
from api.office.context import Office, office
from api.office.errors import ApiError
from api.web import charts
from api.web.gate import page_require
from api.web.i18n import translator
from api.web.render import lang_of, page
from storage.accounts import Principal

router = APIRouter(include_in_schema=False)

#: the default period: the last 30 days, today included
DEFAULT_DAYS = 30
DONE_PARTS = (("early", "early", charts.GREEN), ("on_time", "on time", charts.BLUE),
              ("late", "late", charts.ORANGE), ("open_overdue", "open, overdue", charts.RED),
              ("open", "open", charts.GREY))


def _period(ctx: Office, date_from: dt.date | None, date_to: dt.date | None
            ) -> tuple[dt.date, dt.date]:
    end = date_to or ctx.now().date()
    start = date_from or end - dt.timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        raise ApiError(400, "bad_period", "Ngày bắt đầu sau ngày kết thúc",
                       "the period starts after it ends")
    return start, end


def _charts(report: dict[str, Any], lang: str) -> dict[str, Any]:
    _ = translator(lang)
    total = report["total"]
    days = total.get("per_day", [])
    done = {k: total["sent_done"][k] + total["received_done"][k] for k, _l, _c in DONE_PARTS}
    agencies = report["agencies"]
    return {
        "signed_sent": charts.share_donut(total["signed_share_sent"] if total["sent"] else None,
                                          _("share digitally signed (sent)"), lang=lang),
        "signed_received": charts.share_donut(
            total["signed_share_received"] if total["received"] else None,
            _("share with valid signatures (received)"), lang=lang, color=charts.GREEN),
        "done": charts.stacked_bar([(_(label), done[key], color)
                                    for key, label, color in DONE_PARTS],
                                   _("Handling against due dates"), lang=lang),
        "received": charts.daily_bars([(d["day"], d["received"]) for d in days],
                                      _("Received per day"), lang=lang),
        "sent": charts.daily_bars([(d["day"], d["sent"]) for d in days], _("Sent per day"),
                                  color=charts.ORANGE, lang=lang),
        "latency": charts.latency_lines(
            [(d["day"], d["delivery_p50_s"], d["delivery_p95_s"]) for d in days],
            _("Delivery latency"), lang=lang),
        "per_agency": charts.agency_bars(
            [(a["name"] or a["code"], a["sent"] + a["received"]) for a in agencies],
            _("Documents sent and received"), lang=lang) if len(agencies) > 1 else None,
        "done_parts": [(key, label) for key, label, _c in DONE_PARTS],
    }


@router.get("/dashboard")
def dashboard(request: Request, date_from: dt.date | None = Query(None, alias="from"),
              date_to: dt.date | None = Query(None, alias="to"),
              rollup: bool = Query(True),
              who: Principal = Depends(page_require(Action.REPORT_READ)),
              ctx: Office = Depends(office)) -> Response:
    start, end = _period(ctx, date_from, date_to)
    try:  # the day series where the report gives them (a year at most, not too many agencies)
        report = reports.summary(ctx, who, start, end, rollup, per_day=True)
    except ApiError as err:
        if err.status != 400:
            raise
        report = reports.summary(ctx, who, start, end, rollup)
    lang = lang_of(request, ctx)
    return page(request, ctx, "dashboard.html", who, title="Dashboard", report=report,
                charts=_charts(report, lang), start=start, end=end, rollup=rollup)
