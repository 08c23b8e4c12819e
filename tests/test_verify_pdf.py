"""verify_pdf on our own output: signing.sign_pdf + Decree 30 appearances on a drafted directive,
validated against the development root with the real TSA/OCSP/CRL server, and cross-checked
with poppler's pdfsig."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers

from api.drafting import render_directive
from signing import sign_pdf
from signing.appearances import PersonalAppearance, SealAppearance
from signing.devpki import Manifest, create
from signing.signers.pkcs12 import Pkcs12Signer
from signing.trust import TrustStore
from signing.validation import (
    Indication,
    Level,
    RevocationStatus,
    SubIndication,
    clear_caches,
    verify_pdf,
)
from tests.fixtures.pki import free_port
from tests.report_keys import SIGNATURE_KEYS
from tests.test_verify_conformance import pdfsig_intact

pytestmark = pytest.mark.timeout(120)


def signer(pki: Manifest, entity: str, **kw) -> Pkcs12Signer:
    e = pki.entity(entity)
    return Pkcs12Signer.load(e.p12, e.password, **kw)


def personal_then_seal(pki: Manifest, doc: bytes, **kw) -> bytes:
    personal = sign_pdf(
        doc,
        signer(pki, "official-h41"),
        appearance=PersonalAppearance(pki.entity("official-h41").image),
        **kw,
    )
    return sign_pdf(
        personal,
        signer(pki, "agency-h41"),
        appearance=SealAppearance(pki.entity("agency-h41").image, number="15/CT-UBND"),
        **kw,
    )


@pytest.fixture(scope="module")
def trust(dev_pki) -> TrustStore:
    return TrustStore.from_dirs([dev_pki.root.parent], development=True)


@pytest.fixture(scope="module")
def directive() -> bytes:
    return render_directive()


@pytest.fixture(scope="module")
def signed(pki_server, directive) -> bytes:
    return personal_then_seal(pki_server, directive)


def incremental(data: bytes, edit) -> bytes:
    w = IncrementalPdfFileWriter(io.BytesIO(data))
    edit(w)
    out = io.BytesIO()
    w.write(out)
    return out.getvalue()


def kinds(report) -> set[tuple[str, bool]]:
    return {(c.kind, c.allowed) for s in report.signatures for c in s.changes}


def test_personal_and_seal_pass_against_dev_root(signed, trust, tmp_path):
    clear_caches()
    report = verify_pdf(signed, trust=trust)
    assert report.indication is Indication.TOTAL_PASSED, [s.summary_en for s in report.signatures]
    personal, seal = report.signatures
    assert personal.signer.kind == "personal" and "CCCD" in personal.signer.ids
    assert seal.signer.kind == "agency" and {"MST", "MNS"} & set(seal.signer.ids)
    assert report.decree30.applicable and report.decree30.passed
    for s in report.signatures:
        assert s.intact and s.trusted and s.level is Level.B_B
        assert s.revocation.status is RevocationStatus.GOOD and s.revocation.source == "OCSP"
        assert s.signing_time is not None and "(DEV)" in s.issuer
        assert s.summary_vi.startswith("Chữ ký hợp lệ") and "Người ký" in s.summary_vi
        assert "Thời hạn chứng thư" in s.summary_vi and "Tổ chức cấp chứng thư" in s.summary_vi
    # the seal came after the personal signature: allowed changes, named
    assert {c.kind for c in personal.changes} >= {"signature_added"}
    assert all(c.allowed for c in personal.changes) and not seal.changes
    d = report.to_dict()
    for key in SIGNATURE_KEYS:
        assert key in d["signatures"][0]
    path = tmp_path / "signed.pdf"
    path.write_bytes(signed)
    assert set(pdfsig_intact(path).values()) == {True}


def test_cache_makes_repeat_free(signed, trust):
    first = verify_pdf(signed, trust=trust)
    assert verify_pdf(signed, trust=trust) is first
    other = verify_pdf(signed, trust=TrustStore(), revocation="off")
    assert other is not first and other.indication is Indication.INDETERMINATE


def test_a_validator_failing_midway_is_reported_and_not_kept(signed, trust, dev_pki,
                                                             monkeypatch):
    """An exception inside the validator (a bug, a library hiccup) is reported, never raised,
    and is not a verdict on the file: neither verify_pdf's cache nor a node's Verifier keeps it,
    so the next arrival of the same bytes is verified afresh. A kept failure would refuse every
    later copy of a good directive for the life of the process."""
    from exchange_axis.verification import Verifier
    from signing.validation import pdf as pdf_mod

    real, calls = pdf_mod._verify, []

    def hiccup(data, opts, hashes):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a passing fault")
        return real(data, opts, hashes)

    clear_caches()
    monkeypatch.setattr(pdf_mod, "_verify", hiccup)
    first = verify_pdf(signed, trust=trust)
    assert first.indication is Indication.TOTAL_FAILED
    assert "RuntimeError: a passing fault" in first.errors[0]
    assert verify_pdf(signed, trust=trust).indication is Indication.TOTAL_PASSED
    clear_caches()
    calls.clear()
    verifier = Verifier(trust_dirs=[dev_pki.root.parent])
    assert not verifier.check_pdf(signed).passed
    assert verifier.check_pdf(signed).passed and verifier.count == 2
    assert verifier.check_pdf(signed).passed and verifier.count == 2  # a verdict is kept


def test_byte_flipped_in_signed_range_is_hash_failure(signed, trust, tmp_path):
    report0 = verify_pdf(signed, trust=trust, revocation="off")
    start = report0.signatures[0].facts.byte_range[1] // 2
    data = bytearray(signed)
    # flip a byte of a content stream (not a delimiter) so the parser still reads the file
    pos = data.index(b"stream", start) + 20
    data[pos] ^= 0x01
    report = verify_pdf(bytes(data), trust=trust, revocation="off")
    assert report.indication is Indication.TOTAL_FAILED
    first = report.signatures[0]
    assert (first.indication, first.sub_indication) == (
        Indication.TOTAL_FAILED,
        SubIndication.HASH_FAILURE,
    )
    assert not first.intact and "KHÔNG toàn vẹn" in first.summary_vi
    path = tmp_path / "flipped.pdf"
    path.write_bytes(bytes(data))
    theirs = pdfsig_intact(path)
    ours = {tuple(s.facts.byte_range): s.intact for s in report.signatures}
    assert all(ours[k] == v for k, v in theirs.items())


def _append_page(w: IncrementalPdfFileWriter) -> None:
    content = w.add_object(
        generic.StreamObject(stream_data=b"BT /F1 24 Tf 72 700 Td (Trang gia mao) Tj ET")
    )
    page = generic.DictionaryObject(
        {
            generic.NameObject("/Type"): generic.NameObject("/Page"),
            generic.NameObject("/MediaBox"): generic.ArrayObject(
                [generic.NumberObject(x) for x in (0, 0, 595, 842)]
            ),
            generic.NameObject("/Resources"): generic.DictionaryObject(),
            generic.NameObject("/Contents"): content,
        }
    )
    w.insert_page(page)


def test_page_appended_in_incremental_update_fails(signed, trust, tmp_path):
    tampered = incremental(signed, _append_page)
    report = verify_pdf(tampered, trust=trust, revocation="off")
    assert report.indication is Indication.TOTAL_FAILED
    assert all(s.indication is Indication.TOTAL_FAILED for s in report.signatures)
    assert ("pages_added", False) in kinds(report)
    assert all(s.intact for s in report.signatures)  # the bytes are intact: the change is not
    path = tmp_path / "appended.pdf"
    path.write_bytes(tampered)
    assert set(pdfsig_intact(path).values()) == {True}


def raw_update(data: bytes, bodies: dict[int, bytes]) -> bytes:
    """Append a hand-written incremental update redefining objects, as an attacker would."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(data))
    prev = reader.xrefs.get_startxref_for_revision(reader.xrefs.total_revisions - 1)
    size = int(reader.trailer["/Size"])
    root = reader.trailer.raw_get("/Root").reference
    out = bytearray(data)
    offsets = {}
    for num, body in sorted(bodies.items()):
        offsets[num] = len(out)
        out += b"%d 0 obj\n" % num + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n"
    for num, off in sorted(offsets.items()):
        out += b"%d 1\n%010d 00000 n \n" % (num, off)
    out += b"trailer\n<< /Size %d /Root %d %d R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n" % (
        size,
        root.idnum,
        root.generation,
        prev,
        xref,
    )
    return bytes(out)


