"""The element layout of edXML, as data shared by the reader, the writer and the tests.

Small records (whose children are all simple values) are described by a list of ``Leaf``: the
element name, the model attribute and the value kind. The reader and the writer both walk these
lists, so an element added here is read and written the same way. The order of each list is the
order the SDK emits; where the SDK itself uses two orders (``From`` and ``StaffInfo`` in status
packages) the second order is given separately.
"""

from __future__ import annotations

from dataclasses import dataclass

from edoc.document import (
    DocumentCode,
    DocumentType,
    Organization,
    Receiver,
    ResponseFor,
    SignerInfo,
    StaffInfo,
    TraceHeader,
)

NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
PREFIX = "edXML"


@dataclass(frozen=True)
class Leaf:
    xml: str
    attr: str
    kind: str = "str"  # str | int | date | datetime | bool | agency
    required: bool = False


@dataclass(frozen=True)
class Record:
    cls: type
    leaves: tuple[Leaf, ...]

    @property
    def default_order(self) -> tuple[str, ...]:
        return tuple(leaf.xml for leaf in self.leaves)

    def leaf(self, xml: str) -> Leaf | None:
        for leaf in self.leaves:
            if leaf.xml == xml:
                return leaf
        return None


ORGANIZATION = Record(Organization, (
    Leaf("OrganId", "organ_id", "agency", required=True),
    Leaf("OrganizationInCharge", "organization_in_charge"),
    Leaf("OrganName", "name"),
    Leaf("OrganAdd", "address"),
    Leaf("Email", "email"),
    Leaf("Telephone", "telephone"),
    Leaf("Fax", "fax"),
    Leaf("Website", "website"),
))
#: The SDK's status samples write OrganName before OrganizationInCharge.
ORGANIZATION_STATUS_ORDER = ("OrganId", "OrganName", "OrganizationInCharge", "OrganAdd",
                             "Email", "Telephone", "Fax", "Website")

CODE = Record(DocumentCode, (
    Leaf("CodeNumber", "number", required=True),
    Leaf("CodeNotation", "notation", required=True),
))
PROMULGATION_INFO = ("Place", "PromulgationDate")
DOCUMENT_TYPE = Record(DocumentType, (
    Leaf("Type", "type", "int", required=True),
    Leaf("TypeDetail", "detail", "int"),
    Leaf("TypeName", "name"),
))
SIGNER_INFO = Record(SignerInfo, (
    Leaf("Competence", "competence"),
    Leaf("Position", "position"),
    Leaf("FullName", "full_name"),
))
RESPONSE_FOR = Record(ResponseFor, (
    Leaf("OrganId", "organ_id", "agency", required=True),
    Leaf("Code", "code"),
    Leaf("PromulgationDate", "promulgation_date", "date"),
    Leaf("DocumentId", "document_id"),
))
STAFF_INFO = Record(StaffInfo, (
    Leaf("Department", "department"),
    Leaf("Staff", "staff"),
    Leaf("Email", "email"),
    Leaf("Mobile", "mobile"),
))
#: The SDK's status samples write Mobile before Email.
STAFF_INFO_STATUS_ORDER = ("Department", "Staff", "Mobile", "Email")
TRACE_HEADER = Record(TraceHeader, (
    Leaf("OrganId", "organ_id", "agency", required=True),
    Leaf("Timestamp", "timestamp", "datetime", required=True),
))
RECEIVER = Record(Receiver, (
    Leaf("OrganId", "organ_id", "agency", required=True),
    Leaf("ReceiverType", "receiver_type", "int", required=True),
))

#: MessageHeader children of a document package, in emitted order.
DOCUMENT_HEADER = ("From", "To", "DocumentId", "Code", "PromulgationInfo", "DocumentType",
                   "Subject", "Content", "SignerInfo", "DueDate", "OtherInfo", "ResponseFor",
                   "SteeringType", "ToPlaces")
OTHER_INFO = ("Priority", "SphereOfPromulgation", "TyperNotation", "PromulgationAmount",
              "PageAmount", "Direction", "Appendixes")
#: MessageHeader children of a status package, in emitted order.
STATUS_HEADER = ("From", "ResponseFor", "StaffInfo", "StatusCode", "Description", "Timestamp")
BUSINESS = ("DocumentId", "BussinessDocType", "BussinessDocReason", "Paper",
            "BussinessDocumentInfo", "ReplacementInfoList", "StaffInfo")
BUSINESS_DOCUMENT_INFO = ("DocumentInfo", "DocumentReceiver", "ReceiverList")
MANIFEST_REFERENCE = ("ContentId", "ContentType", "Description", "AttachmentName")
ATTACHMENT = ("ContentId", "AttachmentName", "Description", "ContentType",
              "ContentTransferEncoded")
