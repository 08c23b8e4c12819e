"""Incoming documents on the page: the inbox (search, filters, unread, urgency and due-date
colours), one document beside its signatures' verdicts in plain words, and the clerk's and the
specialist's decisions (accept, reject with a reason, assign, processing, done)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import Response

from api.office import incoming as inc
from api.office.authz import Action, Role, allowed
from api.office.context import Office, office
from api.office.errors import ApiError, RowId
from api.web import pdfpages
from api.web.gate import page_require
from api.web.render import act, page
from edoc.status import StatusCode
from storage.accounts import Accounts, Principal

router = APIRouter(include_in_schema=False)

STATES = ("arrived", "accepted", "assigned", "processing", "done", "rejected", "withdrawn")
#: the flash line after each decision (``?done=…``)
DONE_MESSAGES = {"accepted": "Accepted: it is in the incoming register.",
                 "rejected": "Rejected: the sender has been told why.",
                 "assigned": "Assigned.", "processing": "Marked as being processed.",
                 "done": "Marked as done."}


def _filters(request: Request) -> dict[str, str]:
    keys = ("q", "number", "sender", "from", "to", "state", "mine")
    return {k: request.query_params[k] for k in keys if request.query_params.get(k)}


def _day(value: str | None) -> dt.date | None:
    """A date field of the search form: empty means no limit (a plain form sends it empty)."""
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ApiError(422, "bad_date", f"Ngày không hợp lệ: {value} (cần YYYY-MM-DD)",
                       f"invalid date: {value} (YYYY-MM-DD is needed)") from None


@router.get("/inbox")
def inbox(request: Request, state: str | None = Query(None, max_length=30),
          q: str | None = Query(None, max_length=200),
          number: str | None = Query(None, max_length=80),
          sender: str | None = Query(None, max_length=200),
          date_from: str | None = Query(None, alias="from", max_length=10),
          date_to: str | None = Query(None, alias="to", max_length=10),
          mine: bool = Query(False), page_no: int = Query(1, alias="page", ge=1, le=100_000),
          who: Principal = Depends(page_require(Action.INBOX_READ)),
          ctx: Office = Depends(office)) -> Response:
    per_page = 25
    found = inc.inbox(ctx, who, state=state if state in STATES else None, q=q, number=number,
                      sender=sender, date_from=_day(date_from), date_to=_day(date_to),
                      assigned_to_me=mine, page=page_no, per_page=per_page)
    pages = max(1, -(-found["total"] // per_page))
    template = "_inbox_table.html" if request.headers.get("hx-request") else "inbox.html"
    return page(request, ctx, template, who, title="Incoming documents", found=found,
                pages=pages, filters=_filters(request), states=STATES, unread=found["unread"])


def _reports(ctx: Office, who: Principal, doc_id: int) -> dict[str, Any]:
    try:
        return inc.reports(ctx, who, doc_id)
    except ApiError as err:
        if err.status == 404:  # arrived before reports were kept: the verdicts still show
            return {}
        raise


def _assignees(ctx: Office, who: Principal) -> list[dict[str, Any]]:
    with ctx.session() as s:
        return [{"id": u.id, "full_name": u.full_name, "position": u.position}
                for u, _c in Accounts(s).list_users(who.agency_id)
                if not u.disabled and {Role.SPECIALIST.value, Role.LEADER.value}
                & set(u.roles or [])]


def _document(request: Request, ctx: Office, who: Principal, doc_id: int, *,
              error: ApiError | None = None) -> Response:
    doc = inc.view(ctx, who, doc_id)
    main = next((f for f in doc["files"] if f["role"] == "main"), None)
    pages = 0
    if main is not None:
        pages = pdfpages.page_count(main["sha256"],
                                    lambda: inc.main_file(ctx, who, doc_id)[1])
    done = request.query_params.get("done")
    return page(request, ctx, "incoming.html", who, status=error.status if error else 200,
                title=doc["subject"] or "Document", doc=doc, reports=_reports(ctx, who, doc_id),
                pages=pages,
                assignees=_assignees(ctx, who) if allowed(who.roles, Action.ASSIGN) else [],
                flash=DONE_MESSAGES.get(done or ""), error=error,
                may_process=inc.unrestricted(who, Action.PROCESS)
                or doc.get("assigned_to") == who.user_id)


@router.get("/incoming/{doc_id}")
def document(request: Request, doc_id: RowId,
             who: Principal = Depends(page_require(Action.INBOX_READ)),
             ctx: Office = Depends(office)) -> Response:
    return _document(request, ctx, who, doc_id)


@router.get("/incoming/{doc_id}/page/{number}.png")
def page_image(doc_id: RowId, number: int,
               who: Principal = Depends(page_require(Action.INBOX_READ)),
               ctx: Office = Depends(office)) -> Response:
    f = inc.main_file_row(ctx, who, doc_id)
    return pdfpages.png_response(f.sha256, lambda: ctx.store.get(f.object_key), number)


def _decide(request: Request, ctx: Office, who: Principal, doc_id: int, code: StatusCode,
            action: Action, state: str, **kwargs: Any) -> Response:
    """One decision (02–06) through the same function as the API."""
    return act(lambda: inc.act(ctx, who, doc_id, code, action, **kwargs),
               done=f"/incoming/{doc_id}?done={state}",
               show=lambda err: _document(request, ctx, who, doc_id, error=err))


@router.post("/incoming/{doc_id}/accept")
def accept(request: Request, doc_id: RowId,
           who: Principal = Depends(page_require(Action.ACCEPT)),
           ctx: Office = Depends(office)) -> Response:
    return _decide(request, ctx, who, doc_id, StatusCode.ACCEPTED, Action.ACCEPT, "accepted")


@router.post("/incoming/{doc_id}/reject")
def reject(request: Request, doc_id: RowId, reason: str = Form("", max_length=2000),
           who: Principal = Depends(page_require(Action.REJECT)),
           ctx: Office = Depends(office)) -> Response:
    if len(reason.strip()) < 3:
        err = ApiError(400, "reason_required", "Cần nêu lý do từ chối (ít nhất 3 ký tự)",
                       "give the reason for rejecting (at least 3 characters)")
        return _document(request, ctx, who, doc_id, error=err)
    return _decide(request, ctx, who, doc_id, StatusCode.REJECTED, Action.REJECT, "rejected",
                   reason=reason.strip())


@router.post("/incoming/{doc_id}/assign")
def assign(request: Request, doc_id: RowId, user_id: int = Form(..., ge=1, le=2**63 - 1),
           note: str = Form("", max_length=2000),
           who: Principal = Depends(page_require(Action.ASSIGN)),
           ctx: Office = Depends(office)) -> Response:
    return _decide(request, ctx, who, doc_id, StatusCode.ASSIGNED, Action.ASSIGN, "assigned",
                   reason=note.strip() or None, assignee=user_id)


@router.post("/incoming/{doc_id}/processing")
def processing(request: Request, doc_id: RowId, note: str = Form("", max_length=2000),
               who: Principal = Depends(page_require(Action.PROCESS)),
               ctx: Office = Depends(office)) -> Response:
    return _decide(request, ctx, who, doc_id, StatusCode.PROCESSING, Action.PROCESS,
                   "processing", reason=note.strip() or None)


@router.post("/incoming/{doc_id}/done")
def done(request: Request, doc_id: RowId, note: str = Form("", max_length=2000),
         who: Principal = Depends(page_require(Action.PROCESS)),
         ctx: Office = Depends(office)) -> Response:
    return _decide(request, ctx, who, doc_id, StatusCode.COMPLETED, Action.PROCESS, "done",
                   reason=note.strip() or None)
