"""The outgoing workflow of an agency's document, each step with its precondition:

``draft`` → (leader signs personally) ``signed`` → (register gives the number) ``numbered`` →
(clerk seals, filling number and date) ``sealed`` → (clerk issues) ``issued``.

Each step produces a new PDF (an incremental update of the previous one, so earlier signatures
stay valid) stored immutably by SHA-256 BEFORE the transaction that records the step; the step
row, the document's new state and the audit entry commit together, and the state is checked in
that transaction (plus the row's version counter), so two clerks racing on one document cannot
both seal it. A refused step changes nothing.

Personal signatures come three ways: a key the agency keeps for the leader (PKCS#12 or HSM; the
leader types its password), deferred (the server prepares, the leader's USB token signs the digest
on his own computer, the server completes), or a CSC v2 remote-signing service.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.office.context import Office, actor, vn_date
from api.office.errors import ApiError, not_found
from storage.accounts import Principal
from storage.db import models as m

STATES = ("draft", "signed", "numbered", "sealed", "issued")
_NEXT_HINT = {
    "draft": ("lãnh đạo ký số", "the leader signs it"),
    "signed": ("văn thư cấp số", "the clerk numbers it"),
    "numbered": ("văn thư đóng dấu", "the clerk seals it"),
    "sealed": ("văn thư ban hành", "the clerk issues it"),
}
_STEP_NAMES = {
    "signed": ("ký số (chữ ký cá nhân)", "personal signature"),
    "numbered": ("cấp số", "numbering"),
    "sealed": ("đóng dấu", "seal"),
    "issued": ("ban hành", "issue"),
}


def wrong_state(doc: m.Document, wanted: str, step: str) -> ApiError:
    """Why a step cannot be taken now, and what comes first."""
    vi_step, en_step = _STEP_NAMES[step]
    hint = _NEXT_HINT.get(doc.state)
    vi = f"Chưa thể {vi_step}: văn bản đang ở trạng thái '{doc.state}', cần '{wanted}'"
    en = f"cannot do the {en_step} yet: the document is '{doc.state}', it must be '{wanted}'"
    if hint and STATES.index(doc.state) < STATES.index(wanted):
        vi += f"; bước tiếp theo: {hint[0]}"
        en += f"; next step: {hint[1]}"
    return ApiError(409, "wrong_state", vi, en, details={"state": doc.state, "needs": wanted})


def load(s: Session, who: Principal, doc_id: int, *, lock: bool = False) -> m.Document:
    """An outgoing document of the caller's agency (another agency's id is 'not found')."""
    stmt = select(m.Document).where(m.Document.id == doc_id,
                                    m.Document.agency_id == who.agency_id,
                                    m.Document.direction == "outgoing")
    doc = s.execute(stmt.with_for_update() if lock else stmt).scalar()
    if doc is None:
        raise not_found(f"văn bản đi {doc_id}", f"outgoing document {doc_id}")
    return doc


def current_file(doc: m.Document) -> dict[str, Any]:
    return dict((doc.meta or {}).get("current") or {})


def read_current(ctx: Office, doc: m.Document) -> bytes:
    return ctx.store.get(current_file(doc)["key"])


def create_draft(ctx: Office, who: Principal, meta: dict[str, Any], pdf: bytes,
                 name: str) -> dict[str, Any]:
    """A new draft of the caller's agency with its metadata; recipients must be agencies the
    node knows a route to."""
    recipients = check_recipients(ctx, meta["recipients"])
    key = ctx.store.put(pdf)
    sha = hashlib.sha256(pdf).hexdigest()
    now = ctx.now()
    with ctx.transaction() as s:
        due = meta.get("due_date")
        doc = m.Document(
            agency_id=who.agency_id, direction="outgoing", state="draft",
            notation=meta["notation"], doc_type=meta.get("type_name"), subject=meta["subject"],
            issued_place=meta.get("place") or ctx.settings.template_place,
            priority=int(meta.get("priority", 0)),
            due_date=dt.datetime.combine(due, dt.time(23, 59), now.tzinfo) if due else None,
            created_by=who.user_id,
            meta={"recipients": recipients, "signed": False,
                  "draft": {"type": int(meta.get("type", 1)), "type_name": meta.get("type_name"),
                            "competence": meta.get("competence"),
                            "to_places": list(meta.get("to_places") or []),
                            "file_name": name},
                  "current": {"key": key, "sha256": sha, "size": len(pdf)}})
        s.add(doc)
        s.flush()
        s.add(m.DocumentStep(document_id=doc.id, step="draft", user_id=who.user_id, sha256=sha,
                             object_key=key, size=len(pdf), details={"name": name}, at=now))
        ctx.audit(s, who, "draft", f"outgoing-draft:{doc.id}",
                  {"sha256": sha, "key": key, "subject": meta["subject"],
                   "recipients": sorted(recipients)})
        return {"id": doc.id, "state": doc.state, "sha256": sha}


def draft_from_template(ctx: Office, who: Principal, fields: dict[str, Any], *,
                        signer_name: str, agency_title: str | None = None,
                        signer_title: str = "CHỦ TỊCH") -> dict[str, Any]:
    """A draft made from the directive template (two pages, Decree 30 layout) with the
    drafter's metadata; the places it lists are the recipients' names unless given."""
    from api.drafting import render_directive  # noqa: PLC0415

    names = check_recipients(ctx, fields["recipients"])
    places = list(fields.get("to_places") or []) or [*names.values(), "Lưu: VT"]
    pdf = render_directive(
        agency=(agency_title or who.agency_name).upper(),
        place=fields.get("place") or ctx.settings.template_place, notation=fields["notation"],
        year=ctx.now().year, subject=fields["subject"], signer_name=signer_name,
        signer_title=signer_title,
        signing_authority=fields.get("competence") or "TM. ỦY BAN NHÂN DÂN", recipients=places)
    return create_draft(ctx, who, {**fields, "to_places": places}, pdf,
                        f"du-thao-{fields['notation']}.pdf")


def check_recipients(ctx: Office, codes: list[str]) -> dict[str, str]:
    """Recipient codes → names; an unknown or unroutable agency is refused by name."""
    from edoc.agency import AgencyCodeError, normalise  # noqa: PLC0415

    out: dict[str, str] = {}
    bad: list[str] = []
    for raw in codes:
        try:
            out[normalise(raw)] = ""
        except AgencyCodeError:
            bad.append(raw)
    if bad:
        raise ApiError(400, "unknown_agency", f"Mã cơ quan không hợp lệ: {', '.join(bad)}",
                       f"invalid agency codes: {', '.join(bad)}")
    with ctx.session() as s:
        names = dict(s.execute(select(m.Agency.code, m.Agency.name)
                               .where(m.Agency.code.in_(list(out)))).all())
    unknown = [c for c in out if c not in names]
    if unknown:
        raise ApiError(400, "unknown_agency",
                       f"Cơ quan không có trong danh bạ của nút: {', '.join(unknown)}; người "
                       "quản trị nhập danh sách cơ quan bằng 'edoc agency import'",
                       f"agencies not in this node's directory: {', '.join(unknown)}; the "
                       "operator imports the agency list with 'edoc agency import'")
    plan = ctx.node.routing.plan(list(out))
    if plan.unroutable:
        raise ApiError(400, "no_route", f"Không có đường gửi tới: {', '.join(plan.unroutable)}",
                       f"no route to: {', '.join(plan.unroutable)}")
    return {c: names[c] for c in out}


def advance(ctx: Office, who: Principal, doc_id: int, *, expect: str, new_state: str,
            pdf: bytes | None, details: dict[str, Any], changes: dict[str, Any] | None = None
            ) -> dict[str, Any]:
    """Record one step: the new PDF (stored first), the state, the step row, the audit entry."""
    key = ctx.store.put(pdf) if pdf is not None else None
    sha = hashlib.sha256(pdf).hexdigest() if pdf is not None else None
    with ctx.transaction() as s:
        doc = load(s, who, doc_id, lock=True)
        if doc.state != expect:
            raise wrong_state(doc, expect, new_state)
        meta = dict(doc.meta or {})
        if pdf is not None:
            meta["current"] = {"key": key, "sha256": sha, "size": len(pdf)}
        for name, value in (changes or {}).items():
            if name.startswith("meta."):
                meta[name[5:]] = value
            else:
                setattr(doc, name, value)
        doc.meta = meta
        doc.state = new_state
        s.add(m.DocumentStep(document_id=doc.id, step=new_state, user_id=who.user_id,
                             sha256=sha, object_key=key, size=len(pdf) if pdf else None,
                             details=details, at=ctx.now()))
        ctx.audit(s, who, new_state, f"outgoing-draft:{doc.id}",
                  {**details, "sha256": sha, "key": key})
        return {"id": doc.id, "state": new_state, "sha256": sha or current_file(doc)["sha256"]}


def require_state(ctx: Office, who: Principal, doc_id: int, state: str, step: str
                  ) -> m.Document:
    """The document, if it is in ``state`` now (checked again when the step is recorded)."""
    with ctx.session() as s:
        doc = load(s, who, doc_id)
        if doc.state != state:
            raise wrong_state(doc, state, step)
        return doc


def number(ctx: Office, who: Principal, doc_id: int) -> dict[str, Any]:
    """The register gives the next number of the year; the date of issue is today."""
    from storage.registers import Registers  # noqa: PLC0415

    now = ctx.now()
    with ctx.transaction() as s:
        doc = load(s, who, doc_id, lock=True)
        if doc.state != "signed":
            raise wrong_state(doc, "signed", "numbered")
        entry = Registers(s).issue_outgoing(who.agency_id, doc.notation, now,
                                            subject=doc.subject, document_id=doc.id)
        doc.number = entry.number
        doc.meta = {**(doc.meta or {}), "issue_date": now.date().isoformat()}
        doc.state = "numbered"
        s.add(m.DocumentStep(document_id=doc.id, step="numbered", user_id=who.user_id,
                             details={"number": entry.number, "notation": doc.notation,
                                      "year": entry.year}, at=now))
        ctx.audit(s, who, "numbered", f"outgoing-draft:{doc.id}",
                  {"number": entry.full, "year": entry.year})
        return {"id": doc.id, "state": "numbered", "number": entry.number,
                "notation": doc.notation, "code": entry.full,
                "issue_date": now.date().isoformat()}


def tsa_url(ctx: Office) -> str | None:
    return ctx.settings.tsa_url or ctx.node.cfg.audit.tsa_url


def sign_options(ctx: Office) -> dict[str, Any]:
    level = ctx.settings.signature_level
    return {"level": level, "tsa_url": tsa_url(ctx) if level != "B-B" else None,
            "check_revocation": ctx.settings.check_revocation}


def personal_appearance(ctx: Office, who: Principal, box: str | None, image: Any = None) -> Any:
    from signing.appearances import PersonalAppearance  # noqa: PLC0415

    if image is None:
        key = ctx.settings.personal_key(who.username)
        if key is not None and key.image is not None:
            image = key.image
        elif who.profile.get("signature_image"):
            image = ctx.store.get(who.profile["signature_image"])
    if image is None:
        raise ApiError(400, "no_signature_image",
                       "Chưa có ảnh chữ ký của bạn; tải ảnh chữ ký (PNG) lên trong tài khoản",
                       "you have no signature image yet; upload your signature image (PNG)")
    return PersonalAppearance(image=image, signer_name=who.full_name, box=box)


def signed_details(pdf_signer: Any, how: str) -> dict[str, Any]:
    cert = pdf_signer.signing_cert
    return {"how": how, "certificate_subject": cert.subject.human_friendly,
            "certificate_serial": str(cert.serial_number)}


def finish_personal(ctx: Office, who: Principal, doc_id: int, pdf: bytes,
                    details: dict[str, Any]) -> dict[str, Any]:
    return advance(ctx, who, doc_id, expect="draft", new_state="signed", pdf=pdf,
                   details=details, changes={"signer_name": who.full_name,
                                             "signer_position": who.position,
                                             "meta.signed": True,
                                             "meta.signer": {"user_id": who.user_id,
                                                             "name": who.full_name,
                                                             "position": who.position}})


def sign_server_side(ctx: Office, who: Principal, doc_id: int, password: str,
                     box: str | None) -> dict[str, Any]:
    from signing import sign_pdf  # noqa: PLC0415
    from signing.signers.pkcs11 import Pkcs11Signer  # noqa: PLC0415
    from signing.signers.pkcs12 import Pkcs12Signer  # noqa: PLC0415

    # the document first: another agency's id is "not found" whatever else is wrong
    doc = require_state(ctx, who, doc_id, "draft", "signed")
    key = ctx.settings.personal_key(who.username)
    if key is None:
        raise ApiError(400, "no_server_key",
                       "Cơ quan không giữ khóa ký số của bạn trên máy chủ; hãy ký bằng USB "
                       "token (ký hai bước) hoặc ký số từ xa",
                       "the agency keeps no key of yours on the server; sign with your USB "
                       "token (deferred) or remote signing")
    if key.p12 is not None:
        signer = Pkcs12Signer.load(key.p12, password)
        how = "server_key"
    else:
        signer = Pkcs11Signer.open(key.pkcs11_lib, key.token_label, password, key.key_label,
                                   chain=key.chain)
        how = "hsm"
    try:
        pdf = sign_pdf(read_current(ctx, doc), signer,
                       appearance=personal_appearance(ctx, who, box), **sign_options(ctx))
    finally:
        if how == "hsm":
            signer.close()
    return finish_personal(ctx, who, doc_id, pdf, signed_details(signer, how))


def sign_csc(ctx: Office, who: Principal, doc_id: int, *, service_url: str, access_token: str,
             credential_id: str, pin: str, box: str | None) -> dict[str, Any]:
    from signing import sign_pdf  # noqa: PLC0415
    from signing.csc.client import CscRemoteSigner  # noqa: PLC0415

    doc = require_state(ctx, who, doc_id, "draft", "signed")  # first: see sign_server_side
    if service_url.rstrip("/") not in [u.rstrip("/") for u in ctx.settings.csc_urls]:
        raise ApiError(400, "csc_not_allowed",
                       f"Dịch vụ ký số từ xa {service_url} không được cơ quan cho phép",
                       f"the remote signing service {service_url} is not allowed here")
    signer = CscRemoteSigner(service_url, credential_id, token=access_token, pin=pin)
    pdf = sign_pdf(read_current(ctx, doc), signer,
                   appearance=personal_appearance(ctx, who, box), **sign_options(ctx))
    return finish_personal(ctx, who, doc_id, pdf, {**signed_details(signer, "csc"),
                                                  "service": service_url})


def prepare_deferred(ctx: Office, who: Principal, doc_id: int, certificates: list[bytes],
                     md: str, box: str | None) -> dict[str, Any]:
    """Step 1 of token signing: the PDF with the signature's place reserved, and the digest
    the token must sign. The pending state waits in the database (its PDF in the store)."""
    from asn1crypto import x509  # noqa: PLC0415

    from signing.deferred import prepare_deferred as prepare  # noqa: PLC0415

    doc = require_state(ctx, who, doc_id, "draft", "signed")  # first: see sign_server_side
    try:
        certs = [x509.Certificate.load(c) for c in certificates]
        _ = [c.subject for c in certs]
    except (ValueError, TypeError) as exc:
        raise ApiError(400, "bad_certificate", "Chứng thư số gửi lên không đọc được (cần DER, "
                       "base64)", f"the certificate cannot be read (DER, base64): {exc}"
                       ) from exc
    opts = sign_options(ctx)
    pending = prepare(read_current(ctx, doc), certs[0], certs[1:],
                      appearance=personal_appearance(ctx, who, box), md=md,
                      level=opts["level"], tsa_url=opts["tsa_url"],
                      check_revocation=opts["check_revocation"])
    state = pending.to_json()
    body = state.pop("document")
    import base64  # noqa: PLC0415

    pending_key = ctx.store.put(base64.b64decode(body))
    with ctx.transaction() as s:
        doc = load(s, who, doc_id, lock=True)
        if doc.state != "draft":
            raise wrong_state(doc, "draft", "signed")
        step = m.DocumentStep(document_id=doc.id, step="sign_prepared", user_id=who.user_id,
                              object_key=pending_key, details={"pending": state},
                              at=ctx.now())
        s.add(step)
        s.flush()
        ctx.audit(s, who, "sign_prepared", f"outgoing-draft:{doc.id}",
                  {"pending": step.id, "digest": pending.digest_to_sign.hex(), "md": md,
                   "certificate_subject": certs[0].subject.human_friendly})
        return {"pending_id": step.id, "md": pending.md,
                "digest": base64.b64encode(pending.digest_to_sign).decode("ascii"),
                "digest_hex": pending.digest_to_sign.hex(),
                "mechanism": "rsassa_pss" if pending.prefer_pss else "rsassa_pkcs1v15_or_ecdsa",
                "level": pending.level}


def complete_deferred(ctx: Office, who: Principal, doc_id: int, pending_id: int,
                      signature: bytes) -> dict[str, Any]:
    """Step 3: the token's signature value is checked against the certificate and embedded."""
    import base64  # noqa: PLC0415

    from signing.deferred import PendingSignature  # noqa: PLC0415
    from signing.deferred import complete_deferred as complete  # noqa: PLC0415

    with ctx.session() as s:
        doc = load(s, who, doc_id)
        step = s.execute(select(m.DocumentStep).where(
            m.DocumentStep.id == pending_id, m.DocumentStep.document_id == doc.id,
            m.DocumentStep.step == "sign_prepared")).scalar()
        if step is None or step.user_id != who.user_id:
            raise not_found(f"yêu cầu ký {pending_id}", f"signing request {pending_id}")
        latest = s.execute(select(func.max(m.DocumentStep.id)).where(
            m.DocumentStep.document_id == doc.id, m.DocumentStep.step == "sign_prepared")
        ).scalar()
        if doc.state != "draft":
            raise wrong_state(doc, "draft", "signed")
        if latest != step.id:
            raise ApiError(409, "stale_signing_request",
                           "Yêu cầu ký này đã được thay bằng yêu cầu mới; ký lại theo yêu cầu "
                           "mới nhất", "a newer signing request replaced this one; sign the "
                           "newest one")
        state = {**step.details["pending"],
                 "document": base64.b64encode(ctx.store.get(step.object_key)).decode("ascii")}
    pending = PendingSignature.from_json(state)
    pdf = complete(pending, signature)
    from asn1crypto import x509  # noqa: PLC0415

    cert = x509.Certificate.load(pending.certificate)
    return finish_personal(ctx, who, doc_id, pdf, {
        "how": "deferred", "pending": pending_id,
        "certificate_subject": cert.subject.human_friendly,
        "certificate_serial": str(cert.serial_number)})


