"""Model → edXML bytes, in the exact style the SDK emits.

The SDK's serialisation is not what a generic XML library produces: default namespace on the
root, the same namespace bound again to the ``edXML`` prefix on the envelope (and once more on
each ``ContentTransferEncoded``), unprefixed ``AttachmentEncoded``/``Attachment`` children,
two-space indentation, CRLF line ends. Some receivers compare text rather than trees, so we write
the text ourselves; it is also several times faster than building and serialising a tree.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import uuid
from collections.abc import Iterable
from enum import Enum

from edoc.agency import AgencyCodeError, normalise
from edoc.document import Attachment, Business, Document, DocumentPackage, TraceHeader
from edoc.edxml import attachments as zipper
from edoc.edxml import spec
from edoc.edxml.dates import format_date, format_timestamp
from edoc.edxml.errors import EdxmlError
from edoc.status import StatusMessage

EOL = "\r\n"
_P = spec.PREFIX + ":"
_ESCAPE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_CID_NS = uuid.UUID("6f1c3b52-5a0e-4d55-9a39-6a2f7c1d0b10")


class _Out:
    """Indented text with the SDK's conventions."""

    def __init__(self) -> None:
        self.parts: list[str | zipper.Packed] = []  # Packed: attachment payloads, kept out of str

    def result(self) -> bytes:
        """UTF-8 bytes. Text runs are joined and encoded once; attachment payloads are
        encoded straight into one buffer of the final size (no copy of them in between)."""
        chunks: list[bytes | zipper.Packed] = []
        run: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                run.append(part)
                continue
            if run:
                chunks.append("".join(run).encode("utf-8"))
                run = []
            chunks.append(part)
        chunks.append("".join(run).encode("utf-8"))
        if len(chunks) == 1:
            return chunks[0]  # type: ignore[return-value]  # a status package: text only
        total = sum(c.size if isinstance(c, zipper.Packed) else len(c) for c in chunks)
        out = io.BytesIO()
        out.seek(total - 1)  # allocate the final size once; getvalue() then hands it over
        out.write(b"\0")
        out.seek(0)
        for chunk in chunks:
            if isinstance(chunk, zipper.Packed):
                chunk.write_to(out)
            else:
                out.write(chunk)
        return out.getvalue()

    def open(self, depth: int, name: str, attrs: str = "", prefixed: bool = True) -> None:
        tag = _P + name if prefixed else name
        self.parts.append(f"{'  ' * depth}<{tag}{attrs}>{EOL}")

    def close(self, depth: int, name: str, prefixed: bool = True) -> None:
        tag = _P + name if prefixed else name
        self.parts.append(f"{'  ' * depth}</{tag}>{EOL}")

    def leaf(self, depth: int, name: str, text: str | None, path: str,
             prefixed: bool = True, attrs: str = "") -> None:
        if text is None:
            return
        tag = _P + name if prefixed else name
        self.parts.append(f"{'  ' * depth}<{tag}{attrs}>{_escape(text, path + '/' + name)}"
                          f"</{tag}>{EOL}")


def _escape(text: str, path: str) -> str:
    bad = _INVALID.search(text)
    if bad:
        raise EdxmlError(
            f"Ký tự U+{ord(bad.group()):04X} không được phép trong XML",
            f"character U+{ord(bad.group()):04X} is not allowed in XML", path=path)
    return text.translate(_ESCAPE)


def _text(kind: str, value: object, path: str) -> str:
    if kind == "agency":
        try:
            return normalise(str(value))
        except AgencyCodeError as exc:
            raise EdxmlError(exc.message_vi, exc.message_en, path=path) from None
    if kind == "date":
        if not isinstance(value, dt.date):
            raise EdxmlError("Cần giá trị ngày", "a date is required", path=path)
        return format_date(value)
    if kind == "datetime":
        if not isinstance(value, dt.datetime) or value.tzinfo is None:
            raise EdxmlError("Cần thời điểm có múi giờ", "an aware datetime is required",
                             path=path)
        return format_timestamp(value)
    if kind == "bool":
        return "true" if value else "false"
    if kind == "int":
        return str(int(value.value if isinstance(value, Enum) else value))  # type: ignore[arg-type]
    return str(value)


