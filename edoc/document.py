"""The official document as it travels between agencies (QCVN 102:2016 document package).

Field names are English identifiers; each docstring gives the edXML element and the Vietnamese
term so a reader can map the model to the regulation. Values are plain Python types: dates are
``datetime.date``, timestamps are timezone-aware ``datetime`` (Vietnam is +07:00).

``order`` fields (never part of equality) remember the child order a received package used for
the small records whose order varies between real senders (the SDK itself writes ``From`` and
``StaffInfo`` children in two different orders). Writing a received record back therefore
reproduces its structure; a record we create uses the SDK's usual order.
"""

from __future__ import annotations

import datetime as dt
import mimetypes
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any
from zoneinfo import ZoneInfo

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


class Priority(IntEnum):
    """Độ khẩn (OtherInfo/Priority)."""

    NORMAL = 0
    URGENT = 1
    VERY_URGENT = 2
    EXPRESS = 3
    EXPRESS_TIMED = 4

    @property
    def label_vi(self) -> str:
        return ("Thường", "Khẩn", "Thượng khẩn", "Hỏa tốc", "Hỏa tốc hẹn giờ")[self.value]


class SteeringType(IntEnum):
    """SteeringType: whether the document is a steering (chỉ đạo) document. Labels uncertain in
    the reference; the numbers are what travels."""

    NOT_STEERING = 0
    STEERING = 1
    STEERING_REPORT = 2

    @property
    def label_vi(self) -> str:
        return ("Không chỉ đạo", "Chỉ đạo", "Báo cáo chỉ đạo")[self.value]


class BusinessType(IntEnum):
    """Bussiness/BussinessDocType: what the package does to the document."""

    NEW = 0
    REVOKE = 1
    UPDATE = 2
    REPLACE = 3

    @property
    def label_vi(self) -> str:
        return ("Văn bản mới", "Thu hồi", "Cập nhật", "Thay thế")[self.value]


def _order() -> Any:
    return field(default=(), compare=False, repr=False)


@dataclass
class Organization:
    """From / To: cơ quan gửi hoặc nhận. ``organ_id`` is always the full QCVN 102 form."""

    organ_id: str
    name: str | None = None
    organization_in_charge: str | None = None
    address: str | None = None
    email: str | None = None
    telephone: str | None = None
    fax: str | None = None
    website: str | None = None
    order: tuple[str, ...] = _order()


@dataclass
class DocumentCode:
    """Code: số (CodeNumber) và ký hiệu (CodeNotation) văn bản."""

    number: str
    notation: str
    order: tuple[str, ...] = _order()

    def __str__(self) -> str:
        return f"{self.number}/{self.notation}"


@dataclass
class DocumentType:
    """DocumentType: loại văn bản (Type, TypeDetail, TypeName such as "Công văn")."""

    type: int
    detail: int | None = None
    name: str | None = None
    order: tuple[str, ...] = _order()


@dataclass
class SignerInfo:
    """SignerInfo: thẩm quyền (Competence, e.g. "TL. BỘ TRƯỞNG"), chức vụ, họ tên người ký."""

    competence: str | None = None
    position: str | None = None
    full_name: str | None = None
    order: tuple[str, ...] = _order()


@dataclass
class ResponseFor:
    """ResponseFor: the document this one (or this status) answers."""

    organ_id: str
    code: str | None = None
    promulgation_date: dt.date | None = None
    document_id: str | None = None
    order: tuple[str, ...] = _order()


@dataclass
class StaffInfo:
    """StaffInfo: cán bộ xử lý (department, name, email, mobile)."""

    department: str | None = None
    staff: str | None = None
    email: str | None = None
    mobile: str | None = None
    order: tuple[str, ...] = _order()


@dataclass
class TraceHeader:
    """TraceHeader: one hop of the package (agency and time)."""

    organ_id: str
    timestamp: dt.datetime
    order: tuple[str, ...] = _order()


