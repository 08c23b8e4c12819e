"""Outgoing documents on the page: the list with each draft's state, a new draft (an uploaded
PDF, or the directive template), and one document with its steps: the leader signs (USB token
through ``edoc agent``, or the key the agency keeps), the clerk numbers, seals and issues.

The USB-token signature is the page's JavaScript (``static/sign.js``) calling the JSON API's
``sign/prepare`` and ``sign/complete`` and the agent on the leader's computer in between; every
other step is a plain form posted here and handled by the API's own workflow functions.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy import func, select

from api.office import outgoing as wf
from api.office.authz import Action
from api.office.context import Office, office
from api.office.errors import ApiError, RowId
from api.office.routes.outgoing import DraftMeta
from api.office.uploads import check_pdf, read_upload
from api.web import pdfpages
from api.web.gate import page_require
from api.web.render import act, page
from storage.accounts import Accounts, Principal
from storage.db import models as m

router = APIRouter(include_in_schema=False)

STATES = ("draft", "signed", "numbered", "sealed", "issued")
PER_PAGE = 25
#: the directory shown as checkboxes when it is this small; larger ones are searched first
DIRECTORY_LIST = 300
DONE_MESSAGES = {"draft": "Draft saved.", "signed": "Signed.", "numbered": "Numbered.",
                 "sealed": "Sealed.", "issued": "Issued: the recipients receive it now."}


@router.get("/outgoing")
def outgoing_list(request: Request, state: str | None = Query(None, max_length=30),
                  q: str | None = Query(None, max_length=200),
                  page_no: int = Query(1, alias="page", ge=1, le=100_000),
                  who: Principal = Depends(page_require(Action.OUTGOING_READ)),
                  ctx: Office = Depends(office)) -> Response:
    where = [m.Document.agency_id == who.agency_id, m.Document.direction == "outgoing"]
    if state in STATES:
        where.append(m.Document.state == state)
    if q:
        like = f"%{q.strip()}%"
        where.append(m.Document.subject.ilike(like) | m.Document.notation.ilike(like))
    with ctx.session() as s:
        total = s.execute(select(func.count()).select_from(m.Document).where(*where)).scalar()
        rows = s.execute(select(m.Document).where(*where).order_by(m.Document.id.desc())
                         .limit(PER_PAGE).offset((page_no - 1) * PER_PAGE)).scalars().all()
        items = [wf.summary(d) for d in rows]
    template = "_outgoing_table.html" if request.headers.get("hx-request") else "outgoing.html"
    return page(request, ctx, template, who, title="Outgoing documents",
                found={"total": total, "page": page_no, "items": items},
                pages=max(1, -(-total // PER_PAGE)), states=STATES,
                filters={k: v for k, v in (("state", state), ("q", q)) if v})


def _directory(ctx: Office, who: Principal, q: str | None) -> list[dict[str, Any]]:
    stmt = select(m.Agency.code, m.Agency.name).where(m.Agency.code != who.agency_code)
    if q:
        like = f"%{q.strip()}%"
        stmt = stmt.where(m.Agency.code.ilike(like) | m.Agency.name.ilike(like))
    with ctx.session() as s:
        rows = s.execute(stmt.order_by(m.Agency.code).limit(DIRECTORY_LIST + 1)).all()
    return [{"code": c, "name": n} for c, n in rows]


def _new_form(request: Request, ctx: Office, who: Principal, *, q: str | None = None,
              error: ApiError | None = None, values: dict[str, Any] | None = None) -> Response:
    agencies = _directory(ctx, who, q)
    return page(request, ctx, "outgoing_new.html", who, status=error.status if error else 200,
                title="New draft", agencies=agencies[:DIRECTORY_LIST],
                more=len(agencies) > DIRECTORY_LIST, q=q or "", error=error,
                values=values or {"priority": 0, "type_name": "Chỉ thị",
                                  "recipients": []})


@router.get("/outgoing/new")
def new_draft_form(request: Request, q: str | None = Query(None, max_length=200),
                   who: Principal = Depends(page_require(Action.DRAFT_CREATE)),
                   ctx: Office = Depends(office)) -> Response:
    return _new_form(request, ctx, who, q=q)


@router.post("/outgoing/new")
async def new_draft(request: Request, subject: str = Form(""), notation: str = Form(""),
                    type_name: str = Form(""), priority: int = Form(0, ge=0, le=4),
                    due_date: str = Form(""), recipients: list[str] = Form(default_factory=list),
                    file: UploadFile | None = File(None),
                    who: Principal = Depends(page_require(Action.DRAFT_CREATE)),
                    ctx: Office = Depends(office)) -> Response:
    values = {"subject": subject, "notation": notation, "type_name": type_name or None,
              "priority": priority, "due_date": due_date or None, "recipients": recipients}
    try:
        meta = DraftMeta.model_validate(values)
        pdf = None
        if file is not None and file.filename:
            pdf = await read_upload(file, limit=int(ctx.settings.max_upload_mb * 1024 * 1024))
            check_pdf(pdf)
        created = await asyncio.to_thread(_create, ctx, who, meta, pdf,
                                          file.filename if pdf is not None and file else None)
    except ValidationError as exc:
        where = ", ".join(str(e["loc"][0]) for e in exc.errors())
        err = ApiError(422, "invalid_request", f"Thông tin chưa đủ hoặc chưa đúng: {where}",
                       f"missing or invalid: {where}")
        return _new_form(request, ctx, who, error=err, values=values)
    except ApiError as err:
        if err.status == 401:
            raise
        return _new_form(request, ctx, who, error=err, values=values)
    return RedirectResponse(f"/outgoing/{created['id']}?done=draft", status_code=303)


def _create(ctx: Office, who: Principal, meta: DraftMeta, pdf: bytes | None,
            name: str | None) -> dict[str, Any]:
    """The draft: the uploaded PDF, else the directive template filled with the metadata."""
    if pdf is None:
        return wf.draft_from_template(ctx, who, meta.model_dump(),
                                      signer_name=_leader_name(ctx, who))
    return wf.create_draft(ctx, who, meta.model_dump(), pdf, name or "du-thao.pdf")


def _leader_name(ctx: Office, who: Principal) -> str:
    """Who signs the agency's directive: the caller if a leader, else the agency's leader."""
    if "leader" in who.roles:
        return who.full_name
    with ctx.session() as s:
        for user, _c in Accounts(s).list_users(who.agency_id):
            if "leader" in (user.roles or []) and not user.disabled:
                return user.full_name
    return ""


def _document(request: Request, ctx: Office, who: Principal, doc_id: int, *,
              error: ApiError | None = None) -> Response:
    doc = wf.view(ctx, who, doc_id)
    pages = pdfpages.page_count(doc["file"]["sha256"], lambda: ctx.store.get(doc["file"]["key"]))
    done = request.query_params.get("done")
    return page(request, ctx, "outgoing_doc.html", who, status=error.status if error else 200,
                title=doc["subject"] or "Document", doc=doc, pages=pages, states=STATES,
                flash=DONE_MESSAGES.get(done or ""), error=error,
                server_key=ctx.settings.personal_key(who.username) is not None)


@router.get("/outgoing/{doc_id}")
def document(request: Request, doc_id: RowId,
             who: Principal = Depends(page_require(Action.OUTGOING_READ)),
             ctx: Office = Depends(office)) -> Response:
    return _document(request, ctx, who, doc_id)


@router.get("/outgoing/{doc_id}/page/{number}.png")
def page_image(doc_id: RowId, number: int,
               who: Principal = Depends(page_require(Action.OUTGOING_READ)),
               ctx: Office = Depends(office)) -> Response:
    with ctx.session() as s:
        doc = wf.load(s, who, doc_id)
    current = wf.current_file(doc)
    return pdfpages.png_response(current["sha256"], lambda: ctx.store.get(current["key"]), number)


def _step(request: Request, ctx: Office, who: Principal, doc_id: int, state: str,
          run: Any) -> Response:
    """One workflow step (sign, number, seal, issue) through the API's own function."""
    return act(run, done=f"/outgoing/{doc_id}?done={state}",
               show=lambda err: _document(request, ctx, who, doc_id, error=err))