def seal(ctx: Office, who: Principal, doc_id: int) -> dict[str, Any]:
    """The clerk applies the agency's seal signature, writing number and date in the fields
    the personal signature prepared."""
    from signing import sign_pdf  # noqa: PLC0415
    from signing.appearances import SealAppearance  # noqa: PLC0415
    from signing.signers.pkcs12 import Pkcs12Signer  # noqa: PLC0415

    doc = require_state(ctx, who, doc_id, "numbered", "sealed")
    key = ctx.settings.seal_for(who.agency_code)
    if key is None:
        raise ApiError(400, "no_seal_key",
                       f"Nút chưa được cấu hình khóa dấu của cơ quan {who.agency_code} "
                       "([[office.seals]]); báo người quản trị",
                       f"no seal key is configured for agency {who.agency_code} "
                       "([[office.seals]]); tell the operator")
    signer = Pkcs12Signer.load(key.p12, key.secret())
    issue_date = dt.date.fromisoformat(doc.meta["issue_date"])
    pdf = sign_pdf(read_current(ctx, doc), signer, appearance=SealAppearance(
        image=key.image, number=f"{doc.number}/{doc.notation}", issue_date=issue_date),
        **sign_options(ctx))
    return advance(ctx, who, doc_id, expect="numbered", new_state="sealed", pdf=pdf,
                   details=signed_details(signer, "seal"))