def _record(out: _Out, depth: int, tag: str, obj: object, record: spec.Record,
            default_order: tuple[str, ...], path: str) -> None:
    hint = getattr(obj, "order", ()) or default_order
    names = list(dict.fromkeys([*hint, *record.default_order]))
    here = f"{path}/{tag}"
    out.open(depth, tag)
    for name in names:
        leaf = record.leaf(name)
        if leaf is None:
            continue
        value = getattr(obj, leaf.attr)
        if value is None:
            if leaf.required:
                raise EdxmlError(f"Thiếu {name}", f"{name} is required", path=f"{here}/{name}")
            continue
        out.leaf(depth + 1, name, _text(leaf.kind, value, f"{here}/{name}"), here)
    out.close(depth, tag)


def _list(out: _Out, depth: int, tag: str, item: str, values: Iterable[str] | None,
          path: str) -> None:
    if values is None:
        return
    out.open(depth, tag)
    for value in values:
        out.leaf(depth + 1, item, value, f"{path}/{tag}")
    out.close(depth, tag)


def _head(out: _Out) -> None:
    out.parts.append(f'<?xml version="1.0" encoding="UTF-8"?>{EOL}')
    out.parts.append(f'<edXML xmlns="{spec.NS}">{EOL}')
    out.open(1, "edXMLEnvelope", f' xmlns:edXML="{spec.NS}"')
    out.open(2, "edXMLHeader")
    out.open(3, "MessageHeader")


def build(package: DocumentPackage | StatusMessage) -> bytes:
    """The package as edXML bytes (unsigned; sign with ``signing.xmlsig`` afterwards)."""
    if isinstance(package, DocumentPackage):
        return _build_document(package)
    if isinstance(package, StatusMessage):
        return _build_status(package)
    raise EdxmlError("Không phải gói văn bản hay gói trạng thái",
                     f"not a document or status package: {type(package).__name__}")


def _build_document(package: DocumentPackage) -> bytes:
    out = _Out()
    _head(out)
    _document_header(out, package.document, "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader")
    out.close(3, "MessageHeader")
    _trace_list(out, package.traces, package.business)
    out.close(2, "edXMLHeader")
    cids = _content_ids(package.attachments)
    out.open(2, "edXMLBody")
    out.open(3, "edXMLManifest", ' version="1.0"')
    path = "/edXML/edXMLEnvelope/edXMLBody/edXMLManifest/Reference"
    for attachment, cid in zip(package.attachments, cids, strict=True):
        out.open(4, "Reference")
        out.leaf(5, "ContentId", cid, path)
        out.leaf(5, "ContentType", attachment.content_type, path)
        out.leaf(5, "Description", attachment.description, path)
        out.leaf(5, "AttachmentName", attachment.name, path)
        out.close(4, "Reference")
    out.close(3, "edXMLManifest")
    out.close(2, "edXMLBody")
    out.close(1, "edXMLEnvelope")
    if package.attachments:
        _attachments(out, package.attachments, cids)
    out.parts.append("</edXML>" + EOL)
    return out.result()


def _content_ids(items: list[Attachment]) -> list[str]:
    cids = []
    for index, attachment in enumerate(items):
        cid = attachment.content_id or \
            f"cid:{uuid.uuid5(_CID_NS, f'{index}:{attachment.name}:{len(attachment.data)}')}"
        if cid in cids:
            raise EdxmlError(f"ContentId {cid} bị trùng giữa các tệp đính kèm",
                             f"duplicate attachment ContentId {cid}",
                             path="/edXML/AttachmentEncoded")
        cids.append(cid)
    return cids


