"""The codec on packages we make and on the deviations real senders make."""

from __future__ import annotations

import base64
import datetime as dt
import io
import os
import zipfile

import pytest
from lxml import etree

from edoc import edxml
from edoc.document import (
    VIETNAM,
    Attachment,
    Business,
    BusinessType,
    Document,
    DocumentCode,
    DocumentPackage,
    Organization,
    Priority,
    TraceHeader,
)
from edoc.status import StatusCode, StatusMessage
from tests.paths import EDXML_SAMPLES

SAMPLES = EDXML_SAMPLES
NS = "{http://www.mic.gov.vn/TBT/QCVN_102_2016}"
STATUS = (SAMPLES / "status_inbox_01.edxml").read_bytes()


def make_package(**changes: object) -> DocumentPackage:
    stamp = dt.datetime(2026, 7, 1, 8, 0, 5, tzinfo=VIETNAM)
    document = Document(
        sender=Organization("000.00.00.H41", name="UBND tỉnh Nghệ An",
                            organization_in_charge="Văn phòng UBND tỉnh"),
        recipients=[Organization("000.01.00.H41", name="UBND xã Vinh Hưng"),
                    Organization("28.22.H17", name="viết tắt")],
        subject="V/v triển khai <chính quyền> hai cấp & số hóa\r\ndòng hai",
        code=DocumentCode("125", "UBND-VX"), promulgation_place="Nghệ An",
        promulgation_date=stamp.date(), priority=Priority.EXPRESS, appendixes=[],
    )
    document.document_id = document.make_document_id()
    package = DocumentPackage(
        document=document,
        business=Business(BusinessType.NEW, reason="Văn bản điện tử mới", paper=0),
        traces=[TraceHeader("000.00.00.H41", stamp)],
        attachments=[Attachment("Công văn 125.pdf", b"%PDF-1.7\n" + b"0" * 50_000,
                                content_id="cid:1"),
                     Attachment("scan.pdf", os.urandom(40_000), content_id="cid:2",
                                inner_name="0f1e.pdf")],
    )
    for key, value in changes.items():
        setattr(package, key, value)
    return package


def test_new_package_builds_strict_valid_and_round_trips() -> None:
    package = make_package()
    data = edxml.build(package)
    assert edxml.validate(data) == []
    parsed = edxml.parse(data, strict=True)
    package.document.recipients[1].organ_id = "000.28.22.H17"  # written in full, never short
    assert parsed == package
    assert b"<edXML:OrganId>000.28.22.H17</edXML:OrganId>" in data
    assert b"28.22.H17</" not in data.replace(b"000.28.22.H17", b"")
    assert b"&lt;ch\xc3\xadnh quy\xe1\xbb\x81n&gt; hai c\xe1\xba\xa5p &amp;" in data
    assert b"&#13;" in data  # a CR in text survives the XML line-end normalisation
    assert b"<edXML:Timestamp>2026/07/01 08:00:05</edXML:Timestamp>" in data
    assert parsed.document.document_id == "000.00.00.H41,2026/07/01,125/UBND-VX"
    root = etree.fromstring(data)
    sender = root.find(f".//{NS}From")
    assert [etree.QName(c).localname for c in sender] == [
        "OrganId", "OrganizationInCharge", "OrganName"]


def test_attachments_stored_or_deflated_as_fits() -> None:
    data = edxml.build(make_package())
    methods = {}
    for attachment in etree.fromstring(data).iter(NS + "Attachment"):
        raw = base64.b64decode(attachment.findtext(NS + "ContentTransferEncoded"))
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            (info,) = archive.infolist()
            methods[info.filename] = info.compress_type
    assert methods == {"Công văn 125.pdf": zipfile.ZIP_DEFLATED, "0f1e.pdf": zipfile.ZIP_STORED}


def test_timestamps_in_other_forms_are_read_and_reported() -> None:
    data = STATUS.replace(b"2015/09/20 11:08:36", b"20/09/2015 11:08:36").replace(
        b"<edXML:PromulgationDate>2015/09/30", b"<edXML:PromulgationDate>2015-09-30")
    status = edxml.parse(data)
    assert status.timestamp == dt.datetime(2015, 9, 20, 11, 8, 36, tzinfo=VIETNAM)
    assert status.response_for.promulgation_date == dt.date(2015, 9, 30)
    assert len(status.deviations) == 2
    assert b"2015/09/20 11:08:36" in edxml.build(status)  # written canonically
    with pytest.raises(edxml.EdxmlError) as caught:
        edxml.parse(data, strict=True)
    assert caught.value.path.endswith("/MessageHeader/Timestamp")
    assert "yyyy/MM/dd HH:mm:ss" in caught.value.message_en
    assert caught.value.line == 30


def test_unknown_misplaced_and_foreign_elements() -> None:
    unknown = STATUS.replace(b"<edXML:StatusCode>", b"<edXML:Extra>x</edXML:Extra>"
                             b"<edXML:StatusCode>")
    status = edxml.parse(unknown)
    assert any("unknown element Extra" in d.message_en for d in status.deviations)
    with pytest.raises(edxml.EdxmlError) as caught:
        edxml.parse(unknown, strict=True)
    assert caught.value.path == "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader/Extra"
    assert caught.value.line == 28  # the StatusCode line of the sample
    swapped = STATUS.replace(
        b"<edXML:Description>", b"<edXML:Timestamp>2015/09/20 11:08:36</edXML:Timestamp>"
        b"<edXML:Description>", 1).replace(
        b"</edXML:Description>\r\n        <edXML:Timestamp>2015/09/20 11:08:36</edXML:Timestamp>",
        b"</edXML:Description>")
    assert any("out of order" in d.message_en for d in edxml.parse(swapped).deviations)
    foreign = STATUS.replace(b"<edXML:Website>www.nghean.vn</edXML:Website>",
                             b'<w:Website xmlns:w="urn:x">www.nghean.vn</w:Website>')
    assert any("wrong namespace" in d.message_en for d in edxml.parse(foreign).deviations)
    one_digit = STATUS.replace(b"<edXML:StatusCode>01<", b"<edXML:StatusCode>1<")
    parsed = edxml.parse(one_digit)
    assert parsed.code is StatusCode.ARRIVED and parsed.deviations


