"""The SDK kit's own packages are the ground truth: every one parses, builds back to the same
model and the same element structure, and gives its attachments out byte for byte."""

from __future__ import annotations

import base64
import datetime as dt
import io
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from edoc import edxml
from edoc.document import BusinessType, DocumentPackage, Priority, SteeringType
from edoc.status import StatusCode, StatusMessage
from tests.paths import EDXML_SAMPLES

SAMPLES = EDXML_SAMPLES
DOCUMENTS = sorted(SAMPLES.glob("edoc_*.edxml"))
STATUSES = sorted(SAMPLES.glob("status_*.edxml"))
MALFORMED = SAMPLES / "malformed" / "edoc_new_leading_garbage.edxml"
NS = "{http://www.mic.gov.vn/TBT/QCVN_102_2016}"


def test_the_kit_is_there() -> None:
    assert len(DOCUMENTS) == 4 and len(STATUSES) == 9


@pytest.mark.parametrize("path", DOCUMENTS + STATUSES, ids=lambda p: p.name)
def test_sample_parses_and_round_trips(path: Path) -> None:
    package = edxml.parse(path.read_bytes())
    again = edxml.parse(edxml.build(package))
    assert again == package
    # and a second build is byte-identical (deterministic writer)
    assert edxml.build(again) == edxml.build(package)


def _structure(data: bytes) -> list[tuple[str, str]]:
    """(element path, normalised text) for every element except the envelope signature; the
    attachment payload is compared by content elsewhere (our ZIP bytes are our own)."""
    root = etree.fromstring(data)
    out: list[tuple[str, str]] = []

    def walk(element: etree._Element, path: str) -> None:
        name = etree.QName(element)
        here = f"{path}/{{{name.namespace}}}{name.localname}"
        if name.localname == "Signature":
            return
        children = [c for c in element if isinstance(c.tag, str)]
        if children:
            out.append((here, ""))
            for child in children:
                walk(child, here)
        elif name.localname == "ContentTransferEncoded":
            out.append((here, "<payload>"))
        else:
            text = (element.text or "").strip()
            if name.localname == "OrganId":
                text = edxml_normal(text)
            out.append((here, text))

    walk(root, "")
    return out


def edxml_normal(code: str) -> str:
    from edoc.agency import normalise

    return normalise(code)


@pytest.mark.parametrize("path", DOCUMENTS + STATUSES, ids=lambda p: p.name)
def test_build_reproduces_the_sample_structure(path: Path) -> None:
    original = path.read_bytes()
    rebuilt = edxml.build(edxml.parse(original))
    assert _structure(rebuilt) == _structure(original)


@pytest.mark.parametrize("path", DOCUMENTS[:1] + STATUSES[:1], ids=lambda p: p.name)
def test_build_writes_the_sdk_style(path: Path) -> None:
    original = path.read_bytes()
    rebuilt = edxml.build(edxml.parse(original))
    lines = rebuilt.split(b"\r\n")
    assert lines[0] == original.split(b"\r\n")[0] == b'<?xml version="1.0" encoding="UTF-8"?>'
    assert lines[1] == original.split(b"\r\n")[1]  # <edXML xmlns="...">
    assert lines[2] == original.split(b"\r\n")[2]  # envelope binding the edXML prefix
    assert b"\n" not in rebuilt.replace(b"\r\n", b"")  # CRLF like the kit
    if path in DOCUMENTS:
        assert b"  <AttachmentEncoded>\r\n    <Attachment>\r\n      <ContentId>" in rebuilt
        assert b'<edXML:ContentTransferEncoded xmlns:edXML="http://www.mic.gov.vn/TBT/' \
               b'QCVN_102_2016">UEsDB' in rebuilt
        assert b"<edXML:Bussiness>" in rebuilt


def _independent_extract(data: bytes) -> list[tuple[str, str, bytes]]:
    root = etree.fromstring(data)
    out = []
    for attachment in root.iter(NS + "Attachment"):
        name = attachment.findtext(NS + "AttachmentName")
        payload = base64.b64decode(attachment.findtext(NS + "ContentTransferEncoded"))
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            (entry,) = archive.infolist()
            out.append((name, entry.filename, archive.read(entry)))
    return out


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_attachments_extract_byte_exact_with_both_names(path: Path) -> None:
    data = path.read_bytes()
    package = edxml.parse(data)
    expected = _independent_extract(data)
    assert len(package.attachments) == len(expected) == 1
    for attachment, (name, inner, content) in zip(package.attachments, expected, strict=True):
        assert attachment.name == name == "1896_QD-TTg_m_294779.doc"
        assert attachment.inner_name == inner != name
        assert attachment.data == content and len(content) == 388347
        assert attachment.content_type == "application/zip"
        assert attachment.content_id == "cid:209"
    # what we write unpacks to the same bytes under the same inner name
    rebuilt = _independent_extract(edxml.build(package))
    assert rebuilt == expected