def issue(ctx: Office, who: Principal, doc_id: int) -> dict[str, Any]:
    """Issue the sealed document through the node: one package per next hop, in the same
    transaction that marks it issued."""
    from edoc.document import (  # noqa: PLC0415
        Attachment,
        Document,
        DocumentCode,
        DocumentType,
        Organization,
        Priority,
        SignerInfo,
    )

    doc = require_state(ctx, who, doc_id, "sealed", "issued")
    meta = doc.meta or {}
    draft = meta.get("draft", {})
    data = read_current(ctx, doc)
    name = f"{doc.number}-{doc.notation}.pdf".replace("/", "-")
    document = Document(
        sender=Organization(who.agency_code, who.agency_name),
        recipients=[Organization(c, n or None) for c, n in meta["recipients"].items()],
        subject=doc.subject or "", code=DocumentCode(doc.number, doc.notation),
        promulgation_place=doc.issued_place,
        promulgation_date=dt.date.fromisoformat(meta["issue_date"]),
        document_type=DocumentType(int(draft.get("type", 1)), name=draft.get("type_name")),
        signer=SignerInfo(draft.get("competence"), doc.signer_position, doc.signer_name),
        due_date=doc.due_date.astimezone(ctx.now().tzinfo).date() if doc.due_date else None,
        priority=Priority(int(doc.priority or 0)), to_places=draft.get("to_places") or None)
    result = ctx.node.issue(document, [Attachment(name=name, data=data)], draft_id=doc.id,
                            actor=actor(who))
    with ctx.transaction() as s:
        s.add(m.DocumentStep(document_id=doc.id, step="issued", user_id=who.user_id,
                             sha256=hashlib.sha256(data).hexdigest(), details={
                                 "document_id": result["document_id"], "hops": result["hops"]},
                             at=ctx.now()))
    return {"id": doc.id, "state": "issued", "document_id": result["document_id"],
            "hops": result["hops"]}