@pytest.mark.parametrize("before, after, expected", [
    (b"<edXML:Priority>0</edXML:Priority>", b"<edXML:Priority>7</edXML:Priority>",
     "/OtherInfo/Priority"),
    (b"<edXML:PageAmount>22</edXML:PageAmount>", b"<edXML:PageAmount>many</edXML:PageAmount>",
     "/OtherInfo/PageAmount"),
    (b"<edXML:Subject>", b"<edXML:Subject><edXML:b>x</edXML:b>", "/MessageHeader/Subject"),
    (b"<edXML:Subject>V/v k", b"<edXML:Subject2>V/v k", "/MessageHeader/Subject"),
    (b"<edXML:OrganId>000.00.00.A80</edXML:OrganId>", b"", "/From/OrganId"),
    (b"<edXML:ContentId>cid:209</edXML:ContentId>\r\n          <edXML:ContentType>",
     b"<edXML:ContentId>cid:999</edXML:ContentId>\r\n          <edXML:ContentType>",
     "/edXMLManifest/Reference"),
])
def test_refusals_name_the_element(before: bytes, after: bytes, expected: str) -> None:
    sample = (SAMPLES / "edoc_new.edxml").read_bytes()
    assert before in sample
    broken = sample.replace(before, after, 1)
    if b"Subject2" in after:
        broken = broken.replace(b"</edXML:Subject>", b"</edXML:Subject2>", 1)
    with pytest.raises(edxml.EdxmlError) as caught:
        edxml.parse(broken)
    assert expected in caught.value.path, caught.value.path
    assert caught.value.message_vi and caught.value.message_en
    assert str(caught.value).count("(") >= 1


def test_attachment_missing_from_manifest_is_a_deviation() -> None:
    sample = (SAMPLES / "edoc_new.edxml").read_bytes()
    start = sample.index(b"<edXML:Reference>")
    end = sample.index(b"</edXML:Reference>") + len(b"</edXML:Reference>")
    package = edxml.parse(sample[:start] + sample[end:])
    assert package.attachments and any("not in the manifest" in d.message_en
                                       for d in package.deviations)


@pytest.mark.parametrize("mutate, fragment", [
    (lambda p: setattr(p.document, "recipients", []), "recipient"),
    (lambda p: p.document.recipients.append(Organization("000.01.00.H41")), "duplicate"),
    (lambda p: setattr(p.document.sender, "organ_id", "H41"), "agency code"),
    (lambda p: setattr(p.document, "subject", "bell \x07"), "U+0007"),
    (lambda p: setattr(p.traces[0], "timestamp", dt.datetime(2026, 1, 1)), "aware"),
    (lambda p: setattr(p.attachments[1], "content_id", "cid:1"), "duplicate attachment"),
    (lambda p: setattr(p.attachments[0], "name", ""), "no name"),
    (lambda p: setattr(p.attachments[1], "inner_name", "folder/"), "ZIP entry name"),
])
def test_build_refuses_what_it_cannot_write(mutate, fragment: str) -> None:
    package = make_package()
    mutate(package)
    with pytest.raises(edxml.EdxmlError) as caught:
        edxml.build(package)
    assert fragment in caught.value.message_en


def test_schema_findings_as_deviations_or_refusal() -> None:
    data = edxml.build(make_package())
    # Paper is a 0/1 flag: the reader takes any number, the XSD says what the reference allows
    bad = data.replace(b"<edXML:Paper>0</edXML:Paper>", b"<edXML:Paper>5</edXML:Paper>")
    assert bad != data
    assert edxml.parse(bad).deviations == []  # lenient, no schema: read as is
    lenient = edxml.parse(bad, schema=True)
    (finding,) = lenient.deviations
    assert "XSD" in finding.message_en and "Paper" in finding.message_en
    assert finding.path.endswith("/TraceHeaderList/Bussiness/Paper")
    with pytest.raises(edxml.EdxmlError, match="XSD"):
        edxml.parse(bad, strict=True)


def test_status_package_built_from_scratch() -> None:
    status = edxml.parse(STATUS)
    fresh = StatusMessage(sender=status.sender, response_for=status.response_for,
                          code=StatusCode.COMPLETED,
                          timestamp=dt.datetime(2026, 7, 1, 1, 2, 3, tzinfo=dt.UTC),
                          description="Hoàn thành")
    data = edxml.build(fresh)
    assert b"<edXML:Timestamp>2026/07/01 08:02:03</edXML:Timestamp>" in data  # Vietnam time
    assert b"TraceHeaderList" not in data and b"edXMLBody" not in data
    assert edxml.parse(data, strict=True) == fresh
    with pytest.raises(edxml.EdxmlError):
        edxml.build("not a package")  # type: ignore[arg-type]