@dataclass
class Receiver:
    """BussinessDocumentInfo/ReceiverList/Receiver of an update package."""

    organ_id: str
    receiver_type: int
    order: tuple[str, ...] = _order()


@dataclass
class ReplacementInfo:
    """ReplacementInfo: a replaced document and the agencies that received it."""

    document_id: str
    organ_ids: list[str] = field(default_factory=list)


@dataclass
class Business:
    """Bussiness (spelled so on the wire): new, revoke, update or replace, with reason and lists."""

    doc_type: BusinessType = BusinessType.NEW
    document_id: str | None = None
    reason: str | None = None
    paper: int | None = None
    staff: StaffInfo | None = None
    #: Update packages: whether the document info / the receivers change (0/1), and receivers.
    document_info: int | None = None
    document_receiver: int | None = None
    receivers: list[Receiver] | None = None
    #: Replacement packages.
    replacements: list[ReplacementInfo] | None = None


@dataclass
class Attachment:
    """An attached file. ``data`` is the file itself; on the wire it is zipped then base64.

    ``name`` is AttachmentName; ``inner_name`` the entry name inside the ZIP, which real senders
    set differently (the SDK kit uses a UUID): both are kept. ``content_type`` is what the package
    declares (the SDK writes ``application/zip``, the transfer form); ``media_type`` guesses the
    file's own type from its name."""

    name: str
    data: bytes
    content_id: str | None = None
    description: str | None = None
    content_type: str = "application/zip"
    inner_name: str | None = None

    @property
    def media_type(self) -> str:
        return mimetypes.guess_type(self.name)[0] or "application/octet-stream"

    @property
    def zip_entry_name(self) -> str:
        return self.inner_name or self.name


@dataclass
class EnvelopeSignature:
    """What the codec sees of an envelope signature (verification lives in ``signing.xmlsig``)."""

    form: str  # "sdk" (no XML-DSig namespace) or "xmldsig"
    signature_method: str | None = None
    digest_method: str | None = None
    subject_name: str | None = None


@dataclass
class Deviation:
    """Something a received package does that the reference does not; reported, not fatal."""

    path: str
    message_vi: str
    message_en: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message_vi} ({self.message_en})"


@dataclass
class Document:
    """MessageHeader of a document package: the metadata of one official document."""

    sender: Organization
    recipients: list[Organization]
    subject: str
    document_id: str | None = None
    code: DocumentCode | None = None
    promulgation_place: str | None = None
    promulgation_date: dt.date | None = None
    document_type: DocumentType | None = None
    content: str | None = None
    signer: SignerInfo | None = None
    due_date: dt.date | None = None
    priority: Priority | None = None
    sphere_of_promulgation: str | None = None
    typer_notation: str | None = None
    promulgation_amount: int | None = None
    page_amount: int | None = None
    direction: bool | None = None
    appendixes: list[str] | None = None
    response_for: list[ResponseFor] = field(default_factory=list)
    steering_type: SteeringType | None = None
    to_places: list[str] | None = None

    def make_document_id(self) -> str:
        """``<senderOrganId>,<yyyy/MM/dd>,<number>/<notation>`` as the reference defines it."""
        if self.code is None or self.promulgation_date is None:
            raise ValueError("document id needs the code and the promulgation date")
        return (f"{self.sender.organ_id},{self.promulgation_date:%Y/%m/%d},"
                f"{self.code.number}/{self.code.notation}")


@dataclass
class DocumentPackage:
    """A whole document package: the document, its trace, business info and attachments."""

    document: Document
    business: Business | None = None
    traces: list[TraceHeader] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    signature: EnvelopeSignature | None = field(default=None, compare=False)
    deviations: list[Deviation] = field(default_factory=list, compare=False, repr=False)

    kind = "document"


def now_vietnam() -> dt.datetime:
    """The current time in Vietnam, second precision (what timestamps on the wire carry)."""
    return dt.datetime.now(VIETNAM).replace(microsecond=0)