def test_new_document_fields() -> None:
    package = edxml.parse((SAMPLES / "edoc_new.edxml").read_bytes())
    assert isinstance(package, DocumentPackage)
    doc = package.document
    assert doc.sender.organ_id == "000.00.00.A80"
    assert doc.recipients[0].organ_id == "000.28.22.H17"  # short form normalised
    assert any("28.22.H17" in d.message_en for d in package.deviations)
    assert doc.code is not None and str(doc.code) == "74fass22/VPCP-TTĐT"
    assert doc.promulgation_date == dt.date(2019, 1, 16)
    assert doc.document_type is not None and doc.document_type.name == "Công văn"
    assert doc.priority is Priority.NORMAL and doc.direction is False
    assert doc.steering_type is SteeringType.STEERING
    assert doc.appendixes == ["Công văn về việc kết nối, liên thông phần mềm quản lý văn bản"]
    assert doc.to_places == ["Cac bo va co quan ngang bo", "Uy ban nhan dan cac tinh, TP"]
    assert package.business is not None and package.business.doc_type is BusinessType.NEW
    assert package.business.staff is not None
    assert package.business.staff.staff == "Nguyễn Thị Ngọc Trâm"
    trace = package.traces[0]
    assert trace.timestamp == dt.datetime(2018, 9, 28, tzinfo=dt.timezone(dt.timedelta(hours=7)))
    assert package.signature is not None and package.signature.form == "sdk"
    assert package.signature.signature_method.endswith("rsa-sha1")
    assert package.signature.subject_name == "CN=user05"


def test_business_variants() -> None:
    update = edxml.parse((SAMPLES / "edoc_update.edxml").read_bytes())
    assert update.business.doc_type is BusinessType.UPDATE
    assert update.business.document_info == 1
    assert [(r.organ_id, r.receiver_type) for r in update.business.receivers] == [
        ("000.00.00.H41", 0), ("000.00.00.H14", 1)]
    replacement = edxml.parse((SAMPLES / "edoc_replacement.edxml").read_bytes())
    assert replacement.business.doc_type is BusinessType.REPLACE
    assert len(replacement.business.replacements) == 2
    assert replacement.business.replacements[0].organ_ids == ["000.00.00.H41", "000.00.00.H14"]
    revocation = edxml.parse((SAMPLES / "edoc_revocation.edxml").read_bytes())
    assert revocation.business.doc_type is BusinessType.REVOKE
    (response,) = revocation.document.response_for
    assert response.code == "267/VPCP-TTĐT"
    assert response.order == ("OrganId", "Code", "DocumentId", "PromulgationDate")
    assert len(revocation.document.recipients) == 3


@pytest.mark.parametrize("path", STATUSES, ids=lambda p: p.name)
def test_status_fields(path: Path) -> None:
    status = edxml.parse(path.read_bytes())
    assert isinstance(status, StatusMessage)
    assert status.code is StatusCode(path.stem.rsplit("_", 1)[1])
    assert status.response_for.code == "7816/VPCP-TTĐT"
    assert status.timestamp.isoformat() == "2015-09-20T11:08:36+07:00"
    assert status.staff is not None and status.staff.mobile == "84912000001"
    assert not status.deviations


def test_samples_pass_the_xsd() -> None:
    for path in DOCUMENTS + STATUSES:
        assert edxml.validate(path.read_bytes()) == [], path.name


def test_strict_mode_refuses_the_short_code_lenient_reports_it() -> None:
    data = (SAMPLES / "edoc_new.edxml").read_bytes()
    with pytest.raises(edxml.EdxmlError) as caught:
        edxml.parse(data, strict=True)
    assert caught.value.path.endswith("/To/OrganId")
    for path in DOCUMENTS[1:] + STATUSES:  # the others are clean
        edxml.parse(path.read_bytes(), strict=True)


def test_malformed_sample_refused_with_line_and_column_and_repairable() -> None:
    data = MALFORMED.read_bytes()
    with pytest.raises(edxml.EdxmlError) as caught:
        edxml.parse(data)
    error = caught.value
    assert (error.line, error.column) == (1, 1)
    assert "dòng 1, cột 1" in error.message_vi and "line 1, column 1" in error.message_en
    assert "repair" in error.message_en
    repaired, notes = edxml.repair(data)
    assert notes and "4 stray leading bytes" in notes[0]
    assert repaired == data[4:]
    package = edxml.parse(repaired)
    assert isinstance(package, DocumentPackage) and package.attachments[0].data
    assert edxml.repair(repaired) == (repaired, [])
