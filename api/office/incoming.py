"""Incoming documents of one agency: the inbox with each document's verdict, the clerk's and the
specialist's statuses (02–06) sent back to the sender through the node, the incoming register.

Every query filters on the caller's agency first (``documents.agency_id``, indexed with the
direction and id), so a node hosting thousands of communes answers one commune's inbox without
reading the others', and another agency's document id is simply "not found".
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from typing import Any

from sqlalchemy import Integer, bindparam, func, select
from sqlalchemy.exc import IntegrityError
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


#: what an inbox item shows, read as plain columns (``row_json(row, row)``)
_ITEM_COLUMNS = (
    m.Document.id, m.Document.state, m.Document.subject, m.Document.meta, m.Document.number,
    m.Document.notation, m.Document.doc_type, m.Document.priority, m.Document.due_date,
    m.Document.assigned_to, m.Document.external_id, m.Document.created_at,
    m.IncomingEntry.seq, m.IncomingEntry.arrived_at,
)


def row_json(doc: Any, entry: Any) -> dict[str, Any]:
    """An inbox item from a document and its register entry (ORM objects, or one row of
    ``_ITEM_COLUMNS`` passed as both; a document without entry has ``seq`` None)."""
    meta = doc.meta or {}
    arrived = entry.arrived_at if entry is not None and entry.seq is not None else None
    return {
        "id": doc.id, "state": doc.state, "subject": doc.subject,
        "code": meta.get("code"), "number": doc.number, "notation": doc.notation,
        "type_name": doc.doc_type, "priority": doc.priority,
        "due_date": vn_date(doc.due_date),
        "sender": {"code": meta.get("sender"), "name": meta.get("sender_name")},
        "arrival_number": entry.seq if entry is not None else None,
        "arrived_at": (arrived or doc.created_at).isoformat(),
        "verdict": verdict(meta.get("indications", {})),
        "assigned_to": doc.assigned_to, "document_id": doc.external_id,
        "replaced_by": meta.get("replaced_by"),
    }


def _read_by(user: Any) -> Any:
    """Whether the caller has opened the document (``document_reads``), as a column."""
    r = m.DocumentRead
    return (select(r.document_id).where(r.user_id == user, r.document_id == m.Document.id)
            .exists())


#: the inbox's filters, in the order of the statement cache's key
_FILTERS = ("state", "q", "number", "sender", "date_from", "date_to", "mine")
_INBOX_STATEMENTS: dict[tuple[bool, ...], tuple[Any, Any]] = {}


def _inbox_statements(used: tuple[bool, ...]) -> tuple[Any, Any]:
    """(page, count) statements for one combination of filters, built once with bound
    parameters: a request only binds values (no statement building, cached compilation)."""
    found = _INBOX_STATEMENTS.get(used)
    if found is not None:
        return found
    d, e = m.Document, m.IncomingEntry
    on = dict(zip(_FILTERS, used, strict=True))
    where = [d.agency_id == bindparam("agency"), d.direction == "incoming"]
    if on["state"]:
        where.append(d.state == bindparam("state"))
    if on["q"]:
        where.append(d.subject.ilike(bindparam("q")))
    if on["number"]:
        where.append(e.original_number.ilike(bindparam("number")))
    if on["sender"]:
        where.append(e.sender_code.ilike(bindparam("sender"))
                     | e.sender_name.ilike(bindparam("sender")))
    if on["date_from"]:
        where.append(e.arrived_at >= bindparam("date_from", type_=e.arrived_at.type))
    if on["date_to"]:
        where.append(e.arrived_at < bindparam("date_to", type_=e.arrived_at.type))
    if on["mine"]:
        where.append(d.assigned_to == bindparam("user"))
    # the register's row is unique per document: the count needs the join only to filter on it
    count = select(func.count(d.id)).select_from(d)
    if on["number"] or on["sender"] or on["date_from"] or on["date_to"]:
        count = count.outerjoin(e, e.document_id == d.id)
    count = count.where(*where)
    # one statement: the page as plain columns (read, never changed: no ORM objects) with the
    # total beside each row; only a page past the end needs the count on its own
    page = (select(*_ITEM_COLUMNS, count.scalar_subquery().correlate(None).label("total"),
                   _read_by(bindparam("reader")).label("read"))
            .outerjoin(e, e.document_id == d.id).where(*where).order_by(d.id.desc())
            .limit(bindparam("limit", type_=Integer))
            .offset(bindparam("offset", type_=Integer)))
    _INBOX_STATEMENTS[used] = page, count
    return page, count


def inbox(ctx: Office, who: Principal, *, state: str | None, q: str | None,
          number: str | None, sender: str | None, date_from: dt.date | None,
          date_to: dt.date | None, assigned_to_me: bool, page: int, per_page: int
          ) -> dict[str, Any]:
    tz = ctx.now().tzinfo
    values: dict[str, Any] = {
        "agency": who.agency_id, "state": state or None,
        "q": f"%{q.strip()}%" if q else None,
        "number": f"%{number.strip()}%" if number else None,
        "sender": f"%{sender.strip()}%" if sender else None,
        "date_from": dt.datetime.combine(date_from, dt.time(), tz) if date_from else None,
        "date_to": (dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), tz)
                    if date_to else None),
        "user": who.user_id if assigned_to_me else None,
    }
    used = (values["state"] is not None, values["q"] is not None, values["number"] is not None,
            values["sender"] is not None, values["date_from"] is not None,
            values["date_to"] is not None, assigned_to_me)
    page_stmt, count_stmt = _inbox_statements(used)
    params = {k: v for k, v in values.items() if v is not None}
    with ctx.session() as s:
        conn = s.connection()
        rows = conn.execute(page_stmt, {**params, "reader": who.user_id, "limit": per_page,
                                        "offset": (page - 1) * per_page}).all()
        total = rows[0].total if rows else conn.execute(count_stmt, params).scalar()
        return {"total": total, "page": page, "per_page": per_page,
                "unread": conn.execute(_UNREAD, {"agency": who.agency_id,
                                                 "reader": who.user_id}).scalar(),
                "items": [{**row_json(r, r), "read": bool(r.read)} for r in rows]}


#: how many of the agency's incoming documents the caller has not opened yet
_UNREAD = (select(func.count(m.Document.id))
           .where(m.Document.agency_id == bindparam("agency"),
                  m.Document.direction == "incoming", ~_read_by(bindparam("reader"))))


def unread_count(ctx: Office, who: Principal) -> int:
    """The caller's unread incoming documents (the badge beside "Văn bản đến")."""
    with ctx.session() as s:
        return s.connection().execute(_UNREAD, {"agency": who.agency_id,
                                                "reader": who.user_id}).scalar() or 0


