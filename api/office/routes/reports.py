"""Tracking and reports for leaders: ``/api/v1/reports`` (JSON and CSV)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from api.office import reports
from api.office.auth import require
from api.office.authz import Action
from api.office.context import Office, office
from api.office.errors import ApiError
from storage.accounts import Principal

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])


@router.get("/summary", summary="Số liệu của lãnh đạo: gửi, nhận, ký số, đúng hạn, độ trễ, từ "
            "chối (per agency and rolled up; JSON or CSV)")
def summary(date_from: dt.date | None = Query(None, alias="from"),
            date_to: dt.date | None = Query(None, alias="to"),
            rollup: bool = Query(True, description="include the agencies below mine"),
            format: Literal["json", "csv"] = Query("json"),
            per_day: bool = Query(False, description="add the day series (periods of at most "
                                  f"{reports.MAX_PER_DAY_DAYS} days)"),
            by: Literal["agency", "day"] = Query("agency", description="CSV lines: one per "
                                                  "agency, or one per day of the total (implies "
                                                  "per_day)"),
            who: Principal = Depends(require(Action.REPORT_READ)),
            ctx: Office = Depends(office)) -> Any:
    today = ctx.now().date()
    end = date_to or today
    start = date_from or end.replace(day=1)
    if start > end:
        raise ApiError(400, "bad_period", "Ngày bắt đầu sau ngày kết thúc",
                       "the period starts after it ends")
    if (end - start).days > 3660:
        raise ApiError(400, "bad_period", "Khoảng thời gian tối đa 10 năm",
                       "the period is at most 10 years")
    report = reports.summary(ctx, who, start, end, rollup, per_day=per_day or by == "day")
    if format == "csv":
        text = reports.to_csv_days(report) if by == "day" else reports.to_csv(report)
        suffix = "-theo-ngay" if by == "day" else ""
        return Response(text, media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition":
                                 f'attachment; filename="bao-cao-{who.agency_code}-'
                                 f'{start.isoformat()}-{end.isoformat()}{suffix}.csv"'})
    return report
