"""Legacy adbe.pkcs7.sha1 signatures (SHA-1 digest of the byte ranges signed as CMS content):
read correctly, reported as PKCS#7 and as below Circular 15/2025's algorithm rules."""

from __future__ import annotations

import hashlib
import subprocess

import pytest

from signing.trust import TrustStore
from signing.validation import Indication, Level, SubIndication, verify_pdf
from tests.test_verify_bad_input import build

pytestmark = pytest.mark.timeout(60)
HOLE = 8192  # bytes reserved for the CMS


def sha1_signed_pdf(pki, tmp_path) -> bytes:
    placeholder = b"/ByteRange [0 0000000000 0000000000 0000000000]"
    sig_dict = (
        b"<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /adbe.pkcs7.sha1 "
        + placeholder
        + b" /Contents <"
        + b"0" * (2 * HOLE)
        + b"> /M (D:20260101090000+07'00') >>"
    )
    pdf = bytearray(
        build(
            [
                b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [4 0 R] /SigFlags 3 >> >>",
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Annots [4 0 R] >>",
                b"<< /FT /Sig /T (Sig1) /V 5 0 R /Type /Annot /Subtype /Widget "
                b"/Rect [0 0 0 0] /P 3 0 R >>",
                sig_dict,
            ]
        )
    )
    start = pdf.index(b"/Contents <") + len(b"/Contents ")
    end = start + 2 + 2 * HOLE
    br = [0, start, end, len(pdf) - end]
    filled = b"/ByteRange [%d %d %d %d]" % tuple(br)
    at = pdf.index(placeholder)
    pdf[at : at + len(placeholder)] = filled.ljust(len(placeholder))
    digest = hashlib.sha1(bytes(pdf[:start]) + bytes(pdf[end:])).digest()
    (tmp_path / "digest.bin").write_bytes(digest)
    e = pki.entity("official-h41")
    subprocess.run(
        [
            "openssl",
            "cms",
            "-sign",
            "-binary",
            "-nodetach",
            "-md",
            "sha1",
            "-in",
            str(tmp_path / "digest.bin"),
            "-signer",
            str(e.cert),
            "-inkey",
            str(e.key),
            "-outform",
            "DER",
            "-out",
            str(tmp_path / "sig.der"),
        ],
        check=True,
        capture_output=True,
    )
    der = (tmp_path / "sig.der").read_bytes()
    assert len(der) <= HOLE
    pdf[start + 1 : start + 1 + 2 * len(der)] = der.hex().upper().encode()
    return bytes(pdf)


def test_adbe_pkcs7_sha1_read_and_flagged(dev_pki, tmp_path):
    data = sha1_signed_pdf(dev_pki, tmp_path)
    trust = TrustStore.from_dirs([dev_pki.root.parent], development=True)
    sig = verify_pdf(data, trust=trust, revocation="off").signatures[0]
    assert sig.intact and sig.facts.crypto_valid, sig.facts.problems
    assert sig.level is Level.PKCS7 and sig.facts.coverage == "entire_file"
    assert (sig.indication, sig.sub_indication) == (
        Indication.INDETERMINATE,
        SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE,
    )
    assert any("sha1" in w.lower() for w in sig.warnings)
    # a changed byte in the signed range breaks it
    tampered = bytearray(data)
    tampered[20] ^= 0x01
    bad = verify_pdf(bytes(tampered), trust=trust, revocation="off").signatures[0]
    assert not bad.intact and bad.sub_indication is SubIndication.HASH_FAILURE


def test_unreadable_signature_value_is_reported_not_hidden():
    """adbe.x509.rsa_sha1 (a bare PKCS#1 value, no CMS): listed as a failed signature."""
    data = build(
        [
            b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [4 0 R] /SigFlags 3 >> >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Annots [4 0 R] >>",
            b"<< /FT /Sig /T (Old) /V 5 0 R /Type /Annot /Subtype /Widget "
            b"/Rect [0 0 0 0] /P 3 0 R >>",
            b"<< /Type /Sig /SubFilter /adbe.x509.rsa_sha1 /ByteRange [0 10 20 10] "
            b"/Contents <0102030405> >>",
        ]
    )
    report = verify_pdf(data, revocation="off")
    assert [s.field for s in report.signatures] == ["Old"]
    sig = report.signatures[0]
    assert (sig.indication, sig.sub_indication) == (
        Indication.TOTAL_FAILED,
        SubIndication.FORMAT_FAILURE,
    )
    assert sig.facts.subfilter == "adbe.x509.rsa_sha1"