def test_content_stream_replaced_fails(signed, trust):
    from pyhanko.pdf_utils.reader import PdfFileReader

    page = PdfFileReader(io.BytesIO(signed)).root["/Pages"]["/Kids"][0].get_object()
    contents = page.raw_get("/Contents")
    ref = contents[0] if isinstance(contents, generic.ArrayObject) else contents
    text = b"BT /F1 24 Tf 72 700 Td (Noi dung khac) Tj ET"
    body = b"<< /Length %d >>\nstream\n" % len(text) + text + b"\nendstream"
    tampered = raw_update(signed, {ref.idnum: body})
    report = verify_pdf(tampered, trust=trust, revocation="off")
    assert report.indication is Indication.TOTAL_FAILED
    assert ("objects_replaced", False) in kinds(report)
    assert all(s.intact for s in report.signatures)


def edit_reason(w):
    field = next(
        f.get_object()
        for f in w.root["/AcroForm"]["/Fields"]
        if f.get_object().get("/FT") == "/Sig"
    )
    sig_ref = field.raw_get("/V")
    sig = sig_ref.get_object()
    sig[generic.NameObject("/Reason")] = generic.TextStringObject("Lý do giả mạo")
    w.mark_update(sig_ref)


def test_signature_dictionary_edited_fails(signed, trust):
    tampered = incremental(signed, edit_reason)
    report = verify_pdf(tampered, trust=trust, revocation="off")
    assert report.signatures[0].indication is Indication.TOTAL_FAILED
    assert ("signature_dictionary_edited", False) in kinds(report)


