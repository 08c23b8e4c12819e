"""edXML element tree → model, strict or lenient.

Lenient (the default) reads what real systems send and records each departure from the reference
as a ``Deviation`` on the package: short agency codes, ``dd/MM/yyyy`` dates, children out of
order, unknown elements, a missing manifest entry. Strict raises ``EdxmlError`` on the first
one. What cannot be read without losing data (a bad number, a missing required element, an
attachment that does not unzip) is refused in both modes.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from enum import IntEnum
from typing import Any

from lxml import etree

from edoc.agency import AgencyCode, AgencyCodeError
from edoc.document import (
    Attachment,
    Business,
    BusinessType,
    Deviation,
    Document,
    DocumentPackage,
    EnvelopeSignature,
    Priority,
    ReplacementInfo,
    SteeringType,
)
from edoc.edxml import attachments as zipper
from edoc.edxml import spec
from edoc.edxml.b64file import Base64File
from edoc.edxml.dates import parse_date, parse_timestamp
from edoc.edxml.errors import EdxmlError
from edoc.edxml.limits import Limits
from edoc.edxml.secure import element_path
from edoc.status import StatusCode, StatusError, StatusMessage

_NS = "{" + spec.NS + "}"
_DSIG = "{" + spec.DSIG_NS + "}"


class _Reader:
    def __init__(self, strict: bool, limits: Limits, lifted: Mapping[str, memoryview]) -> None:
        self.strict = strict
        self.limits = limits
        self.lifted = lifted
        self.deviations: list[Deviation] = []

    # -- reporting -------------------------------------------------------------------------
    def fail(self, element: etree._Element | None, vi: str, en: str,
             path: str | None = None) -> EdxmlError:
        return EdxmlError(vi, en, path=path or (element_path(element) if element is not None
                                                else None),
                          line=element.sourceline if element is not None else None)

    def deviate(self, element: etree._Element, vi: str, en: str) -> None:
        if self.strict:
            raise self.fail(element, vi, en)
        self.deviations.append(Deviation(element_path(element), vi, en))

    # -- structure -------------------------------------------------------------------------
    def children(self, element: etree._Element) -> list[tuple[str, etree._Element]]:
        out = []
        for child in element:
            if not isinstance(child.tag, str):
                if isinstance(child, etree._Entity):
                    raise self.fail(child, "Không cho phép tham chiếu thực thể",
                                    "entity references are not allowed",
                                    path=element_path(element))
                continue  # comments and processing instructions carry no data
            qname = etree.QName(child)
            if qname.namespace != spec.NS and not (qname.namespace == spec.DSIG_NS
                                                   and qname.localname == "Signature"):
                self.deviate(child, f"Phần tử {qname.localname} sai không gian tên "
                             f"({qname.namespace or 'không có'})",
                             f"element {qname.localname} in the wrong namespace "
                             f"({qname.namespace or 'none'})")
            out.append((qname.localname, child))
        return out

    def index(self, element: etree._Element, expected: tuple[str, ...],
              repeatable: frozenset[str] = frozenset(), ignore: frozenset[str] = frozenset(),
              ) -> dict[str, list[etree._Element]]:
        """Children by name; unknown, repeated and out-of-order children reported."""
        found: dict[str, list[etree._Element]] = {}
        last = -1
        for name, child in self.children(element):
            if name in ignore:
                continue
            if name not in expected:
                self.deviate(child, f"Phần tử không xác định {name} (bị bỏ qua)",
                             f"unknown element {name} (ignored)")
                continue
            position = expected.index(name)
            if position < last:
                self.deviate(child, f"Phần tử {name} sai thứ tự", f"element {name} out of order")
            last = max(last, position)
            if name in found and name not in repeatable:
                raise self.fail(child, f"Phần tử {name} bị lặp", f"element {name} is repeated")
            found.setdefault(name, []).append(child)
        return found

    def one(self, found: dict[str, list[etree._Element]], name: str, parent: etree._Element,
            required: bool = False) -> etree._Element | None:
        items = found.get(name)
        if not items:
            if required:
                raise self.fail(parent, f"Thiếu phần tử bắt buộc {name}",
                                f"required element {name} is missing",
                                path=f"{element_path(parent)}/{name}")
            return None
        return items[0]

    # -- values ----------------------------------------------------------------------------
    def text(self, element: etree._Element | None) -> str | None:
        if element is None:
            return None
        for child in element:
            if isinstance(child.tag, str) or isinstance(child, etree._Entity):
                raise self.fail(element, "Phần tử phải chứa văn bản, không chứa phần tử con",
                                "element must hold text, not child elements")
        return element.text or ""

    def value(self, kind: str, element: etree._Element | None) -> Any:
        text = self.text(element)
        if text is None or kind == "str":
            return text
        assert element is not None
        stripped = text.strip()
        if not stripped:
            self.deviate(element, "Giá trị rỗng", "empty value")
            return None
        try:
            return _CONVERT[kind](self, element, stripped)
        except EdxmlError:
            raise
        except (ValueError, StatusError) as exc:
            raise self.fail(element, f"Giá trị {stripped[:40]!r} không hợp lệ",
                            f"invalid value {stripped[:40]!r}: {exc}") from None

    def agency(self, element: etree._Element, text: str) -> str:
        try:
            code = AgencyCode.parse(text)
        except AgencyCodeError as exc:
            self.deviate(element, exc.message_vi, exc.message_en)
            return text
        if code.was_short or str(code) != text:
            self.deviate(element, f"Mã định danh viết tắt/không chuẩn {text!r}, chuẩn hóa "
                         f"thành {code}", f"short or non-normal agency code {text!r}, "
                         f"normalised to {code}")
        return str(code)

    def date(self, element: etree._Element, text: str) -> Any:
        value, canonical = parse_date(text)
        if not canonical:
            self.deviate(element, f"Ngày {text!r} không theo dạng yyyy/MM/dd",
                         f"date {text!r} is not in the form yyyy/MM/dd")
        return value

    def datetime(self, element: etree._Element, text: str) -> Any:
        value, canonical = parse_timestamp(text)
        if not canonical:
            self.deviate(element, f"Thời điểm {text!r} không theo dạng yyyy/MM/dd HH:mm:ss",
                         f"timestamp {text!r} is not in the form yyyy/MM/dd HH:mm:ss")
        return value

    def boolean(self, element: etree._Element, text: str) -> bool:
        lowered = text.lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise ValueError("expected true/false")

    def enum(self, cls: type[IntEnum], element: etree._Element) -> Any:
        number = self.value("int", element)
        if number is None:
            return None
        try:
            return cls(number)
        except ValueError:
            raise self.fail(element, f"Giá trị {number} không hợp lệ cho {cls.__name__}",
                            f"value {number} is not valid for {cls.__name__}") from None

    def record(self, element: etree._Element, record: spec.Record) -> Any:
        values: dict[str, Any] = {}
        order: list[str] = []
        for name, child in self.children(element):
            leaf = record.leaf(name)
            if leaf is None:
                self.deviate(child, f"Phần tử không xác định {name} (bị bỏ qua)",
                             f"unknown element {name} (ignored)")
                continue
            if leaf.attr in values:
                raise self.fail(child, f"Phần tử {name} bị lặp", f"element {name} is repeated")
            values[leaf.attr] = self.value(leaf.kind, child)
            order.append(name)
        for leaf in record.leaves:
            if leaf.required and values.get(leaf.attr) is None:
                raise self.fail(element, f"Thiếu phần tử bắt buộc {leaf.xml}",
                                f"required element {leaf.xml} is missing",
                                path=f"{element_path(element)}/{leaf.xml}")
        obj = record.cls(**values)
        obj.order = tuple(order)
        return obj

    def list_of(self, element: etree._Element | None, item: str, kind: str = "str") -> Any:
        if element is None:
            return None
        found = self.index(element, (item,), repeatable=frozenset({item}))
        return [self.value(kind, child) for child in found.get(item, [])]

    # -- package ---------------------------------------------------------------------------
    def package(self, root: etree._Element) -> DocumentPackage | StatusMessage:
        if root.tag != _NS + "edXML":
            raise self.fail(root, "Phần tử gốc phải là edXML trong không gian tên QCVN 102",
                            f"root element must be edXML in {spec.NS}, found {root.tag}")
        top = self.index(root, ("edXMLEnvelope", "AttachmentEncoded", "Signature"))
        envelope = self.one(top, "edXMLEnvelope", root, required=True)
        env = self.index(envelope, ("edXMLHeader", "edXMLBody"))
        header = self.one(env, "edXMLHeader", envelope, required=True)
        head = self.index(header, ("MessageHeader", "TraceHeaderList", "Signature"))
        message = self.one(head, "MessageHeader", header, required=True)
        signature_el = self.one(head, "Signature", header)
        if signature_el is None:
            signature_el = self.one(top, "Signature", root)
        signature = self.signature(signature_el)
        is_status = any(name == "StatusCode" for name, _ in self.children(message))
        traces, business = self.trace_list(self.one(head, "TraceHeaderList", header))
        if is_status:
            status = self.status(message)
            status.traces = traces
            if business is not None:
                self.deviate(message, "Gói trạng thái không dùng Bussiness",
                             "a status package carries no Bussiness")
            status.signature = signature
            status.deviations = self.deviations
            return status
        document = self.document(message)
        files = self.attachments(self.one(env, "edXMLBody", envelope),
                                 self.one(top, "AttachmentEncoded", root), root)
        return DocumentPackage(document=document, business=business, traces=traces,
                               attachments=files, signature=signature,
                               deviations=self.deviations)

    def signature(self, element: etree._Element | None) -> EnvelopeSignature | None:
        if element is None:
            return None
        form = "xmldsig" if element.tag.startswith(_DSIG) else "sdk"

        def first(name: str, attr: str | None = None) -> str | None:
            for found in element.iter("{*}" + name):
                return found.get(attr) if attr else (found.text or "").strip()
            return None

        return EnvelopeSignature(form=form,
                                 signature_method=first("SignatureMethod", "Algorithm"),
                                 digest_method=first("DigestMethod", "Algorithm"),
                                 subject_name=first("X509SubjectName"))

    def document(self, message: etree._Element) -> Document:
        found = self.index(message, spec.DOCUMENT_HEADER,
                           repeatable=frozenset({"To", "ResponseFor"}))
        one = lambda name, req=False: self.one(found, name, message, req)  # noqa: E731
        sender = self.record(one("From", True), spec.ORGANIZATION)
        if not found.get("To"):
            raise self.fail(message, "Thiếu nơi nhận (To)", "no recipient (To)",
                            path=element_path(message) + "/To")
        recipients = [self.record(e, spec.ORGANIZATION) for e in found["To"]]
        seen: set[str] = set()
        for element, recipient in zip(found["To"], recipients, strict=True):
            if recipient.organ_id in seen:
                self.deviate(element, f"Nơi nhận {recipient.organ_id} bị lặp",
                             f"duplicate recipient {recipient.organ_id}")
            seen.add(recipient.organ_id)
        doc = Document(sender=sender, recipients=recipients,
                       subject=self.value("str", one("Subject", True)))
        doc.document_id = self.value("str", one("DocumentId"))
        if (code := one("Code")) is not None:
            doc.code = self.record(code, spec.CODE)
        if (info := one("PromulgationInfo")) is not None:
            parts = self.index(info, spec.PROMULGATION_INFO)
            doc.promulgation_place = self.value("str", self.one(parts, "Place", info))
            doc.promulgation_date = self.value("date", self.one(parts, "PromulgationDate", info))
        if (kind := one("DocumentType")) is not None:
            doc.document_type = self.record(kind, spec.DOCUMENT_TYPE)
        doc.content = self.value("str", one("Content"))
        if (signer := one("SignerInfo")) is not None:
            doc.signer = self.record(signer, spec.SIGNER_INFO)
        doc.due_date = self.value("date", one("DueDate"))
        if (other := one("OtherInfo")) is not None:
            self.other_info(other, doc)
        doc.response_for = [self.record(e, spec.RESPONSE_FOR) for e in found.get("ResponseFor", [])]
        steering = one("SteeringType")
        doc.steering_type = None if steering is None else self.enum(SteeringType, steering)
        doc.to_places = self.list_of(one("ToPlaces"), "Place")
        return doc

    def other_info(self, other: etree._Element, doc: Document) -> None:
        found = self.index(other, spec.OTHER_INFO)
        one = lambda name: self.one(found, name, other)  # noqa: E731
        priority = one("Priority")
        doc.priority = None if priority is None else self.enum(Priority, priority)
        doc.sphere_of_promulgation = self.value("str", one("SphereOfPromulgation"))
        doc.typer_notation = self.value("str", one("TyperNotation"))
        doc.promulgation_amount = self.value("int", one("PromulgationAmount"))
        doc.page_amount = self.value("int", one("PageAmount"))
        doc.direction = self.value("bool", one("Direction"))
        doc.appendixes = self.list_of(one("Appendixes"), "Appendix")

    def trace_list(self, element: etree._Element | None) -> tuple[list[Any], Business | None]:
        if element is None:
            return [], None
        found = self.index(element, ("TraceHeader", "Bussiness"),
                           repeatable=frozenset({"TraceHeader"}))
        traces = [self.record(e, spec.TRACE_HEADER) for e in found.get("TraceHeader", [])]
        business_el = self.one(found, "Bussiness", element)
        return traces, None if business_el is None else self.business(business_el)

    def business(self, element: etree._Element) -> Business:
        found = self.index(element, spec.BUSINESS)
        one = lambda name, req=False: self.one(found, name, element, req)  # noqa: E731
        b = Business(doc_type=self.enum(BusinessType, one("BussinessDocType", True)))
        b.document_id = self.value("str", one("DocumentId"))
        b.reason = self.value("str", one("BussinessDocReason"))
        b.paper = self.value("int", one("Paper"))
        if (staff := one("StaffInfo")) is not None:
            b.staff = self.record(staff, spec.STAFF_INFO)
        if (info := one("BussinessDocumentInfo")) is not None:
            parts = self.index(info, spec.BUSINESS_DOCUMENT_INFO)
            b.document_info = self.value("int", self.one(parts, "DocumentInfo", info))
            b.document_receiver = self.value("int", self.one(parts, "DocumentReceiver", info))
            receivers = self.one(parts, "ReceiverList", info)
            if receivers is not None:
                items = self.index(receivers, ("Receiver",), repeatable=frozenset({"Receiver"}))
                b.receivers = [self.record(e, spec.RECEIVER) for e in items.get("Receiver", [])]
        if (replacements := one("ReplacementInfoList")) is not None:
            items = self.index(replacements, ("ReplacementInfo",),
                               repeatable=frozenset({"ReplacementInfo"}))
            b.replacements = []
            for item in items.get("ReplacementInfo", []):
                parts = self.index(item, ("DocumentId", "OrganIdList"))
                document_id = self.value("str", self.one(parts, "DocumentId", item, True))
                organs = self.list_of(self.one(parts, "OrganIdList", item), "OrganId", "agency")
                b.replacements.append(ReplacementInfo(document_id, organs or []))
        return b

    def status(self, message: etree._Element) -> StatusMessage:
        found = self.index(message, spec.STATUS_HEADER)
        one = lambda name, req=False: self.one(found, name, message, req)  # noqa: E731
        code_el = one("StatusCode", True)
        code_text = (self.text(code_el) or "").strip()
        try:
            code = StatusCode.parse(code_text)
        except StatusError as exc:
            raise self.fail(code_el, exc.message_vi, exc.message_en) from None
        if code.value != code_text:
            self.deviate(code_el, f"Mã trạng thái {code_text!r} phải có hai chữ số",
                         f"status code {code_text!r} must have two digits")
        staff = one("StaffInfo")
        timestamp = self.value("datetime", one("Timestamp", True))
        if timestamp is None:
            raise self.fail(message, "Thiếu thời điểm (Timestamp)", "Timestamp is required")
        return StatusMessage(
            sender=self.record(one("From", True), spec.ORGANIZATION),
            response_for=self.record(one("ResponseFor", True), spec.RESPONSE_FOR),
            code=code,
            timestamp=timestamp,
            description=self.value("str", one("Description")),
            staff=None if staff is None else self.record(staff, spec.STAFF_INFO),
        )

    def attachments(self, body: etree._Element | None, encoded: etree._Element | None,
                    root: etree._Element) -> list[Attachment]:
        references: dict[str, etree._Element] = {}
        if body is not None:
            manifest = self.one(self.index(body, ("edXMLManifest",)), "edXMLManifest", body)
            if manifest is not None:
                items = self.index(manifest, ("Reference",), repeatable=frozenset({"Reference"}))
                for reference in items.get("Reference", []):
                    parts = self.index(reference, spec.MANIFEST_REFERENCE)
                    cid = self.value("str", self.one(parts, "ContentId", reference, True))
                    if cid in references:
                        raise self.fail(reference, f"ContentId {cid} bị lặp trong manifest",
                                        f"duplicate ContentId {cid} in the manifest")
                    references[cid] = reference
        files: list[Attachment] = []
        budget = self.limits.max_total_attachment_bytes
        if encoded is not None:
            items = self.index(encoded, ("Attachment",), repeatable=frozenset({"Attachment"}))
            for element in items.get("Attachment", []):
                attachment = self.attachment(element, budget)
                budget -= len(attachment.data)
                if attachment.content_id in {f.content_id for f in files}:
                    raise self.fail(element, f"ContentId {attachment.content_id} bị lặp",
                                    f"duplicate attachment ContentId {attachment.content_id}")
                if references.pop(str(attachment.content_id), None) is None:
                    self.deviate(element, f"Tệp {attachment.name} không có trong manifest",
                                 f"attachment {attachment.name} is not in the manifest")
                files.append(attachment)
        if references:
            cid, reference = next(iter(references.items()))
            raise self.fail(reference, f"Manifest tham chiếu {cid} nhưng không có tệp đính kèm",
                            f"the manifest references {cid} but no attachment carries it")
        return files

    def attachment(self, element: etree._Element, budget: int) -> Attachment:
        parts = self.index(element, spec.ATTACHMENT)
        one = lambda name, req=False: self.one(parts, name, element, req)  # noqa: E731
        encoded = one("ContentTransferEncoded", True)
        path = element_path(encoded)
        lifted = self.lifted.get(self.text(encoded) or "")  # text() refuses child elements
        zipped: Base64File | io.BytesIO
        if lifted is not None:  # checked strict base64, decoded as zipfile reads it
            zipped = Base64File(lifted)
        else:  # not lifted out before parsing (small, wrapped or stray characters)
            # bytes straight from libxml2: one copy of a large payload instead of str + encode
            payload = etree.tostring(encoded, method="text", encoding="utf-8", with_tail=False)
            zipped = io.BytesIO(zipper.decode_base64(payload, path, strict=self.strict))
        inner_name, data = zipper.unpack(zipped, path, self.limits, budget)
        name = self.value("str", one("AttachmentName", True))
        content_type = self.value("str", one("ContentType"))
        return Attachment(
            name=name,
            data=data,
            content_id=self.value("str", one("ContentId", True)),
            description=self.value("str", one("Description")),
            content_type="application/zip" if content_type is None else content_type,
            inner_name=None if inner_name == name else inner_name,
        )


_CONVERT: dict[str, Callable[[_Reader, etree._Element, str], Any]] = {
    "int": lambda r, e, t: int(t),
    "agency": _Reader.agency,
    "date": _Reader.date,
    "datetime": _Reader.datetime,
    "bool": _Reader.boolean,
}


def read(root: etree._Element, *, strict: bool, limits: Limits,
         lifted: Mapping[str, memoryview] | None = None) -> DocumentPackage | StatusMessage:
    """The model of a parsed package; ``lifted`` holds the attachment payloads that
    ``secure.parse_package`` took out of the text (keyed by the placeholder left instead)."""
    return _Reader(strict, limits, lifted or {}).package(root)