def mark_read(ctx: Office, who: Principal, doc_id: int) -> None:
    """Record that the caller opened the document (once; a second open changes nothing). Its
    own short transaction, outside ``Office.transaction``: reading changes nobody's rights, so
    the session cache stays."""
    # opened at the same moment in another tab: the other insert wins, read either way
    with contextlib.suppress(IntegrityError), ctx.session() as s, s.begin():
        if s.get(m.DocumentRead, (who.user_id, doc_id)) is None:
            s.add(m.DocumentRead(user_id=who.user_id, document_id=doc_id,
                                 read_at=ctx.now()))


_d, _e, _f, _s = m.Document, m.IncomingEntry, m.DocumentFile, m.StatusEvent
#: the document view's statements, built once (a request binds the ids)
_VIEW_DOC = (select(*_ITEM_COLUMNS, _d.signer_name, _d.signer_position)
             .outerjoin(_e, _e.document_id == _d.id)
             .where(_d.id == bindparam("doc"), _d.agency_id == bindparam("agency"),
                    _d.direction == "incoming"))
_VIEW_FILES = (select(_f.id, _f.name, _f.role, _f.sha256, _f.size)
               .where(_f.document_id == bindparam("doc")).order_by(_f.id))
_VIEW_HISTORY = (select(_s.status_code, _s.description, _s.occurred_at, _s.staff)
                 .where(_s.document_id == bindparam("doc")).order_by(_s.id))


def view(ctx: Office, who: Principal, doc_id: int) -> dict[str, Any]:
    with ctx.session() as s:
        conn = s.connection()  # plain columns: read only, no ORM objects
        doc = conn.execute(_VIEW_DOC, {"doc": doc_id, "agency": who.agency_id}).first()
        if doc is None:
            raise not_found(f"văn bản đến {doc_id}", f"incoming document {doc_id}")
        out = row_json(doc, doc)
        meta = doc.meta or {}
        indications = meta.get("indications", {})
        out["files"] = [{"id": r.id, "name": r.name, "role": r.role, "sha256": r.sha256,
                         "size": r.size, "indication": indications.get(r.sha256)}
                        for r in conn.execute(_VIEW_FILES, {"doc": doc.id})]
        out["history"] = [{"code": r.status_code, "meaning_vi": _meaning(r.status_code),
                           "description": r.description, "at": r.occurred_at.isoformat(),
                           "staff": r.staff or {}}
                          for r in conn.execute(_VIEW_HISTORY, {"doc": doc.id})]
        out["signer"] = {"name": doc.signer_name, "position": doc.signer_position}
        out["versions"] = meta.get("versions", [])
        if doc.assigned_to:
            user = s.get(m.User, doc.assigned_to)
            out["assignee"] = {"id": user.id, "full_name": user.full_name} if user else None
    mark_read(ctx, who, doc_id)
    return out


def _meaning(code: str) -> str:
    try:
        return StatusCode(code).meaning_vi
    except ValueError:
        return code


def main_file_row(ctx: Office, who: Principal, doc_id: int) -> m.DocumentFile:
    """The signed original's row (hash, object key) of an incoming document of the caller's
    agency, without reading its bytes."""
    with ctx.session() as s:
        doc = load(s, who, doc_id)
        f = s.execute(select(m.DocumentFile).where(
            m.DocumentFile.document_id == doc.id, m.DocumentFile.role == "main")
            .order_by(m.DocumentFile.id)).scalars().first()
    if f is None:
        raise not_found("tệp văn bản", "document file")
    return f


def main_file(ctx: Office, who: Principal, doc_id: int) -> tuple[m.DocumentFile, bytes]:
    f = main_file_row(ctx, who, doc_id)
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