def view(ctx: Office, who: Principal, doc_id: int) -> dict[str, Any]:
    with ctx.session() as s:
        doc = load(s, who, doc_id)
        steps = s.execute(select(m.DocumentStep, m.User.username, m.User.full_name)
                          .outerjoin(m.User, m.User.id == m.DocumentStep.user_id)
                          .where(m.DocumentStep.document_id == doc.id)
                          .order_by(m.DocumentStep.id)).all()
        out = summary(doc)
        out["steps"] = [{"step": st.step, "at": st.at.isoformat(), "by": username,
                         "by_name": name, "sha256": st.sha256,
                         **{k: v for k, v in st.details.items() if k != "pending"}}
                        for st, username, name in steps]
    meta = doc.meta or {}
    out["recipients"] = [{"code": c, "name": n} for c, n in meta.get("recipients", {}).items()]
    out["file"] = current_file(doc)
    out["next"] = _NEXT_HINT.get(doc.state, (None, None))[1]
    if doc.state in ("issued", "updated", "replaced") and doc.external_id:
        out["tracking"] = ctx.node.tracking_report(doc.external_id)
    return out


def summary(doc: m.Document) -> dict[str, Any]:
    meta = doc.meta or {}
    return {"id": doc.id, "state": doc.state, "subject": doc.subject,
            "number": doc.number, "notation": doc.notation,
            "code": f"{doc.number}/{doc.notation}" if doc.number else None,
            "type_name": doc.doc_type, "priority": doc.priority,
            "due_date": vn_date(doc.due_date),
            "issue_date": meta.get("issue_date"), "document_id": doc.external_id,
            "signer_name": doc.signer_name, "created_at": doc.created_at.isoformat(),
            "recipients_count": len(meta.get("recipients", {}))}