def add_note(w):
    page_ref = w.root["/Pages"]["/Kids"].raw_get(0)
    page = page_ref.get_object()
    note = w.add_object(
        generic.DictionaryObject(
            {
                generic.NameObject("/Type"): generic.NameObject("/Annot"),
                generic.NameObject("/Subtype"): generic.NameObject("/Text"),
                generic.NameObject("/Rect"): generic.ArrayObject(
                    [generic.NumberObject(x) for x in (50, 50, 70, 70)]
                ),
                generic.NameObject("/Contents"): generic.TextStringObject("Đã xem"),
            }
        )
    )
    annots = page.get("/Annots")
    arr = generic.ArrayObject(list(annots) if annots else [])
    arr.append(note)
    page[generic.NameObject("/Annots")] = arr
    w.mark_update(page_ref)


def test_annotation_added_is_allowed_and_listed(signed, trust):
    report = verify_pdf(incremental(signed, add_note), trust=trust, revocation="off")
    assert ("annotations", True) in kinds(report)
    assert all(s.indication is not Indication.TOTAL_FAILED for s in report.signatures)


def test_revoked_signer_fails_revoked(pki_server, directive, trust):
    clear_caches()
    pdf = sign_pdf(
        directive,
        signer(pki_server, "revoked"),
        check_revocation=False,
        appearance=PersonalAppearance(
            pki_server.entity("official-h41").image, box=None, signer_name="Nguyễn Văn An"
        ),
    )
    sig = verify_pdf(pdf, trust=trust).signatures[0]
    assert sig.revocation.status is RevocationStatus.REVOKED
    assert (sig.indication, sig.sub_indication) == (Indication.TOTAL_FAILED, SubIndication.REVOKED)


def test_expired_signer_is_out_of_bounds(dev_pki, directive, trust):
    # signing.sign_pdf refuses an expired certificate, so sign with pyHanko directly
    s = signer(dev_pki, "expired")
    meta = signers.PdfSignatureMetadata(
        field_name="Expired", subfilter=fields.SigSeedSubFilter.PADES
    )
    out = signers.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(directive)), meta, signer=s)
    sig = verify_pdf(out.getvalue(), trust=trust, revocation="off").signatures[0]
    assert sig.intact
    assert sig.indication is not Indication.TOTAL_PASSED
    assert (sig.indication, sig.sub_indication) == (
        Indication.INDETERMINATE,
        SubIndication.OUT_OF_BOUNDS_NO_POE,
    )


def test_no_trust_anchor_is_indeterminate(signed):
    report = verify_pdf(signed, trust=TrustStore(), revocation="off")
    assert report.indication is Indication.INDETERMINATE
    assert {s.sub_indication for s in report.signatures} == {
        SubIndication.NO_CERTIFICATE_CHAIN_FOUND
    }
    assert all(s.intact and not s.trusted for s in report.signatures)


def test_dev_root_refused_in_production(signed, dev_pki):
    store = TrustStore.from_dirs([dev_pki.root.parent], development=False)
    report = verify_pdf(signed, trust=store, revocation="off")
    assert report.indication is Indication.INDETERMINATE


