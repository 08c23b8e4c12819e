"""Envelope signatures: the SDK form and standard XML-DSig, signed with the development PKI,
verified by us, by xmlsec1 and by signxml; the SDK samples' own signatures reported."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from signxml import SignatureConfiguration, XMLVerifier

from edoc import edxml
from signing.devpki import Manifest
from signing.signers.pkcs12 import Pkcs12Signer
from signing.trust import TrustStore
from signing.xmlsig import XmlSignatureError, sign_envelope, verify_envelope
from tests.paths import EDXML_SAMPLES

SAMPLES = EDXML_SAMPLES


@pytest.fixture(scope="module")
def package_bytes() -> bytes:
    return edxml.build(edxml.parse((SAMPLES / "edoc_update.edxml").read_bytes()))


@pytest.fixture(scope="module")
def official(dev_pki: Manifest):
    return dev_pki.entity("official-h41")


@pytest.fixture(scope="module")
def trust(dev_pki: Manifest) -> TrustStore:
    return TrustStore.from_certs([dev_pki.root.read_bytes()],
                                 [p.read_bytes() for p in dev_pki.intermediates],
                                 development=True)


def _xmlsec(signed: bytes, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    target = tmp_path / "signed.edxml"
    target.write_bytes(signed)
    return subprocess.run(["xmlsec1", "--verify", *args, str(target)], capture_output=True,
                          text=True, timeout=60)


def test_sdk_form_with_a_pkcs12_signer(package_bytes: bytes, official, trust) -> None:
    signer = Pkcs12Signer.load(official.p12, official.password)
    signed = sign_envelope(package_bytes, signer, form="sdk")
    # spliced in: everything else is byte-identical
    start = signed.index(b"<Signature>") - 2
    end = signed.index(b"</Signature>\r\n") + len(b"</Signature>\r\n    ")
    assert signed[:start] + signed[end:] == package_bytes
    assert b"xmldsig#" in signed and b"<ds:" not in signed
    report = verify_envelope(signed, trust=trust)
    assert report.valid and report.form == "sdk" and report.trusted
    assert report.signature_algorithm.endswith("rsa-sha256") and not report.legacy
    assert "Nguyễn Văn An" in report.certificate_subject
    # the codec still reads it, sees the signature, and the model is unchanged
    package = edxml.parse(signed, strict=True)
    assert package.signature.form == "sdk"
    assert package == edxml.parse(package_bytes)


def test_xmldsig_form_verified_by_xmlsec1_and_signxml(package_bytes: bytes, official,
                                                      dev_pki: Manifest, tmp_path: Path,
                                                      trust) -> None:
    key = official.key.read_bytes()
    cert = official.cert.read_bytes()
    chain = [p.read_bytes() for p in dev_pki.intermediates]
    signed = sign_envelope(package_bytes, key, cert, chain, form="xmldsig")
    assert b'<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">' in signed
    ours = verify_envelope(signed, trust=trust)
    assert ours.valid and ours.form == "xmldsig"
    intermediates = [arg for p in dev_pki.intermediates for arg in ("--untrusted-pem", str(p))]
    result = _xmlsec(signed, tmp_path, "--trusted-pem", str(dev_pki.root), *intermediates)
    assert result.returncode == 0, result.stderr
    assert "OK" in result.stdout + result.stderr
    verified = XMLVerifier().verify(signed, x509_cert=cert.decode(),
                                    expect_config=SignatureConfiguration())
    assert verified.signed_xml is not None
    assert edxml.parse(signed).signature.form == "xmldsig"
    # tampering is seen by all three verifiers
    tampered = signed.replace("Cập nhật văn bản".encode(), "Cập nhật VĂN BẢN".encode())
    assert tampered != signed
    report = verify_envelope(tampered, trust=trust)
    assert not report.valid and report.digest_ok is False
    assert any("digest mismatch" in r for r in report.reasons_en)
    assert _xmlsec(tampered, tmp_path, "--trusted-pem", str(dev_pki.root),
                   *intermediates).returncode != 0
    with pytest.raises(Exception):  # noqa: B017 - signxml raises its own InvalidDigest
        XMLVerifier().verify(tampered, x509_cert=cert.decode())


def test_tampered_sdk_signature_and_untrusted_root(package_bytes: bytes, official,
                                                   tmp_path: Path) -> None:
    signed = sign_envelope(package_bytes, official.key.read_bytes(), official.cert.read_bytes())
    value_start = signed.index(b"<SignatureValue>") + len(b"<SignatureValue>")
    flipped = b"A" if signed[value_start:value_start + 1] != b"A" else b"B"
    broken = signed[:value_start] + flipped + signed[value_start + 1:]
    report = verify_envelope(broken)
    assert report.digest_ok and report.signature_ok is False and not report.valid
    stranger = _scratch_cert(tmp_path)
    untrusted = verify_envelope(signed, trust=[stranger])
    assert untrusted.trusted is False and not untrusted.valid
    assert untrusted.digest_ok and untrusted.signature_ok


def _scratch_cert(tmp_path: Path, curve: bool = False) -> bytes:
    key, cert = tmp_path / "k.pem", tmp_path / "c.pem"
    algorithm = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"] if curve else \
        ["-newkey", "rsa:2048"]
    subprocess.run(["openssl", "req", "-x509", *algorithm, "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "2", "-subj", "/CN=scratch"], check=True,
                   capture_output=True, timeout=60)
    return cert.read_bytes()


def test_ecdsa_both_forms(package_bytes: bytes, tmp_path: Path) -> None:
    cert = _scratch_cert(tmp_path, curve=True)
    key = serialization.load_pem_private_key((tmp_path / "k.pem").read_bytes(), None)
    for form in ("sdk", "xmldsig"):
        signed = sign_envelope(package_bytes, key, cert, form=form)
        report = verify_envelope(signed)
        assert report.valid and report.signature_algorithm.endswith("ecdsa-sha256"), form
    result = _xmlsec(signed, tmp_path, "--pubkey-cert-pem", str(tmp_path / "c.pem"))
    assert result.returncode == 0, result.stderr


def test_sha1_only_on_request_and_reported_as_legacy(package_bytes: bytes, official) -> None:
    key, cert = official.key.read_bytes(), official.cert.read_bytes()
    with pytest.raises(XmlSignatureError, match="sha1"):
        sign_envelope(package_bytes, key, cert, digest="sha1")
    legacy = sign_envelope(package_bytes, key, cert, digest="sha1", allow_legacy_sha1=True)
    report = verify_envelope(legacy)
    assert report.legacy and report.digest_ok and report.signature_ok
    assert any("SHA-1" in r for r in report.reasons_en)
    assert report.signature_algorithm == "http://www.w3.org/2000/09/xmldsig#rsa-sha1"


def test_refusals(package_bytes: bytes, official) -> None:
    key, cert = official.key.read_bytes(), official.cert.read_bytes()
    signed = sign_envelope(package_bytes, key, cert)
    with pytest.raises(XmlSignatureError, match="already signed"):
        sign_envelope(signed, key, cert)
    with pytest.raises(XmlSignatureError, match="form"):
        sign_envelope(package_bytes, key, cert, form="pades")
    with pytest.raises(XmlSignatureError, match="certificate"):
        sign_envelope(package_bytes, key, None)


@pytest.mark.parametrize("path", sorted(SAMPLES.glob("*.edxml")) +
                         [SAMPLES / "malformed" / "edoc_new_leading_garbage.edxml"],
                         ids=lambda p: p.name)
def test_sample_signatures_reported_never_crash(path: Path) -> None:
    report = verify_envelope(path.read_bytes())
    if path.name.startswith("status_"):
        assert not report.found
    elif path.parent.name == "malformed":
        assert not report.found and report.reasons_en  # not XML: says so
    else:
        assert report.found and report.form == "sdk" and report.legacy
        assert report.subject_name == "CN=user05"
        assert report.signature_algorithm == "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
        assert not report.valid
        # the kit's certificate is cut to 11 characters and its digest was copied between files
        assert any("truncated" in r for r in report.reasons_en)
        assert report.digest_ok is False
    assert report.summary_vi and report.summary_en
    assert report.to_dict()["valid"] is report.valid
