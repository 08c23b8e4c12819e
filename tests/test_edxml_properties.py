"""Property tests: any package we can build parses back equal; mutated packages (bytes or
structure) give either a package or an EdxmlError, never another exception."""

from __future__ import annotations

import copy
import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
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
    DocumentType,
    Organization,
    Priority,
    Receiver,
    ReplacementInfo,
    ResponseFor,
    SignerInfo,
    StaffInfo,
    SteeringType,
    TraceHeader,
)
from edoc.status import StatusCode, StatusMessage
from signing.xmlsig import verify_envelope
from tests.paths import EDXML_SAMPLES

SAMPLES = EDXML_SAMPLES
COMMON = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=60)

text = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff")
               | st.sampled_from("\t\n\r"), max_size=40)
opt_text = st.none() | text
digits = st.integers(0, 99).map(lambda n: f"{n:02d}")
agency = st.builds(lambda v, z, y, letter, n: f"{v:03d}.{z}.{y}.{letter}{n:02d}",
                   st.sampled_from([0, 0, 0, 7, 123]), digits, digits,
                   st.sampled_from("ABCDEFGHIJK"), st.integers(1, 99))
dates = st.dates(dt.date(1990, 1, 1), dt.date(2100, 12, 31))
stamps = st.datetimes(dt.datetime(1990, 1, 1), dt.datetime(2100, 1, 1)).map(
    lambda d: d.replace(microsecond=0, tzinfo=VIETNAM))
small_int = st.integers(0, 10**6)


def organizations() -> st.SearchStrategy[Organization]:
    return st.builds(Organization, organ_id=agency, name=opt_text,
                     organization_in_charge=opt_text, address=opt_text, email=opt_text,
                     telephone=opt_text, fax=opt_text, website=opt_text)


staff = st.none() | st.builds(StaffInfo, department=opt_text, staff=opt_text, email=opt_text,
                              mobile=opt_text)
response_for = st.builds(ResponseFor, organ_id=agency, code=opt_text,
                         promulgation_date=st.none() | dates, document_id=opt_text)

documents = st.builds(
    Document,
    sender=organizations(),
    recipients=st.lists(organizations(), min_size=1, max_size=3,
                        unique_by=lambda o: o.organ_id),
    subject=text,
    document_id=opt_text,
    code=st.none() | st.builds(DocumentCode, number=text, notation=text),
    promulgation_place=opt_text,
    promulgation_date=st.none() | dates,
    document_type=st.none() | st.builds(DocumentType, type=small_int,
                                        detail=st.none() | small_int, name=opt_text),
    content=opt_text,
    signer=st.none() | st.builds(SignerInfo, competence=opt_text, position=opt_text,
                                 full_name=opt_text),
    due_date=st.none() | dates,
    priority=st.none() | st.sampled_from(Priority),
    sphere_of_promulgation=opt_text,
    typer_notation=opt_text,
    promulgation_amount=st.none() | small_int,
    page_amount=st.none() | small_int,
    direction=st.none() | st.booleans(),
    appendixes=st.none() | st.lists(text, max_size=3),
    response_for=st.lists(response_for, max_size=2),
    steering_type=st.none() | st.sampled_from(SteeringType),
    to_places=st.none() | st.lists(text, max_size=3),
)
businesses = st.none() | st.builds(
    Business,
    doc_type=st.sampled_from(BusinessType),
    document_id=opt_text,
    reason=opt_text,
    paper=st.none() | st.integers(0, 1),
    staff=staff,
    document_info=st.none() | st.integers(0, 1),
    document_receiver=st.none() | st.integers(0, 1),
    receivers=st.none() | st.lists(st.builds(Receiver, organ_id=agency,
                                             receiver_type=st.integers(0, 3)), max_size=2),
    replacements=st.none() | st.lists(st.builds(ReplacementInfo, document_id=text,
                                                organ_ids=st.lists(agency, max_size=2)),
                                      max_size=2),
)
file_names = st.text(st.characters(blacklist_categories=("Cs", "Cc"),
                                   blacklist_characters="/\\\ufffe\uffff"),
                     min_size=1, max_size=30)
attachments = st.lists(
    st.builds(Attachment, name=file_names, data=st.binary(max_size=3000),
              content_id=st.none() | st.uuids().map(lambda u: f"cid:{u}"),
              description=opt_text, content_type=text,
              inner_name=st.none() | file_names),
    max_size=3, unique_by=lambda a: a.content_id or id(a))
packages = st.builds(DocumentPackage, document=documents, business=businesses,
                     traces=st.lists(st.builds(TraceHeader, organ_id=agency, timestamp=stamps),
                                     max_size=3),
                     attachments=attachments)
statuses = st.builds(StatusMessage, sender=organizations(), response_for=response_for,
                     code=st.sampled_from(StatusCode), timestamp=stamps, description=opt_text,
                     staff=staff,
                     traces=st.lists(st.builds(TraceHeader, organ_id=agency, timestamp=stamps),
                                     max_size=2))


def _settle(package: DocumentPackage) -> None:
    """What building decides for the caller: a content id when none was given, and an inner
    ZIP name equal to the attachment name is the same as none."""
    for attachment in package.attachments:
        if attachment.inner_name == attachment.name:
            attachment.inner_name = None