def test_chain_built_from_store_when_pdf_embeds_only_leaf(pki_server, directive, trust):
    full = signer(pki_server, "official-h41")
    leaf_only = Pkcs12Signer(full._key, full.certificate, chain=())
    # like PDFs issued by some tools: pyHanko told to embed only the leaf
    meta = signers.PdfSignatureMetadata(
        field_name="LeafOnly", subfilter=fields.SigSeedSubFilter.PADES
    )
    pdf = signers.sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(directive)), meta, signer=leaf_only
    ).getvalue()
    from pyhanko.pdf_utils.reader import PdfFileReader

    embedded = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0]
    carried = {c.chosen.sha256 for c in embedded.signed_data["certificates"]}
    assert carried == {full.certificate.sha256}  # only the leaf travels
    sig = verify_pdf(pdf, trust=trust).signatures[0]
    assert sig.indication is Indication.TOTAL_PASSED, sig.summary_en
    assert len(sig.chain) == 3


def test_ocsp_responder_down_is_warning_not_pass(tmp_path_factory, directive):
    pki = create(tmp_path_factory.mktemp("deadpki2"), port=free_port())  # never served
    store = TrustStore.from_dirs([pki.root.parent], development=True)
    pdf = sign_pdf(
        directive,
        signer(pki, "official-h41"),
        check_revocation=False,
        appearance=PersonalAppearance(pki.entity("official-h41").image),
    )
    report = verify_pdf(pdf, trust=store, timeout=1)
    sig = report.signatures[0]
    assert (sig.indication, sig.sub_indication) == (
        Indication.INDETERMINATE,
        SubIndication.TRY_LATER,
    )
    assert sig.revocation.status is RevocationStatus.UNKNOWN
    assert report.warnings and "CẢNH BÁO" in sig.summary_vi


def test_lta_online_passes_and_offline_uses_embedded(pki_server, directive, trust):
    clear_caches()
    pdf = sign_pdf(
        directive,
        signer(pki_server, "official-h41"),
        level="B-LTA",
        tsa_url=pki_server.tsa_url,
        appearance=PersonalAppearance(pki_server.entity("official-h41").image),
    )
    online = verify_pdf(pdf, trust=trust).signatures[0]
    assert online.indication is Indication.TOTAL_PASSED, online.summary_en
    assert online.level is Level.B_LTA and online.timestamp_time is not None
    assert ("validation_data", True) in {(c.kind, c.allowed) for c in online.changes}
    offline = verify_pdf(pdf, trust=trust, revocation="offline").signatures[0]
    assert offline.revocation.source == "embedded OCSP"
    # validating later: the time-stamp proves signing while the certificate was valid
    later = verify_pdf(
        pdf, trust=trust, revocation="off", at=online.timestamp_time + timedelta(days=365 * 5)
    ).signatures[0]
    assert later.indication is Indication.TOTAL_PASSED, later.summary_en
    # without a time-stamp the same late validation cannot prove anything
    plain = sign_pdf(
        directive,
        signer(pki_server, "official-h41"),
        appearance=PersonalAppearance(pki_server.entity("official-h41").image),
    )
    late = verify_pdf(
        plain, trust=trust, revocation="off", at=online.timestamp_time + timedelta(days=365 * 5)
    ).signatures[0]
    assert late.sub_indication is SubIndication.OUT_OF_BOUNDS_NO_POE


