"""Outgoing documents: ``/api/v1/outgoing`` — draft, sign (three ways), number, seal, issue."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Query, Response, UploadFile
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import func, select

from api.office import outgoing as wf
from api.office.auth import require
from api.office.authz import Action
from api.office.context import Office, office
from api.office.errors import MAX_ID, ApiError, RowId
from api.office.uploads import check_pdf, read_upload
from storage.accounts import Principal
from storage.db import models as m

router = APIRouter(prefix="/api/v1/outgoing", tags=["outgoing"])

Notation = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[^/\s][^/]*$")]


class DraftMeta(BaseModel):
    """What a drafter fills in (the edXML fields of the outgoing document)."""

    subject: str = Field(min_length=1, max_length=2000, description="Trích yếu")
    notation: Notation = Field(description="Ký hiệu, e.g. CT-UBND")
    recipients: list[str] = Field(min_length=1, max_length=10000,
                                  description="Mã định danh nơi nhận (QCVN 102)")
    type: int = Field(default=1, ge=1, le=99, description="Loại văn bản (edXML Type)")
    type_name: str | None = Field(default=None, max_length=100, description="e.g. Chỉ thị")
    priority: int = Field(default=0, ge=0, le=4, description="Độ khẩn 0–4")
    due_date: dt.date | None = Field(default=None, description="Hạn xử lý")
    place: str | None = Field(default=None, max_length=200)
    competence: str | None = Field(default=None, max_length=200,
                                   description="Thẩm quyền ký, e.g. TM. ỦY BAN NHÂN DÂN")
    to_places: list[Annotated[str, Field(max_length=300)]] = Field(default_factory=list,
                                                                   max_length=100)


class TemplateDraft(DraftMeta):
    """A draft made by edoc from the directive template (two pages, Decree 30 layout)."""

    agency_title: str | None = Field(default=None, max_length=300)
    signer_name: str | None = Field(default=None, max_length=200)
    signer_title: str = Field(default="CHỦ TỊCH", max_length=200)


class SignWithServerKey(BaseModel):
    password: str = Field(min_length=1, max_length=1000, description="Mật khẩu/PIN của khóa")
    box: str | None = Field(default=None, max_length=100,
                            description="page,x1,y1,x2,y2 where edoc did not draft the PDF")


class SignCsc(BaseModel):
    service_url: str = Field(min_length=1, max_length=500)
    access_token: str = Field(min_length=1, max_length=5000)
    credential_id: str = Field(min_length=1, max_length=500)
    pin: str = Field(min_length=1, max_length=100)
    box: str | None = Field(default=None, max_length=100)


class PrepareDeferred(BaseModel):
    certificate: str = Field(min_length=1, max_length=100_000,
                             description="the token's certificate, DER in base64")
    chain: list[Annotated[str, Field(max_length=100_000)]] = Field(default_factory=list,
                                                                   max_length=10)
    md: Literal["sha256", "sha384", "sha512"] = "sha256"
    box: str | None = Field(default=None, max_length=100)


class CompleteDeferred(BaseModel):
    pending_id: int = Field(ge=1, le=MAX_ID)
    signature: str = Field(min_length=1, max_length=10_000,
                           description="the token's raw signature value over the digest, base64")


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ApiError(400, "bad_base64", f"{what} không phải base64 hợp lệ",
                       f"{what} is not valid base64") from exc


def _limit(ctx: Office) -> int:
    return int(ctx.settings.max_upload_mb * 1024 * 1024)


@router.post("", summary="Tải lên dự thảo PDF (upload a draft PDF with its metadata)")
async def upload_draft(file: UploadFile = File(..., description="the draft, PDF"),
                       meta: str = Form(..., description="DraftMeta as JSON"),
                       who: Principal = Depends(require(Action.DRAFT_CREATE)),
                       ctx: Office = Depends(office)) -> dict[str, Any]:
    try:
        fields = DraftMeta.model_validate(json.loads(meta))
    except (ValueError, ValidationError) as exc:
        raise ApiError(422, "invalid_request", f"Thông tin văn bản (meta) không hợp lệ: {exc}",
                       f"invalid document metadata (meta): {exc}") from exc
    data = await read_upload(file, limit=_limit(ctx))
    check_pdf(data)
    import asyncio  # noqa: PLC0415

    return await asyncio.to_thread(wf.create_draft, ctx, who, fields.model_dump(), data,
                                   file.filename or "du-thao.pdf")


@router.post("/from-template", summary="Soạn dự thảo chỉ thị từ mẫu (draft from the template)")
def template_draft(body: TemplateDraft, who: Principal = Depends(require(Action.DRAFT_CREATE)),
                   ctx: Office = Depends(office)) -> dict[str, Any]:
    return wf.draft_from_template(ctx, who, body.model_dump(),
                                  signer_name=body.signer_name or who.full_name,
                                  agency_title=body.agency_title, signer_title=body.signer_title)


@router.get("", summary="Văn bản đi của cơ quan (outgoing documents, newest first)")
def list_outgoing(state: str | None = Query(None, max_length=30),
                  q: str | None = Query(None, max_length=200, description="trích yếu, số"),
                  page: int = Query(1, ge=1, le=100_000),
                  per_page: int = Query(20, ge=1, le=100),
                  who: Principal = Depends(require(Action.OUTGOING_READ)),
                  ctx: Office = Depends(office)) -> dict[str, Any]:
    where = [m.Document.agency_id == who.agency_id, m.Document.direction == "outgoing"]
    if state:
        where.append(m.Document.state == state)
    if q:
        like = f"%{q.strip()}%"
        where.append(m.Document.subject.ilike(like) | m.Document.number.ilike(like)
                     | m.Document.notation.ilike(like))
    with ctx.session() as s:
        total = s.execute(select(func.count()).select_from(m.Document).where(*where)).scalar()
        rows = s.execute(select(m.Document).where(*where).order_by(m.Document.id.desc())
                         .limit(per_page).offset((page - 1) * per_page)).scalars().all()
        return {"total": total, "page": page, "per_page": per_page,
                "items": [wf.summary(d) for d in rows]}


@router.get("/{doc_id}", summary="Một văn bản đi: trạng thái, các bước, theo dõi")
def view_outgoing(doc_id: RowId, who: Principal = Depends(require(Action.OUTGOING_READ)),
                  ctx: Office = Depends(office)) -> dict[str, Any]:
    return wf.view(ctx, who, doc_id)


@router.get("/{doc_id}/pdf", summary="Tệp PDF hiện tại (the current PDF)",
            response_class=Response)
def outgoing_pdf(doc_id: RowId, who: Principal = Depends(require(Action.OUTGOING_READ)),
                 ctx: Office = Depends(office)) -> Response:
    with ctx.session() as s:
        doc = wf.load(s, who, doc_id)
    return Response(wf.read_current(ctx, doc), media_type="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="van-ban-{doc_id}.pdf"',
                             "X-Content-Type-Options": "nosniff"})


@router.post("/{doc_id}/sign", summary="Lãnh đạo ký bằng khóa cơ quan giữ (server-side key)")
def sign(doc_id: RowId, body: SignWithServerKey,
         who: Principal = Depends(require(Action.SIGN_PERSONAL)),
         ctx: Office = Depends(office)) -> dict[str, Any]:
    return wf.sign_server_side(ctx, who, doc_id, body.password, body.box)


@router.post("/{doc_id}/sign/csc", summary="Ký số từ xa (CSC v2 remote signing)")
def sign_csc(doc_id: RowId, body: SignCsc,
             who: Principal = Depends(require(Action.SIGN_PERSONAL)),
             ctx: Office = Depends(office)) -> dict[str, Any]:
    return wf.sign_csc(ctx, who, doc_id, service_url=body.service_url,
                       access_token=body.access_token, credential_id=body.credential_id,
                       pin=body.pin, box=body.box)


@router.post("/{doc_id}/sign/prepare",
             summary="Ký bằng USB token, bước 1: chuẩn bị, trả về giá trị băm cần ký")
def sign_prepare(doc_id: RowId, body: PrepareDeferred,
                 who: Principal = Depends(require(Action.SIGN_PERSONAL)),
                 ctx: Office = Depends(office)) -> dict[str, Any]:
    certs = [_b64(body.certificate, "certificate"), *(_b64(c, "chain") for c in body.chain)]
    return wf.prepare_deferred(ctx, who, doc_id, certs, body.md, body.box)


@router.post("/{doc_id}/sign/complete",
             summary="Ký bằng USB token, bước 2: gửi chữ ký của token, hoàn tất")
def sign_complete(doc_id: RowId, body: CompleteDeferred,
                  who: Principal = Depends(require(Action.SIGN_PERSONAL)),
                  ctx: Office = Depends(office)) -> dict[str, Any]:
    return wf.complete_deferred(ctx, who, doc_id, body.pending_id,
                                _b64(body.signature, "signature"))


@router.post("/{doc_id}/number", summary="Cấp số từ sổ văn bản đi (number from the register)")
def number(doc_id: RowId, who: Principal = Depends(require(Action.NUMBER)),
           ctx: Office = Depends(office)) -> dict[str, Any]:
    return wf.number(ctx, who, doc_id)


@router.post("/{doc_id}/seal", summary="Văn thư đóng dấu (the agency's seal signature)")
def seal(doc_id: RowId, who: Principal = Depends(require(Action.SEAL)),
         ctx: Office = Depends(office)) -> dict[str, Any]:
    return wf.seal(ctx, who, doc_id)


@router.post("/{doc_id}/issue", summary="Ban hành, gửi tới nơi nhận (issue to the recipients)")
def issue(doc_id: RowId, who: Principal = Depends(require(Action.ISSUE)),
          ctx: Office = Depends(office)) -> dict[str, Any]:
    return wf.issue(ctx, who, doc_id)
