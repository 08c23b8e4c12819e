"""PAdES levels and algorithms against the real dev TSA/OCSP/CRL server; refusal of revoked,
expired and wrong-purpose certificates before anything is signed."""

from __future__ import annotations

import io

import pytest
from asn1crypto import cms
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.pdf_utils.reader import PdfFileReader

from signing import sign_file, sign_pdf
from signing.appearances import PersonalAppearance
from signing.errors import CertificateError, SigningError
from signing.signers.pkcs12 import Pkcs12Signer
from tests.sign_helpers import (
    assert_pdfsig_valid,
    chain_of,
    issue_cert,
    signer_for,
    validate_all,
)


def _cms(pdf: bytes, index: int = 0) -> cms.SignedData:
    r = PdfFileReader(io.BytesIO(pdf))
    return r.embedded_signatures[index].signed_data


def _personal(pki):
    return PersonalAppearance(pki.entity("official-h41").image)


@pytest.mark.parametrize("level", ["B-T", "B-LT", "B-LTA"])
def test_levels(pki_server, directive, nss_db, tmp_path, level):
    pdf = sign_pdf(directive, signer_for(pki_server, "official-h41"), appearance=_personal(
        pki_server), level=level, tsa_url=pki_server.tsa_url)
    assert_pdfsig_valid(pdf, nss_db, tmp_path, count=1, doc_timestamps=int(level == "B-LTA"))
    results = validate_all(pdf, pki_server)
    name, st = results[0]
    assert st.intact and st.valid and st.trusted
    assert st.timestamp_validity is not None and st.timestamp_validity.intact
    assert st.timestamp_validity.valid and st.timestamp_validity.trusted
    root = PdfFileReader(io.BytesIO(pdf)).root
    if level in ("B-LT", "B-LTA"):
        dss = root["/DSS"]
        assert len(dss["/Certs"]) >= 2
        assert len(dss.get("/OCSPs", [])) + len(dss.get("/CRLs", [])) >= 1
    else:
        assert "/DSS" not in root
    sigs = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    if level == "B-LTA":
        from asn1crypto import pem, x509
        from pyhanko.sign.validation import validate_pdf_timestamp
        from pyhanko_certvalidator import ValidationContext

        assert sigs[-1].sig_object_type == "/DocTimeStamp"
        root_cert = x509.Certificate.load(pem.unarmor(pki_server.root.read_bytes())[2])
        ts = validate_pdf_timestamp(sigs[-1], ValidationContext(trust_roots=[root_cert]))
        assert ts.intact and ts.valid and ts.trusted
    else:
        assert all(s.sig_object_type == "/Sig" for s in sigs)


def test_cms_profile_in_pdf(pki_server, directive):
    pdf = sign_pdf(directive, signer_for(pki_server, "official-h41"))
    r = PdfFileReader(io.BytesIO(pdf))
    sig = r.embedded_signatures[0]
    assert sig.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    sd = sig.signed_data
    si = sd["signer_infos"][0]
    attrs = {a["type"].native for a in si["signed_attrs"]}
    assert "signing_certificate_v2" in attrs and "signing_certificate" not in attrs
    assert si["digest_algorithm"]["algorithm"].native == "sha256"
    assert si["signature_algorithm"].signature_algo == "rsassa_pkcs1v15"
    # the whole chain is embedded: leaf, sub-CA and root
    subjects = {c.chosen.subject.human_friendly for c in sd["certificates"]}
    for c in chain_of(pki_server):
        assert c.subject.human_friendly in subjects
    assert len(sd["certificates"]) >= 3


@pytest.mark.parametrize("md", ["sha384", "sha512"])
def test_digest_choice(pki_server, directive, nss_db, tmp_path, md):
    pdf = sign_pdf(directive, signer_for(pki_server, "official-h41"), md=md)
    sigs = assert_pdfsig_valid(pdf, nss_db, tmp_path)
    assert sigs[0]["Signing Hash Algorithm"] == f"SHA-{md[3:]}"