def _attachments(out: _Out, items: list[Attachment], cids: list[str]) -> None:
    path = "/edXML/AttachmentEncoded/Attachment"
    out.open(1, "AttachmentEncoded", prefixed=False)
    for attachment, cid in zip(items, cids, strict=True):
        if not attachment.name:
            raise EdxmlError("Tệp đính kèm thiếu tên", "attachment has no name", path=path)
        out.open(2, "Attachment", prefixed=False)
        out.leaf(3, "ContentId", cid, path, prefixed=False)
        out.leaf(3, "AttachmentName", attachment.name, path, prefixed=False)
        out.leaf(3, "Description", attachment.description, path, prefixed=False)
        out.leaf(3, "ContentType", attachment.content_type, path, prefixed=False)
        entry = attachment.zip_entry_name
        _escape(entry, path + "/ContentTransferEncoded")
        if entry.endswith(("/", "\\")):
            raise EdxmlError(f"Tên tệp trong ZIP không hợp lệ {entry!r}",
                             f"invalid ZIP entry name {entry!r}", path=path)
        out.parts.append(f'      <{_P}ContentTransferEncoded xmlns:edXML="{spec.NS}">')
        out.parts.append(zipper.pack(entry, attachment.data))
        out.parts.append(f"</{_P}ContentTransferEncoded>{EOL}")
        out.close(2, "Attachment", prefixed=False)
    out.close(1, "AttachmentEncoded", prefixed=False)


def _document_header(out: _Out, doc: Document, path: str) -> None:
    _record(out, 4, "From", doc.sender, spec.ORGANIZATION, spec.ORGANIZATION.default_order, path)
    if not doc.recipients:
        raise EdxmlError("Gói văn bản phải có ít nhất một nơi nhận (To)",
                         "a document package needs at least one recipient (To)", path=path)
    seen: set[str] = set()
    for recipient in doc.recipients:
        key = _text("agency", recipient.organ_id, f"{path}/To/OrganId")
        if key in seen:
            raise EdxmlError(f"Nơi nhận {key} bị lặp", f"duplicate recipient {key}",
                             path=f"{path}/To")
        seen.add(key)
        _record(out, 4, "To", recipient, spec.ORGANIZATION, spec.ORGANIZATION.default_order, path)
    out.leaf(4, "DocumentId", doc.document_id, path)
    if doc.code is not None:
        _record(out, 4, "Code", doc.code, spec.CODE, spec.CODE.default_order, path)
    if doc.promulgation_place is not None or doc.promulgation_date is not None:
        out.open(4, "PromulgationInfo")
        out.leaf(5, "Place", doc.promulgation_place, path)
        if doc.promulgation_date is not None:
            out.leaf(5, "PromulgationDate",
                     _text("date", doc.promulgation_date, path + "/PromulgationInfo"), path)
        out.close(4, "PromulgationInfo")
    if doc.document_type is not None:
        _record(out, 4, "DocumentType", doc.document_type, spec.DOCUMENT_TYPE,
                spec.DOCUMENT_TYPE.default_order, path)
    if doc.subject is None:
        raise EdxmlError("Thiếu trích yếu (Subject)", "Subject is required", path=path)
    out.leaf(4, "Subject", doc.subject, path)
    out.leaf(4, "Content", doc.content, path)
    if doc.signer is not None:
        _record(out, 4, "SignerInfo", doc.signer, spec.SIGNER_INFO,
                spec.SIGNER_INFO.default_order, path)
    if doc.due_date is not None:
        out.leaf(4, "DueDate", _text("date", doc.due_date, path + "/DueDate"), path)
    _other_info(out, doc, path + "/OtherInfo")
    for response in doc.response_for:
        _record(out, 4, "ResponseFor", response, spec.RESPONSE_FOR,
                spec.RESPONSE_FOR.default_order, path)
    if doc.steering_type is not None:
        out.leaf(4, "SteeringType", _text("int", doc.steering_type, path), path)
    _list(out, 4, "ToPlaces", "Place", doc.to_places, path)