def test_pdfsig_agrees_on_integrity_of_our_variants(signed, trust, tmp_path):
    """Every variant we produce: poppler's pdfsig and verify_pdf agree signature by signature."""
    flipped = bytearray(signed)
    flipped[flipped.index(b"stream", len(signed) // 4) + 20] ^= 0x01
    variants = {
        "signed": signed,
        "appended": incremental(signed, _append_page),
        "reason_edited": incremental(signed, edit_reason),
        "note_added": incremental(signed, add_note),
        "flipped": bytes(flipped),
        "truncated_tail": signed[:-200] + b"\n%%EOF\n",
    }
    for label, data in variants.items():
        path = tmp_path / f"{label}.pdf"
        path.write_bytes(data)
        theirs = pdfsig_intact(path)
        ours = {
            tuple(s.facts.byte_range): s.intact
            for s in verify_pdf(data, trust=trust, revocation="off").signatures
        }
        for key, intact in theirs.items():
            assert ours.get(key) == intact, (label, key, ours.get(key), intact)
        for key, intact in ours.items():
            assert not intact or theirs.get(key) is True, (label, key)


def test_no_single_byte_change_outside_the_signature_values_passes(signed, trust):
    """Property: flip any byte outside the /Contents holes and the document no longer passes
    (and validation never crashes)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    base = verify_pdf(signed, trust=trust, revocation="off")
    assert base.indication is Indication.TOTAL_PASSED
    holes = [(s.facts.byte_range[1], s.facts.byte_range[2]) for s in base.signatures]

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.integers(0, len(signed) - 1), st.integers(1, 255))
    def check(pos, xor):
        if any(a <= pos < b for a, b in holes):
            return
        data = bytearray(signed)
        data[pos] ^= xor
        report = verify_pdf(bytes(data), trust=trust, revocation="off", use_cache=False)
        assert report.indication is not Indication.TOTAL_PASSED, pos

    check()


def test_usable_from_inside_an_event_loop(signed, trust):
    """The exchange node and the API call verify_pdf from async code: no nested-loop error."""
    import asyncio

    async def inside():
        clear_caches()
        return verify_pdf(signed, trust=trust, revocation="off")

    report = asyncio.run(inside())
    assert report.indication is Indication.TOTAL_PASSED
    assert all(s.trusted for s in report.signatures)


def _lock_then_fill(pki: Manifest, directive: bytes, locked: list[str],
                    action: fields.FieldMDPAction = fields.FieldMDPAction.INCLUDE) -> bytes:
    """Personal signature (it prepares the empty số/ký hiệu and date fields), then a second
    signature made by pyHanko whose field lock (FieldMDP, as Acrobat's "lock fields after
    signing") names ``locked``, then the number filled in a plain incremental update."""
    from signing.appearances.formfields import fill_issue_fields

    personal = sign_pdf(directive, signer(pki, "official-h41"),
                        appearance=PersonalAppearance(pki.entity("official-h41").image))
    e = pki.entity("agency-h41")
    approver = signers.SimpleSigner.load_pkcs12(e.p12, passphrase=e.password.encode())
    spec = fields.SigFieldSpec("Duyet", box=(400, 40, 560, 90),
                               field_mdp_spec=fields.FieldMDPSpec(action, locked))
    out = io.BytesIO()
    signers.PdfSigner(signers.PdfSignatureMetadata(field_name="Duyet"), signer=approver,
                      new_field_spec=spec).sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(personal)), output=out)
    return incremental(out.getvalue(), lambda w: fill_issue_fields(w, "15/CT-UBND", None))


def test_field_locked_by_a_signature_may_not_be_filled_later(pki_server, directive, trust):
    from signing.appearances.formfields import NUMBER_FIELD

    report = verify_pdf(_lock_then_fill(pki_server, directive, [NUMBER_FIELD]), trust=trust,
                        revocation="off")
    personal, approver = report.signatures
    assert ("locked_field_changed", False) in {(c.kind, c.allowed) for c in approver.changes}
    assert approver.indication is Indication.TOTAL_FAILED
    assert report.indication is Indication.TOTAL_FAILED
    assert "FieldMDP" in " ".join(c.description_en for c in approver.changes)
    # the personal signature locked nothing: for it, filling the number is form filling
    assert ("form_filling", True) in {(c.kind, c.allowed) for c in personal.changes}


@pytest.mark.parametrize("locked,action", [
    (["Khác"], fields.FieldMDPAction.INCLUDE),  # another field locked
    ([], fields.FieldMDPAction.INCLUDE),
])
def test_field_lock_of_other_fields_allows_filling(pki_server, directive, trust, locked,
                                                   action):
    report = verify_pdf(_lock_then_fill(pki_server, directive, locked, action), trust=trust,
                        revocation="off")
    kinds_ = {(c.kind, c.allowed) for s in report.signatures for c in s.changes}
    assert ("form_filling", True) in kinds_ and not any(k == "locked_field_changed"
                                                       for k, _ in kinds_)
    assert all(s.indication is not Indication.TOTAL_FAILED for s in report.signatures)


def test_field_lock_all_forbids_filling(pki_server, directive, trust):
    pdf = _lock_then_fill(pki_server, directive, [], fields.FieldMDPAction.ALL)
    report = verify_pdf(pdf, trust=trust, revocation="off")
    assert report.signatures[1].indication is Indication.TOTAL_FAILED
    assert "locked_field_changed" in {c.kind for c in report.signatures[1].changes}


def _forged_timestamp_signature(pki: Manifest, directive: bytes, tsa_entity: str,
                                signer_entity: str, back: timedelta) -> bytes:
    """A PAdES B-T whose "time-stamp" the signer made himself, dated ``back`` ago, with the
    key of ``tsa_entity`` (an official's: no timeStamping purpose, maybe revoked)."""
    from datetime import UTC, datetime

    from pyhanko.keys import load_cert_from_pemder, load_private_key_from_pemder
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

    t = pki.entity(tsa_entity)
    forged = DummyTimeStamper(
        tsa_cert=load_cert_from_pemder(t.cert), tsa_key=load_private_key_from_pemder(t.key, None),
        fixed_dt=datetime.now(UTC) - back)
    s = pki.entity(signer_entity)
    out = io.BytesIO()
    signers.PdfSigner(
        signers.PdfSignatureMetadata(field_name="Sig1", subfilter=fields.SigSeedSubFilter.PADES),
        signer=signers.SimpleSigner.load_pkcs12(s.p12, passphrase=s.password.encode()),
        timestamper=forged,
    ).sign_pdf(IncrementalPdfFileWriter(io.BytesIO(directive)), output=out)
    return out.getvalue()


def test_time_stamp_by_a_non_tsa_certificate_is_no_proof(pki_server, directive, trust):
    """A revoked official back-dates his signature with a "time-stamp" signed by his own key:
    the token is intact and chains to the trusted root, but a certificate without the
    timeStamping purpose is no time-stamping authority — the revocation stands."""
    clear_caches()
    pdf = _forged_timestamp_signature(pki_server, directive, "revoked", "revoked",
                                      timedelta(days=5))
    report = verify_pdf(pdf, trust=trust)
    [sig] = report.signatures
    assert sig.indication is not Indication.TOTAL_PASSED
    assert sig.sub_indication in (SubIndication.REVOKED, SubIndication.REVOKED_NO_POE)
    assert any("timeStamping" in w for w in sig.warnings), sig.warnings


def test_time_stamp_of_a_revoked_tsa_is_no_proof(pki_server, directive, trust, monkeypatch):
    """The same forgery with the timeStamping purpose check out of the way: the TSA certificate
    is itself revoked, so its token proves nothing either."""
    from signing.validation import judge as judge_mod

    monkeypatch.setattr(judge_mod, "tsa_purpose_problem", lambda _cert: None)
    clear_caches()
    pdf = _forged_timestamp_signature(pki_server, directive, "revoked", "revoked",
                                      timedelta(days=5))
    [sig] = verify_pdf(pdf, trust=trust).signatures
    assert sig.indication is not Indication.TOTAL_PASSED
    assert any("revoked" in w and "time-stamp" in w for w in sig.warnings), sig.warnings


def test_document_time_stamp_from_a_non_tsa_does_not_make_lta(pki_server, directive, trust):
    """A document time-stamp (PAdES-LTA) added with an official's key is no archive time-stamp:
    the level stays B-LT and the report says why."""
    from pyhanko.keys import load_cert_from_pemder, load_private_key_from_pemder
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

    clear_caches()
    lt = sign_pdf(directive, signer(pki_server, "official-h41"), level="B-LT",
                  tsa_url=pki_server.tsa_url)
    o = pki_server.entity("official-c1")
    fake = DummyTimeStamper(tsa_cert=load_cert_from_pemder(o.cert),
                            tsa_key=load_private_key_from_pemder(o.key, None))
    out = io.BytesIO()
    signers.PdfTimeStamper(fake).timestamp_pdf(IncrementalPdfFileWriter(io.BytesIO(lt)),
                                               "sha256", output=out)
    [sig] = verify_pdf(out.getvalue(), trust=trust).signatures
    assert sig.indication is Indication.TOTAL_PASSED, sig.summary_en
    assert sig.level is Level.B_LT
    assert any("not from a time-stamping authority" in w for w in sig.warnings), sig.warnings
    # the same with the real TSA makes it B-LTA
    real = io.BytesIO()
    from pyhanko.sign.timestamps import HTTPTimeStamper

    signers.PdfTimeStamper(HTTPTimeStamper(pki_server.tsa_url)).timestamp_pdf(
        IncrementalPdfFileWriter(io.BytesIO(lt)), "sha256", output=real)
    assert verify_pdf(real.getvalue(), trust=trust).signatures[0].level is Level.B_LTA


@pytest.mark.parametrize("cert_hash,passes", [("sha1", False), ("sha256", True)])
def test_sha1_signed_certificate_in_the_chain_is_reported(tmp_path, directive, cert_hash,
                                                          passes):
    """Circular 15/2025 does not list SHA-1: a signer certificate signed with it (legacy CAs
    did) is reported, and the signature is INDETERMINATE (CRYPTO_CONSTRAINTS_FAILURE_NO_POE).
    The certificates are made by openssl: cryptography refuses to sign with SHA-1."""
    import subprocess

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "roots").mkdir()
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "root.key", "-out",
        "roots/root.pem", "-days", "3650", "-subj", "/CN=Legacy Root", "-sha256",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr",
        "-subj", "/CN=Legacy Signer")
    (tmp_path / "ext.cnf").write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n")
    run("x509", "-req", "-in", "leaf.csr", "-CA", "roots/root.pem", "-CAkey", "root.key",
        "-CAcreateserial", "-out", "leaf.pem", "-days", "365", f"-{cert_hash}",
        "-extfile", "ext.cnf")
    legacy = signers.SimpleSigner.load(str(tmp_path / "leaf.key"), str(tmp_path / "leaf.pem"),
                                       ca_chain_files=(str(tmp_path / "roots/root.pem"),))
    out = io.BytesIO()
    signers.PdfSigner(signers.PdfSignatureMetadata(field_name="Sig1"), signer=legacy).sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(directive)), output=out)
    clear_caches()
    store = TrustStore.from_dirs([tmp_path / "roots"], development=True)
    [sig] = verify_pdf(out.getvalue(), trust=store, revocation="off").signatures
    if passes:
        assert sig.indication is Indication.TOTAL_PASSED, sig.summary_en
        return
    assert sig.indication is Indication.INDETERMINATE
    assert sig.sub_indication is SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE
    assert any("Legacy Signer" in w and "SHA1" in w for w in sig.warnings), sig.warnings