@COMMON
@given(packages)
def test_any_document_package_round_trips(package: DocumentPackage) -> None:
    data = edxml.build(package)
    parsed = edxml.parse(data, strict=True)
    assert isinstance(parsed, DocumentPackage)
    for mine, theirs in zip(package.attachments, parsed.attachments, strict=True):
        if mine.content_id is None:
            assert theirs.content_id and theirs.content_id.startswith("cid:")
            mine.content_id = theirs.content_id
    _settle(package)
    assert parsed == package
    assert edxml.build(parsed) == data
    assert edxml.validate(data) == []


@COMMON
@given(statuses)
def test_any_status_package_round_trips(status: StatusMessage) -> None:
    data = edxml.build(status)
    parsed = edxml.parse(data, strict=True)
    assert parsed == status
    assert edxml.build(parsed) == data


def _small_document() -> bytes:
    package = edxml.parse((SAMPLES / "edoc_update.edxml").read_bytes())
    package.attachments[0].data = b"%PDF-1.7 tiny"
    return edxml.build(package)


def _signed_status() -> bytes:
    """A status signed in the SDK form with a throwaway key, to mutate signatures too."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from signing.xmlsig import sign_envelope

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mutation")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    return sign_envelope((SAMPLES / "status_rejection_02.edxml").read_bytes(), key, cert)


SIGNED = _signed_status()
SEEDS = [p.read_bytes() for p in sorted(SAMPLES.glob("status_*.edxml"))] + [
    _small_document(), (SAMPLES / "edoc_revocation.edxml").read_bytes(), SIGNED]


def test_the_signed_seed_verifies() -> None:
    assert verify_envelope(SIGNED).valid


@st.composite
def byte_mutations(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        where = draw(st.integers(0, len(data) - 1))
        kind = draw(st.sampled_from(["flip", "delete", "insert", "duplicate", "truncate"]))
        if kind == "flip":
            data[where] = draw(st.integers(0, 255))
        elif kind == "delete":
            del data[where:where + draw(st.integers(1, 64))]
        elif kind == "insert":
            data[where:where] = draw(st.sampled_from(
                [b"<", b">", b"&", b"&amp;", b"<x>", b"</edXML:To>", b"\x00", b"\xff\xfe",
                 b"<!DOCTYPE a>", b"]]>", b"<![CDATA[", b"&#0;", b"\xc3"]))
        elif kind == "duplicate":
            end = min(len(data), where + draw(st.integers(1, 400)))
            data[where:where] = data[where:end]
        else:
            del data[where:]
        if not data:
            data = bytearray(b"<")
    return bytes(data)


@settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(byte_mutations(), st.booleans())
def test_byte_mutations_raise_only_edxml_error(data: bytes, strict: bool) -> None:
    try:
        edxml.parse(data, strict=strict)
    except edxml.EdxmlError as error:
        assert error.message_vi and error.message_en
    report = verify_envelope(data)  # never raises either
    if report.valid:
        assert edxml.parse(data).code is StatusCode.REJECTED  # only an intact package verifies


@st.composite
def tree_mutations(draw: st.DrawFn) -> bytes:
    root = etree.fromstring(draw(st.sampled_from(SEEDS)))
    elements = [e for e in root.iter() if isinstance(e.tag, str)]
    for _ in range(draw(st.integers(1, 4))):
        target = draw(st.sampled_from(elements))
        parent = target.getparent()
        kind = draw(st.sampled_from(["remove", "duplicate", "text", "swap", "rename", "nest"]))
        if kind == "remove" and parent is not None:
            parent.remove(target)
            elements = [e for e in root.iter() if isinstance(e.tag, str)]
        elif kind == "duplicate" and parent is not None:
            parent.append(copy.deepcopy(target))
        elif kind == "text":
            target.text = draw(st.sampled_from(
                ["", " ", "-1", "99", "abc", "2015/13/45", "31/12/2020 25:61:00", "28.22.H17",
                 "000.00.00.Z99", "true", "cid:209", "UEsDBA==", "!!!", "1e9", "০১"]))
        elif kind == "swap" and parent is not None and len(parent) > 1:
            parent.insert(0, target)
        elif kind == "rename":
            target.tag = draw(st.sampled_from(["{urn:x}Other", "Plain", target.tag + "X",
                                               "{http://www.mic.gov.vn/TBT/QCVN_102_2016}To"]))
        elif kind == "nest":
            etree.SubElement(target, "{http://www.mic.gov.vn/TBT/QCVN_102_2016}OrganId").text = \
                "000.00.00.H41"
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(tree_mutations(), st.booleans())
def test_structural_mutations_raise_only_edxml_error(data: bytes, strict: bool) -> None:
    try:
        package = edxml.parse(data, strict=strict)
    except edxml.EdxmlError as error:
        assert error.message_vi and error.message_en
        return
    # whatever was accepted can be written again, or is refused with the codec's error
    try:
        edxml.build(package)
    except edxml.EdxmlError:
        assert not strict, "a strictly parsed package must be writable"
