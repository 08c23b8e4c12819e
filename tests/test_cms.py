"""CMS/PKCS#7 over arbitrary files, verified by ``openssl cms -verify -binary``; binary exact
(CR/LF, NUL, high bytes survive); signed attributes as required; optional signature time-stamp
from the dev TSA; the ``edoc cms sign`` command."""

from __future__ import annotations

import json
import subprocess

import pytest
from asn1crypto import cms
from typer.testing import CliRunner

from api.cli.main import app
from signing import sign_cms
from signing.errors import CertificateError, SigningError
from tests.sign_helpers import signer_for

PAYLOAD = b"Van ban\r\nd\xc3\xb2ng 2\n\x00\x01\xfe\xff\r\r\n" + bytes(range(256)) * 4
runner = CliRunner()


def _openssl_verify(tmp_path, pki, sig: bytes, content: bytes | None):
    (tmp_path / "sig.der").write_bytes(sig)
    args = ["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in",
            str(tmp_path / "sig.der"), "-CAfile", str(pki.root), "-purpose", "any",
            "-out", str(tmp_path / "verified.out")]
    if content is not None:
        (tmp_path / "content.bin").write_bytes(content)
        args += ["-content", str(tmp_path / "content.bin")]
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


def _attrs(der: bytes) -> tuple[set[str], set[str], cms.SignedData]:
    sd = cms.ContentInfo.load(der)["content"]
    si = sd["signer_infos"][0]
    signed = {a["type"].native for a in si["signed_attrs"]}
    unsigned = {a["type"].native for a in si["unsigned_attrs"]} if si["unsigned_attrs"] else set()
    return signed, unsigned, sd


def test_detached_verifies_with_openssl(pki_server, tmp_path):
    der = sign_cms(PAYLOAD, signer_for(pki_server, "agency-h41"))
    r = _openssl_verify(tmp_path, pki_server, der, PAYLOAD)
    assert r.returncode == 0 and "Verification successful" in r.stderr, r.stderr
    signed, _u, sd = _attrs(der)
    assert {"content_type", "message_digest", "signing_time", "signing_certificate_v2"} <= signed
    assert sd["encap_content_info"]["content"].native is None  # detached
    assert len(sd["certificates"]) >= 3  # leaf + sub-CA + root
    # one changed byte: openssl refuses
    bad = PAYLOAD[:-1] + b"\x00"
    assert _openssl_verify(tmp_path, pki_server, der, bad).returncode != 0


def test_attached_round_trips_byte_exact(pki_server, tmp_path):
    der = sign_cms(PAYLOAD, signer_for(pki_server, "agency-h41"), attached=True)
    r = _openssl_verify(tmp_path, pki_server, der, None)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "verified.out").read_bytes() == PAYLOAD


def test_signature_timestamp(pki_server, tmp_path):
    der = sign_cms(PAYLOAD, signer_for(pki_server, "official-h41"), tsa_url=pki_server.tsa_url)
    _s, unsigned, _sd = _attrs(der)
    assert "signature_time_stamp_token" in unsigned
    assert _openssl_verify(tmp_path, pki_server, der, PAYLOAD).returncode == 0


@pytest.mark.parametrize("md", ["sha384", "sha512"])
def test_digests(pki_server, tmp_path, md):
    der = sign_cms(PAYLOAD, signer_for(pki_server, "agency-h41"), md=md)
    sd = cms.ContentInfo.load(der)["content"]
    assert sd["signer_infos"][0]["digest_algorithm"]["algorithm"].native == md
    assert _openssl_verify(tmp_path, pki_server, der, PAYLOAD).returncode == 0


def test_refusals(pki_server):
    with pytest.raises(SigningError) as ei:
        sign_cms(PAYLOAD, signer_for(pki_server, "agency-h41"), md="sha1")
    assert ei.value.code == "bad_digest"
    with pytest.raises(CertificateError) as ei:
        sign_cms(PAYLOAD, signer_for(pki_server, "revoked"))
    assert ei.value.code == "cert_revoked"
    with pytest.raises(SigningError):
        sign_cms("text, not bytes", signer_for(pki_server, "agency-h41"))


def test_cli_cms_sign(pki_server, tmp_path):
    a = pki_server.entity("agency-h41")
    src = tmp_path / "phu-luc.xlsx"
    src.write_bytes(PAYLOAD)
    out = tmp_path / "phu-luc.xlsx.p7s"
    r = runner.invoke(app, ["cms", "sign", str(src), str(out), "--p12", str(a.p12),
                            "--password", a.password, "--json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["ok"] and info["attached"] is False
    assert _openssl_verify(tmp_path, pki_server, out.read_bytes(), PAYLOAD).returncode == 0
    out2 = tmp_path / "phu-luc.p7m"
    r = runner.invoke(app, ["cms", "sign", str(src), str(out2), "--attached", "--p12",
                            str(a.p12), "--password", a.password])
    assert r.exit_code == 0, r.output
    assert _openssl_verify(tmp_path, pki_server, out2.read_bytes(), None).returncode == 0
    assert (tmp_path / "verified.out").read_bytes() == PAYLOAD
    # revoked signer: refused, nothing written
    rv = pki_server.entity("revoked")
    out3 = tmp_path / "x.p7s"
    r = runner.invoke(app, ["cms", "sign", str(src), str(out3), "--p12", str(rv.p12),
                            "--password", rv.password])
    assert r.exit_code == 1 and not out3.exists()
