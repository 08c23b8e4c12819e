"""Incoming documents: ``/api/v1/inbox``, ``/api/v1/incoming/{id}`` and the clerk's statuses."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from api.office import incoming as inc
from api.office.auth import require
from api.office.authz import Action
from api.office.context import Office, office
from api.office.errors import MAX_ID, RowId
from edoc.status import StatusCode
from storage.accounts import Principal

router = APIRouter(prefix="/api/v1", tags=["incoming"])


class Reject(BaseModel):
    reason: str = Field(min_length=3, max_length=2000, description="Lý do từ chối")


class Assign(BaseModel):
    user_id: int = Field(ge=1, le=MAX_ID, description="the specialist (chuyên viên) who handles it")
    note: str | None = Field(default=None, max_length=2000)


class Note(BaseModel):
    note: str | None = Field(default=None, max_length=2000)


@router.get("/inbox", summary="Văn bản đến của cơ quan (inbox; search; newest first)")
def inbox(state: str | None = Query(None, max_length=30),
          q: str | None = Query(None, max_length=200, description="trích yếu"),
          number: str | None = Query(None, max_length=80, description="số/ký hiệu gốc"),
          sender: str | None = Query(None, max_length=200, description="mã hoặc tên nơi gửi"),
          date_from: dt.date | None = Query(None, alias="from"),
          date_to: dt.date | None = Query(None, alias="to"),
          mine: bool = Query(False, description="only documents assigned to me"),
          page: int = Query(1, ge=1, le=100_000), per_page: int = Query(20, ge=1, le=100),
          who: Principal = Depends(require(Action.INBOX_READ)),
          ctx: Office = Depends(office)) -> dict[str, Any]:
    return inc.inbox(ctx, who, state=state, q=q, number=number, sender=sender,
                     date_from=date_from, date_to=date_to, assigned_to_me=mine, page=page,
                     per_page=per_page)


@router.get("/incoming/{doc_id}", summary="Một văn bản đến: kết quả kiểm tra chữ ký, lịch sử")
def view(doc_id: RowId, who: Principal = Depends(require(Action.INBOX_READ)),
         ctx: Office = Depends(office)) -> dict[str, Any]:
    return inc.view(ctx, who, doc_id)


@router.get("/incoming/{doc_id}/pdf", summary="Bản gốc PDF đã ký (the signed original)",
            response_class=Response)
def original(doc_id: RowId, who: Principal = Depends(require(Action.INBOX_READ)),
             ctx: Office = Depends(office)) -> Response:
    f, data = inc.main_file(ctx, who, doc_id)
    return Response(data, media_type="application/pdf", headers={
        "Content-Disposition": f'inline; filename="incoming-{doc_id}.pdf"',
        "X-Content-Type-Options": "nosniff", "X-Edoc-SHA256": f.sha256})


@router.get("/incoming/{doc_id}/report", summary="Báo cáo kiểm tra chữ ký (JSON)")
def report(doc_id: RowId, who: Principal = Depends(require(Action.INBOX_READ)),
           ctx: Office = Depends(office)) -> dict[str, Any]:
    return inc.reports(ctx, who, doc_id)


@router.get("/incoming/{doc_id}/report.html", summary="Báo cáo kiểm tra chữ ký (HTML)",
            response_class=HTMLResponse)
def report_html(doc_id: RowId, who: Principal = Depends(require(Action.INBOX_READ)),
                ctx: Office = Depends(office)) -> HTMLResponse:
    from signing.validation.html import render_report_dict  # noqa: PLC0415

    parts = [render_report_dict(item["report"], title=item["name"] or sha)
             for sha, item in inc.reports(ctx, who, doc_id).items()]
    return HTMLResponse("\n".join(parts), headers={
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"})


@router.post("/incoming/{doc_id}/accept", summary="Tiếp nhận (03)")
def accept(doc_id: RowId, who: Principal = Depends(require(Action.ACCEPT)),
           ctx: Office = Depends(office)) -> dict[str, Any]:
    return inc.act(ctx, who, doc_id, StatusCode.ACCEPTED, Action.ACCEPT)


@router.post("/incoming/{doc_id}/reject", summary="Từ chối, nêu lý do (02)")
def reject(doc_id: RowId, body: Reject, who: Principal = Depends(require(Action.REJECT)),
           ctx: Office = Depends(office)) -> dict[str, Any]:
    return inc.act(ctx, who, doc_id, StatusCode.REJECTED, Action.REJECT,
                   reason=body.reason.strip())


@router.post("/incoming/{doc_id}/assign", summary="Giao chuyên viên xử lý (04)")
def assign(doc_id: RowId, body: Assign, who: Principal = Depends(require(Action.ASSIGN)),
           ctx: Office = Depends(office)) -> dict[str, Any]:
    return inc.act(ctx, who, doc_id, StatusCode.ASSIGNED, Action.ASSIGN, reason=body.note,
                   assignee=body.user_id)


@router.post("/incoming/{doc_id}/processing", summary="Đang xử lý (05)")
def processing(doc_id: RowId, body: Note, who: Principal = Depends(require(Action.PROCESS)),
               ctx: Office = Depends(office)) -> dict[str, Any]:
    return inc.act(ctx, who, doc_id, StatusCode.PROCESSING, Action.PROCESS, reason=body.note)


@router.post("/incoming/{doc_id}/done", summary="Hoàn thành xử lý (06)")
def done(doc_id: RowId, body: Note, who: Principal = Depends(require(Action.PROCESS)),
         ctx: Office = Depends(office)) -> dict[str, Any]:
    return inc.act(ctx, who, doc_id, StatusCode.COMPLETED, Action.PROCESS, reason=body.note)


@router.get("/registers/{direction}", summary="Sổ văn bản đến / đi (the registers)")
def registers(direction: str, year: int | None = Query(None, ge=2000, le=2100),
              page: int = Query(1, ge=1, le=100_000), per_page: int = Query(50, ge=1, le=200),
              who: Principal = Depends(require(Action.REGISTER_READ)),
              ctx: Office = Depends(office)) -> dict[str, Any]:
    from api.office.errors import not_found  # noqa: PLC0415

    if direction not in ("incoming", "outgoing"):
        raise not_found(f"sổ '{direction}' (có: incoming, outgoing)",
                        f"register '{direction}' (incoming or outgoing)")
    return inc.register(ctx, who, year or ctx.now().year, direction, page, per_page)