def _other_info(out: _Out, doc: Document, path: str) -> None:
    values = {
        "Priority": None if doc.priority is None else _text("int", doc.priority, path),
        "SphereOfPromulgation": doc.sphere_of_promulgation,
        "TyperNotation": doc.typer_notation,
        "PromulgationAmount": None if doc.promulgation_amount is None
        else _text("int", doc.promulgation_amount, path),
        "PageAmount": None if doc.page_amount is None else _text("int", doc.page_amount, path),
        "Direction": None if doc.direction is None else _text("bool", doc.direction, path),
    }
    if all(v is None for v in values.values()) and doc.appendixes is None:
        return
    out.open(4, "OtherInfo")
    for name, value in values.items():
        out.leaf(5, name, value, path)
    _list(out, 5, "Appendixes", "Appendix", doc.appendixes, path)
    out.close(4, "OtherInfo")


def _trace_list(out: _Out, traces: list[TraceHeader], business: Business | None) -> None:
    if not traces and business is None:
        return
    path = "/edXML/edXMLEnvelope/edXMLHeader/TraceHeaderList"
    out.open(3, "TraceHeaderList")
    for trace in traces:
        _record(out, 4, "TraceHeader", trace, spec.TRACE_HEADER, spec.TRACE_HEADER.default_order,
                path)
    if business is not None:
        _business(out, business, path + "/Bussiness")
    out.close(3, "TraceHeaderList")


def _business(out: _Out, b: Business, path: str) -> None:
    out.open(4, "Bussiness")
    out.leaf(5, "DocumentId", b.document_id, path)
    out.leaf(5, "BussinessDocType", _text("int", b.doc_type, path), path)
    out.leaf(5, "BussinessDocReason", b.reason, path)
    out.leaf(5, "Paper", None if b.paper is None else _text("int", b.paper, path), path)
    if b.document_info is not None or b.document_receiver is not None or b.receivers is not None:
        out.open(5, "BussinessDocumentInfo")
        for name, value in (("DocumentInfo", b.document_info),
                            ("DocumentReceiver", b.document_receiver)):
            out.leaf(6, name, None if value is None else _text("int", value, path), path)
        if b.receivers is not None:
            out.open(6, "ReceiverList")
            for receiver in b.receivers:
                _record(out, 7, "Receiver", receiver, spec.RECEIVER, spec.RECEIVER.default_order,
                        path + "/BussinessDocumentInfo/ReceiverList")
            out.close(6, "ReceiverList")
        out.close(5, "BussinessDocumentInfo")
    if b.replacements is not None:
        out.open(5, "ReplacementInfoList")
        for info in b.replacements:
            here = path + "/ReplacementInfoList/ReplacementInfo"
            out.open(6, "ReplacementInfo")
            out.leaf(7, "DocumentId", info.document_id, here)
            out.open(7, "OrganIdList")
            for organ in info.organ_ids:
                out.leaf(8, "OrganId", _text("agency", organ, here + "/OrganIdList"), here)
            out.close(7, "OrganIdList")
            out.close(6, "ReplacementInfo")
        out.close(5, "ReplacementInfoList")
    if b.staff is not None:
        _record(out, 5, "StaffInfo", b.staff, spec.STAFF_INFO, spec.STAFF_INFO.default_order,
                path)
    out.close(4, "Bussiness")


def _build_status(status: StatusMessage) -> bytes:
    path = "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader"
    out = _Out()
    _head(out)
    _record(out, 4, "From", status.sender, spec.ORGANIZATION, spec.ORGANIZATION_STATUS_ORDER,
            path)
    _record(out, 4, "ResponseFor", status.response_for, spec.RESPONSE_FOR,
            spec.RESPONSE_FOR.default_order, path)
    if status.staff is not None:
        _record(out, 4, "StaffInfo", status.staff, spec.STAFF_INFO,
                spec.STAFF_INFO_STATUS_ORDER, path)
    out.leaf(4, "StatusCode", status.code.value, path)
    out.leaf(4, "Description", status.description, path)
    out.leaf(4, "Timestamp", _text("datetime", status.timestamp, path + "/Timestamp"), path)
    out.close(3, "MessageHeader")
    _trace_list(out, status.traces, None)
    out.close(2, "edXMLHeader")
    out.close(1, "edXMLEnvelope")
    out.parts.append("</edXML>" + EOL)
    return out.result()