def _add_box(rect: tuple[float, float, float, float], subtype: str = "/Square"):
    """An opaque white box annotation (the "evil annotation" overlay) at ``rect`` on page 1."""
    def edit(w):
        page_ref = w.root["/Pages"]["/Kids"].raw_get(0)
        page = page_ref.get_object()
        box = w.add_object(generic.DictionaryObject({
            generic.NameObject("/Type"): generic.NameObject("/Annot"),
            generic.NameObject("/Subtype"): generic.NameObject(subtype),
            generic.NameObject("/Rect"): generic.ArrayObject(
                [generic.FloatObject(v) for v in rect]),
            generic.NameObject("/IC"): generic.ArrayObject([generic.FloatObject(1)] * 3),
            generic.NameObject("/C"): generic.ArrayObject([generic.FloatObject(1)] * 3),
        }))
        annots = page.get("/Annots")
        arr = generic.ArrayObject(list(annots) if annots else [])
        arr.append(box)
        page[generic.NameObject("/Annots")] = arr
        w.mark_update(page_ref)
    return edit


def test_annotation_over_signed_text_is_named(signed, trust):
    """An annotation added after signing over the directive's title is allowed (a person may
    annotate) but named in a warning with the text it covers; one in the margin is not."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    from signing.appearances.locate import page_lines

    lines = page_lines(PdfFileReader(io.BytesIO(signed)), 0)
    title = next(ln for ln in lines if "CHỈ THỊ" in ln.text.upper())
    over = verify_pdf(incremental(signed, _add_box(title.bbox)), trust=trust, revocation="off")
    personal, seal = over.signatures
    for sig in (personal, seal):
        assert ("annotations", True) in {(c.kind, c.allowed) for c in sig.changes}
        assert sig.indication is not Indication.TOTAL_FAILED
        assert any("covers signed text" in w and title.text[:10] in w for w in sig.warnings), \
            sig.warnings
        assert "Cảnh báo: cần xem lại bằng mắt: trang 1" in sig.summary_vi, sig.summary_vi
        assert "che phần chữ đã ký" in sig.summary_vi and "Warnings: check" in sig.summary_en
    margin = verify_pdf(incremental(signed, _add_box((2, 2, 12, 12))), trust=trust,
                        revocation="off")
    assert not any("covers signed text" in w for s in margin.signatures for w in s.warnings)
