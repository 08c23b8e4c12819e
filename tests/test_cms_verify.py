"""verify_cms on CMS made by openssl (an independent signer) and by our own signer.

Also exercises the trust-dependent steps end to end against the dev PKI's running OCSP/CRL
server: a good signer passes, the revoked signer fails REVOKED, a dead responder is a warning
(INDETERMINATE / TRY_LATER), never a pass.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from signing.devpki import Manifest, create
from signing.trust import TrustStore
from signing.validation import Indication, RevocationStatus, SubIndication, clear_caches, verify_cms
from tests.fixtures.pki import free_port

CONTENT = "Công văn số 123/UBND-VP về việc triển khai văn bản điện tử\n".encode()


def openssl_sign(pki: Manifest, entity: str, tmp: Path, *, detached=True, fmt="DER") -> bytes:
    e = pki.entity(entity)
    src, out = tmp / "content.txt", tmp / f"{entity}-{detached}.p7s"
    src.write_bytes(CONTENT)
    cmd = [
        "openssl",
        "cms",
        "-sign",
        "-binary",
        "-in",
        str(src),
        "-signer",
        str(e.cert),
        "-inkey",
        str(e.key),
        "-outform",
        fmt,
        "-out",
        str(out),
    ]
    if not detached:
        cmd.append("-nodetach")
    for inter in pki.intermediates:
        cmd += ["-certfile", str(inter)]
    subprocess.run(cmd, check=True, capture_output=True)
    return out.read_bytes()


@pytest.fixture(scope="module")
def trust(dev_pki: Manifest) -> TrustStore:
    return TrustStore.from_dirs([dev_pki.root.parent], development=True)


@pytest.mark.timeout(60)
def test_openssl_detached_passes_online(pki_server: Manifest, trust, tmp_path):
    clear_caches()
    sig = openssl_sign(pki_server, "official-h41", tmp_path)
    report = verify_cms(sig, CONTENT, trust=trust, timeout=5)
    assert report.indication is Indication.TOTAL_PASSED, report.summary_en
    s = report.signatures[0]
    assert s.revocation.status is RevocationStatus.GOOD and s.revocation.source == "OCSP"
    assert s.signer.kind == "personal" and "CCCD" in s.signer.ids
    assert s.chain[0] == s.signer.name and len(s.chain) == 3
    assert "hợp lệ" in s.summary_vi and "Người ký" in s.summary_vi
    assert report.to_dict()["signatures"][0]["indication"] == "TOTAL_PASSED"


@pytest.mark.timeout(60)
def test_changed_content_byte_fails(dev_pki, trust, tmp_path):
    sig = openssl_sign(dev_pki, "official-h41", tmp_path)
    tampered = bytearray(CONTENT)
    tampered[5] ^= 0x01
    report = verify_cms(sig, bytes(tampered), trust=trust, revocation="off")
    assert report.indication is Indication.TOTAL_FAILED
    assert report.sub_indication is SubIndication.HASH_FAILURE


@pytest.mark.timeout(60)
def test_attached_pem_and_agency_identity(dev_pki, trust, tmp_path):
    sig = openssl_sign(dev_pki, "agency-h41", tmp_path, detached=False, fmt="PEM")
    report = verify_cms(sig, trust=trust, revocation="off")
    assert report.indication is Indication.TOTAL_PASSED and not report.detached
    s = report.signatures[0]
    assert s.signer.kind == "agency" and ({"MST", "MNS"} & set(s.signer.ids))
    assert any("not checked" in w for w in s.warnings)


@pytest.mark.timeout(60)
def test_revoked_signer_fails_revoked(pki_server, trust, tmp_path):
    clear_caches()
    sig = openssl_sign(pki_server, "revoked", tmp_path)
    report = verify_cms(sig, CONTENT, trust=trust, timeout=5)
    s = report.signatures[0]
    assert s.revocation.status is RevocationStatus.REVOKED
    assert (report.indication, report.sub_indication) == (
        Indication.TOTAL_FAILED,
        SubIndication.REVOKED,
    )
    assert "thu hồi" in s.summary_vi


@pytest.mark.timeout(60)
def test_no_trust_anchor_is_indeterminate(dev_pki, tmp_path):
    sig = openssl_sign(dev_pki, "official-h41", tmp_path)
    report = verify_cms(sig, CONTENT, trust=TrustStore(), revocation="off")
    assert (report.indication, report.sub_indication) == (
        Indication.INDETERMINATE,
        SubIndication.NO_CERTIFICATE_CHAIN_FOUND,
    )


@pytest.mark.timeout(60)
def test_responder_down_is_a_warning_not_a_pass(tmp_path_factory):
    # a PKI of its own whose OCSP/CRL port nobody serves
    pki = create(tmp_path_factory.mktemp("deadpki"), port=free_port())
    store = TrustStore.from_dirs([pki.root.parent], development=True)
    sig = openssl_sign(pki, "official-h41", tmp_path_factory.mktemp("sig"))
    report = verify_cms(sig, CONTENT, trust=store, timeout=1)
    s = report.signatures[0]
    assert report.indication is Indication.INDETERMINATE
    assert report.sub_indication is SubIndication.TRY_LATER
    assert s.revocation.status is RevocationStatus.UNKNOWN
    assert any("Circular 15/2025" in w for w in s.warnings)


def test_garbage_is_a_format_failure():
    for bad in (
        b"",
        b"hello",
        b"\x30\x03\x02\x01\x01",
        b"-----BEGIN PKCS7-----\nAAAA\n-----END PKCS7-----\n",
    ):
        report = verify_cms(bad, CONTENT)
        assert (report.indication, report.sub_indication) == (
            Indication.TOTAL_FAILED,
            SubIndication.FORMAT_FAILURE,
        ), bad
        assert report.errors


@pytest.mark.timeout(60)
def test_our_p7s_verifies_with_timestamp(pki_server, trust):
    from signing import sign_cms
    from signing.signers.pkcs12 import Pkcs12Signer

    e = pki_server.entity("official-h41")
    signer = Pkcs12Signer.load(e.p12, e.password)
    p7s = sign_cms(CONTENT, signer, tsa_url=pki_server.tsa_url)
    report = verify_cms(p7s, CONTENT, trust=trust, timeout=5)
    assert report.indication is Indication.TOTAL_PASSED, report.summary_en
    s = report.signatures[0]
    assert s.timestamp_time is not None and s.level.value == "CMS-T"
    assert s.signing_time is not None
    tampered = CONTENT.replace(b"123", b"124")
    failed = verify_cms(p7s, tampered, trust=trust, revocation="off")
    assert failed.sub_indication is SubIndication.HASH_FAILURE
    attached = sign_cms(CONTENT, signer, attached=True)
    assert verify_cms(attached, trust=trust, timeout=5).indication is Indication.TOTAL_PASSED


def with_crls(der: bytes, crl_paths) -> bytes:
    """Add CRLs to SignedData.crls (outside the signed attributes, as CAdES-LT tools do;
    openssl 3.0 cannot add them when signing)."""
    from asn1crypto import cms, crl

    info = cms.ContentInfo.load(der)
    sd = info["content"]
    sd["crls"] = cms.RevocationInfoChoices(
        [
            cms.RevocationInfoChoice(name="crl", value=crl.CertificateList.load(p.read_bytes()))
            for p in crl_paths
        ]
    )
    return info.dump(force=True)


@pytest.mark.timeout(60)
def test_offline_uses_crls_carried_in_the_cms(dev_pki, trust, tmp_path):
    crl_dir = dev_pki.crl.parent
    crls = [crl_dir / "subca.crl", crl_dir / "root.crl"]
    sig = with_crls(openssl_sign(dev_pki, "official-h41", tmp_path), crls)
    report = verify_cms(sig, CONTENT, trust=trust, revocation="offline")
    s = report.signatures[0]
    assert s.revocation.status is RevocationStatus.GOOD and s.revocation.source == "embedded CRL"
    assert report.indication is Indication.TOTAL_PASSED
    revoked = with_crls(openssl_sign(dev_pki, "revoked", tmp_path), crls)
    r = verify_cms(revoked, CONTENT, trust=trust, revocation="offline")
    assert r.signatures[0].revocation.status is RevocationStatus.REVOKED
    assert r.sub_indication is SubIndication.REVOKED
    # without any data offline: the Circular's warning, not a pass
    bare = verify_cms(
        openssl_sign(dev_pki, "official-h41", tmp_path), CONTENT, trust=trust, revocation="offline"
    )
    assert bare.sub_indication is SubIndication.TRY_LATER