@pytest.mark.parametrize("md", ["sha1", "md5", "SHA-1"])
def test_weak_digest_refused(pki_server, directive, md):
    with pytest.raises(SigningError) as ei:
        sign_pdf(directive, signer_for(pki_server, "official-h41"), md=md)
    assert ei.value.code == "bad_digest"


def test_rsa_pss(pki_server, directive):
    signer = signer_for(pki_server, "official-h41", prefer_pss=True)
    pdf = sign_pdf(directive, signer)
    (_name, st), = validate_all(pdf, pki_server)
    assert st.intact and st.valid and st.trusted
    assert _cms(pdf)["signer_infos"][0]["signature_algorithm"].signature_algo == "rsassa_pss"


def test_ecdsa_p256(pki_server, directive, nss_db, tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    cert = issue_cert(pki_server, key.public_key(), "Lê Văn Cường")
    signer = Pkcs12Signer(key, cert, chain_of(pki_server))
    # revocation checked through the sub-CA's CRL on the dev server
    pdf = sign_pdf(directive, signer, appearance=PersonalAppearance(
        pki_server.entity("official-h41").image, signer_name="Nguyễn Văn An"))
    assert_pdfsig_valid(pdf, nss_db, tmp_path)
    (_name, st), = validate_all(pdf, pki_server)
    assert st.intact and st.valid and st.trusted
    assert _cms(pdf)["signer_infos"][0]["signature_algorithm"].signature_algo == "ecdsa"


@pytest.mark.parametrize(
    ("entity", "code"),
    [
        ("revoked", "cert_revoked"),
        ("expired", "cert_expired"),
        ("node-hub", "cert_wrong_purpose"),
        ("tsa", "cert_wrong_purpose"),
    ],
)
def test_refused_before_signing(pki_server, directive, tmp_path, entity, code):
    src = tmp_path / "in.pdf"
    src.write_bytes(directive)
    dst = tmp_path / "out.pdf"
    with pytest.raises(CertificateError) as ei:
        sign_file(src, dst, signer_for(pki_server, entity))
    assert ei.value.code == code
    assert ei.value.message_vi and ei.value.message_en
    assert not dst.exists() and list(tmp_path.iterdir()) == [src]
    assert src.read_bytes() == directive


def test_status_unknown_is_refused(dev_pki, directive, tmp_path):
    """The dev server is not running for this PKI copy: status cannot be determined."""
    from signing.devpki import create
    from tests.fixtures.pki import free_port

    other = create(tmp_path / "pki", port=free_port())
    signer = signer_for(other, "official-h41")
    with pytest.raises(CertificateError) as ei:
        sign_pdf(directive, signer)
    assert ei.value.code == "cert_status_unknown"
    # what did not answer, by name, and what to do about it (a development PKI: serve it)
    assert f"http://127.0.0.1:{other.port}/ocsp" in ei.value.message_en
    assert "edoc pki serve" in ei.value.message_en and "edoc pki serve" in ei.value.message_vi
    assert "không trả lời" in ei.value.message_vi


def test_sign_file_streams_large_files(pki_server, directive, nss_db, tmp_path, monkeypatch):
    """Above the in-memory limit the PDF goes disk to disk (what keeps a 200 MB PDF's memory
    low); force that path on a small file and check the result."""
    import signing.pades as pades

    monkeypatch.setattr(pades, "IN_MEMORY_LIMIT", 0)
    src, dst = tmp_path / "in.pdf", tmp_path / "out.pdf"
    src.write_bytes(directive)
    result = sign_file(src, dst, signer_for(pki_server, "official-h41"),
                       appearance=_personal(pki_server))
    assert result.field_name == "EdocPersonal1"
    assert dst.read_bytes().startswith(directive) and src.read_bytes() == directive
    assert_pdfsig_valid(dst, nss_db, count=1)
