"""Hostile or broken input: always a report (or a clear error) in bounded time, never a crash."""

from __future__ import annotations

import io
import zlib

import pytest
from pyhanko.pdf_utils.writer import PdfFileWriter

from signing.validation import Indication, SubIndication, verify_pdf
from tests.paths import PDF_CORPUS

CORPUS = PDF_CORPUS
ORIGINAL = (CORPUS / "pdf-signed-original.pdf").read_bytes()


def build(objs: list[bytes], extra_trailer: bytes = b"") -> bytes:
    """A syntactically valid PDF (correct xref offsets) from raw object bodies."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for o in offsets:
        out += b"%010d 00000 n \n" % o
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objs) + 1,
        extra_trailer,
        xref,
    )
    return bytes(out)


PAGES = b"<< /Type /Pages /Kids [] /Count 0 >>"


def unreadable(report) -> bool:
    return (report.indication, report.sub_indication) == (
        Indication.TOTAL_FAILED,
        SubIndication.FORMAT_FAILURE,
    ) and bool(report.errors)


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    "data,needle",
    [
        (b"", "empty"),
        (b"PK\x03\x04 this is a zip, not a PDF", "not a PDF"),
        ("Xin chào".encode() * 1000, "not a PDF"),
        (b"%PDF-1.7\n", "unreadable"),
    ],
)
def test_not_a_pdf(data, needle):
    report = verify_pdf(data)
    assert unreadable(report) and needle in report.errors[0]
    assert not report.signatures
    assert report.summary_vi.startswith("Không đọc được")


@pytest.mark.timeout(30)
@pytest.mark.parametrize("cut", [len(ORIGINAL) // 2, len(ORIGINAL) - 100, 40_000])
def test_truncated_signed_pdf_fails_integrity(cut):
    report = verify_pdf(ORIGINAL[:cut], revocation="off")
    assert report.indication is Indication.TOTAL_FAILED
    assert report.signatures and not report.signatures[0].intact


@pytest.mark.timeout(30)
def test_encrypted_with_password_is_a_clear_error():
    w = PdfFileWriter()
    w.encrypt(b"owner", b"user-password")
    buf = io.BytesIO()
    w.write(buf)
    report = verify_pdf(buf.getvalue())
    assert unreadable(report) and "encrypted" in report.errors[0]


@pytest.mark.timeout(30)
def test_encrypted_with_empty_user_password_is_read():
    w = PdfFileWriter()
    w.encrypt(b"owner", b"")
    buf = io.BytesIO()
    w.write(buf)
    report = verify_pdf(buf.getvalue())
    assert report.indication is Indication.INDETERMINATE  # readable, and simply unsigned
    assert report.errors == ["the document has no signature"]


@pytest.mark.timeout(30)
def test_deep_nesting_bomb():
    deep = (
        b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields ["
        + b"[" * 200_000
        + b"]" * 200_000
        + b"] >> >>"
    )
    report = verify_pdf(build([deep, PAGES]))
    assert unreadable(report) or report.indication is Indication.INDETERMINATE


@pytest.mark.timeout(30)
def test_huge_xref_claim():
    data = (
        b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\nxref\n0 999999999\n"
        b"0000000000 65535 f \ntrailer\n<< /Size 999999999 /Root 1 0 R >>\nstartxref\n43\n%%EOF\n"
    )
    assert unreadable(verify_pdf(data))


@pytest.mark.timeout(30)
def test_flate_bomb_is_not_inflated():
    bomb = zlib.compress(b"\0" * (64 * 1024 * 1024), 9)
    stream = b"<< /Filter /FlateDecode /Length %d >>\nstream\n" % len(bomb) + bomb + b"\nendstream"
    report = verify_pdf(build([b"<< /Type /Catalog /Pages 2 0 R /X 3 0 R >>", PAGES, stream]))
    assert report.indication is Indication.INDETERMINATE and not report.signatures


@pytest.mark.timeout(30)
def test_page_tree_cycle():
    cyc = build(
        [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>"]
    )
    report = verify_pdf(cyc)
    assert report.indication in (Indication.INDETERMINATE, Indication.TOTAL_FAILED)


@pytest.mark.timeout(60)
def test_large_file_bounded():
    # 64 MB of padding inside the signed range: must fail integrity quickly, not hang
    big = ORIGINAL[:1000] + b"%" + b"A" * (64 * 1024 * 1024) + b"\n" + ORIGINAL[1000:]
    report = verify_pdf(big, revocation="off")
    assert report.indication is Indication.TOTAL_FAILED


@pytest.mark.campaign
@pytest.mark.timeout(600)
def test_500_mb_file_bounded():
    big = ORIGINAL[:1000] + b"%" + b"A" * (500 * 1024 * 1024) + b"\n" + ORIGINAL[1000:]
    report = verify_pdf(big, revocation="off")
    assert report.indication is Indication.TOTAL_FAILED


@pytest.mark.timeout(60)
def test_every_corpus_file_truncated_or_flipped_never_crashes():
    """Cheap fuzz: flips and cuts at fixed positions of every corpus file."""
    for path in sorted(CORPUS.glob("*.pdf")):
        data = path.read_bytes()
        for pos in (9, len(data) // 3, len(data) // 2, len(data) - 30):
            flipped = bytearray(data)
            flipped[pos] ^= 0xFF
            for variant in (bytes(flipped), data[:pos]):
                report = verify_pdf(variant, revocation="off", use_cache=False)
                assert report.indication in Indication
                report.to_dict()