@router.post("/outgoing/{doc_id}/sign")
def sign(request: Request, doc_id: RowId, password: str = Form("", max_length=1000),
         who: Principal = Depends(page_require(Action.SIGN_PERSONAL)),
         ctx: Office = Depends(office)) -> Response:
    if not password:
        err = ApiError(400, "password_required", "Nhập mật khẩu của khóa ký",
                       "type the signing key's password")
        return _document(request, ctx, who, doc_id, error=err)
    return _step(request, ctx, who, doc_id, "signed",
                 lambda: wf.sign_server_side(ctx, who, doc_id, password, None))


@router.post("/outgoing/{doc_id}/number")
def number(request: Request, doc_id: RowId,
           who: Principal = Depends(page_require(Action.NUMBER)),
           ctx: Office = Depends(office)) -> Response:
    return _step(request, ctx, who, doc_id, "numbered", lambda: wf.number(ctx, who, doc_id))


@router.post("/outgoing/{doc_id}/seal")
def seal(request: Request, doc_id: RowId, who: Principal = Depends(page_require(Action.SEAL)),
         ctx: Office = Depends(office)) -> Response:
    return _step(request, ctx, who, doc_id, "sealed", lambda: wf.seal(ctx, who, doc_id))


@router.post("/outgoing/{doc_id}/issue")
def issue(request: Request, doc_id: RowId, who: Principal = Depends(page_require(Action.ISSUE)),
          ctx: Office = Depends(office)) -> Response:
    return _step(request, ctx, who, doc_id, "issued", lambda: wf.issue(ctx, who, doc_id))

