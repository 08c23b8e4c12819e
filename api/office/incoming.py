"""Incoming documents of one agency: the inbox with each document's verdict, the clerk's and the
specialist's statuses (02–06) sent back to the sender through the node, the incoming register.

Every query filters on the caller's agency first (``documents.agency_id``, indexed with the
direction and id), so a node hosting thousands of communes answers one commune's inbox without
reading the others', and another agency's document id is simply "not found".
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.office.authz import ASSIGNED_ONLY, PERMISSIONS, Action, Role
from api.office.context import Office, actor, vn_date
from api.office.errors import ApiError, not_found
from edoc.status import StatusCode
from storage.accounts import Principal
from storage.db import models as m

_ORDER = {"TOTAL_FAILED": 0, "INDETERMINATE": 1, "TOTAL_PASSED": 2}


def verdict(indications: dict[str, str]) -> str | None:
    """The document's verdict: the worst of its signed files' indications."""
    if not indications:
        return None
    return min(indications.values(), key=lambda i: _ORDER.get(i, -1))


def load(s: Session, who: Principal, doc_id: int) -> m.Document:
    doc = s.execute(select(m.Document).where(
        m.Document.id == doc_id, m.Document.agency_id == who.agency_id,
        m.Document.direction == "incoming")).scalar()
    if doc is None:
        raise not_found(f"văn bản đến {doc_id}", f"incoming document {doc_id}")
    return doc


def row_json(doc: m.Document, entry: m.IncomingEntry | None) -> dict[str, Any]:
    meta = doc.meta or {}
    return {
        "id": doc.id, "state": doc.state, "subject": doc.subject,
        "code": meta.get("code"), "number": doc.number, "notation": doc.notation,
        "type_name": doc.doc_type, "priority": doc.priority,
        "due_date": vn_date(doc.due_date),
        "sender": {"code": meta.get("sender"), "name": meta.get("sender_name")},
        "arrival_number": entry.seq if entry else None,
        "arrived_at": (entry.arrived_at if entry else doc.created_at).isoformat(),
        "verdict": verdict(meta.get("indications", {})),
        "assigned_to": doc.assigned_to, "document_id": doc.external_id,
        "replaced_by": meta.get("replaced_by"),
    }


def inbox(ctx: Office, who: Principal, *, state: str | None, q: str | None,
          number: str | None, sender: str | None, date_from: dt.date | None,
          date_to: dt.date | None, assigned_to_me: bool, page: int, per_page: int
          ) -> dict[str, Any]:
    where = [m.Document.agency_id == who.agency_id, m.Document.direction == "incoming"]
    if state:
        where.append(m.Document.state == state)
    if q:
        where.append(m.Document.subject.ilike(f"%{q.strip()}%"))
    if number:
        where.append(m.IncomingEntry.original_number.ilike(f"%{number.strip()}%"))
    if sender:
        like = f"%{sender.strip()}%"
        where.append(m.IncomingEntry.sender_code.ilike(like)
                     | m.IncomingEntry.sender_name.ilike(like))
    tz = ctx.now().tzinfo
    if date_from:
        where.append(m.IncomingEntry.arrived_at >= dt.datetime.combine(date_from, dt.time(), tz))
    if date_to:
        where.append(m.IncomingEntry.arrived_at
                     < dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), tz))
    if assigned_to_me:
        where.append(m.Document.assigned_to == who.user_id)
    base = select(m.Document, m.IncomingEntry).outerjoin(
        m.IncomingEntry, m.IncomingEntry.document_id == m.Document.id).where(*where)
    with ctx.session() as s:
        total = s.execute(select(func.count()).select_from(base.subquery())).scalar()
        rows = s.execute(base.order_by(m.Document.id.desc()).limit(per_page)
                         .offset((page - 1) * per_page)).all()
        return {"total": total, "page": page, "per_page": per_page,
                "items": [row_json(d, e) for d, e in rows]}


def view(ctx: Office, who: Principal, doc_id: int) -> dict[str, Any]:
    with ctx.session() as s:
        doc = load(s, who, doc_id)
        entry = s.execute(select(m.IncomingEntry).where(
            m.IncomingEntry.document_id == doc.id)).scalar()
        out = row_json(doc, entry)
        meta = doc.meta or {}
        out["files"] = [{"id": f.id, "name": f.name, "role": f.role, "sha256": f.sha256,
                         "size": f.size, "indication": meta.get("indications", {}).get(f.sha256)}
                        for f in s.execute(select(m.DocumentFile).where(
                            m.DocumentFile.document_id == doc.id)
                            .order_by(m.DocumentFile.id)).scalars()]
        out["history"] = [{"code": e.status_code, "meaning_vi": _meaning(e.status_code),
                           "description": e.description, "at": e.occurred_at.isoformat(),
                           "staff": e.staff or {}}
                          for e in s.execute(select(m.StatusEvent).where(
                              m.StatusEvent.document_id == doc.id)
                              .order_by(m.StatusEvent.id)).scalars()]
        out["signer"] = {"name": doc.signer_name, "position": doc.signer_position}
        out["versions"] = meta.get("versions", [])
        if doc.assigned_to:
            user = s.get(m.User, doc.assigned_to)
            out["assignee"] = {"id": user.id, "full_name": user.full_name} if user else None
        return out


def _meaning(code: str) -> str:
    try:
        return StatusCode(code).meaning_vi
    except ValueError:
        return code


def main_file(ctx: Office, who: Principal, doc_id: int) -> tuple[m.DocumentFile, bytes]:
    with ctx.session() as s:
        doc = load(s, who, doc_id)
        f = s.execute(select(m.DocumentFile).where(
            m.DocumentFile.document_id == doc.id, m.DocumentFile.role == "main")
            .order_by(m.DocumentFile.id)).scalars().first()
    if f is None:
        raise not_found("tệp văn bản", "document file")
    return f, ctx.store.get(f.object_key)


def reports(ctx: Office, who: Principal, doc_id: int) -> dict[str, Any]:
    """The validation report of each signed file, as judged when the document arrived."""
    with ctx.session() as s:
        doc = load(s, who, doc_id)
        keys = dict((doc.meta or {}).get("report_keys", {}))
        names = {f.sha256: f.name for f in s.execute(select(m.DocumentFile).where(
            m.DocumentFile.document_id == doc.id)).scalars()}
    if not keys:
        raise not_found("báo cáo kiểm tra chữ ký của văn bản này (văn bản đến trước khi có "
                        "báo cáo lưu)", "a stored validation report for this document")
    return {sha: {"name": names.get(sha), "report": json.loads(ctx.store.get(key))}
            for sha, key in keys.items()}


def unrestricted(who: Principal, action: Action) -> bool:
    """Whether one of the caller's roles grants ``action`` on any document of the agency (not
    only on those assigned to him)."""
    limited = ASSIGNED_ONLY.get(action, frozenset())
    return any(r in PERMISSIONS[action] and r not in limited for r in who.roles)


def act(ctx: Office, who: Principal, doc_id: int, code: StatusCode, action: Action, *,
        reason: str | None = None, assignee: int | None = None) -> dict[str, Any]:
    """A processing status (02–06) of the caller's agency about one of its incoming copies:
    the lifecycle is checked in the node's transaction, then the status travels back."""
    with ctx.session() as s:
        doc = load(s, who, doc_id)
        external = doc.external_id
        if not unrestricted(who, action) and doc.assigned_to != who.user_id:
            raise ApiError(403, "not_assigned", "Văn bản này không được giao cho bạn",
                           "this document is not assigned to you")
        staff = who.full_name
        if assignee is not None:
            user = s.get(m.User, assignee)
            if user is None or user.agency_id != who.agency_id or user.disabled:
                raise not_found(f"người dùng {assignee} của cơ quan",
                                f"user {assignee} of your agency")
            if Role.SPECIALIST.value not in (user.roles or []) and \
                    Role.LEADER.value not in (user.roles or []):
                raise ApiError(400, "not_specialist",
                               "Chỉ giao được cho chuyên viên hoặc lãnh đạo của cơ quan",
                               "documents are assigned to specialists or leaders only")
            staff = user.full_name
    if external is None:
        raise ApiError(409, "no_document_id", "Văn bản không có mã DocumentId để báo trạng thái",
                       "the document has no DocumentId to report on")
    ctx.node.clerk_status(external, [who.agency_code], code.value, reason, staff=staff,
                          assigned_to=assignee, actor=actor(who))
    with ctx.session() as s:
        state = load(s, who, doc_id).state
    return {"id": doc_id, "code": code.value, "state": state, "meaning_vi": code.meaning_vi,
            "meaning_en": code.meaning_en}


def register(ctx: Office, who: Principal, year: int, direction: str, page: int,
             per_page: int) -> dict[str, Any]:
    model = m.IncomingEntry if direction == "incoming" else m.OutgoingEntry
    where = [model.agency_id == who.agency_id, model.year == year]
    with ctx.session() as s:
        total = s.execute(select(func.count()).select_from(model).where(*where)).scalar()
        rows = s.execute(select(model).where(*where).order_by(model.seq)
                         .limit(per_page).offset((page - 1) * per_page)).scalars().all()
        if direction == "incoming":
            items = [{"seq": e.seq, "arrived_at": e.arrived_at.isoformat(),
                      "sender_code": e.sender_code, "sender_name": e.sender_name,
                      "original_number": e.original_number, "subject": e.subject,
                      "document": e.document_id} for e in rows]
        else:
            items = [{"seq": e.seq, "number": e.number, "notation": e.notation,
                      "code": f"{e.number}/{e.notation}", "issued_at": e.issued_at.isoformat(),
                      "subject": e.subject, "document": e.document_id} for e in rows]
    return {"year": year, "total": total, "page": page, "per_page": per_page, "items": items}
