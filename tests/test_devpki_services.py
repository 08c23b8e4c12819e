"""The TSA, OCSP responder and CRL of ``edoc pki serve``, checked with real openssl clients."""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import ocsp, tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp as x509_ocsp

from signing.devpki import DevPkiError, Manifest, make_server
from signing.devpki.crl import needs_refresh
from signing.devpki.server import PkiServices
from signing.devpki.tsa import TSA_POLICY_OID
from tests.devpki_helpers import openssl
from tests.fixtures.pki import free_port


def _post(url: str, body: bytes, content_type: str) -> bytes:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
        return response.read()


def _get(url: str) -> tuple[bytes, str]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read(), response.headers["Content-Type"]


def _ocsp_status(pki: Manifest, cert: Path, *extra: str) -> str:
    result = openssl("ocsp", "-issuer", pki.intermediates[0], "-cert", cert, "-url", pki.ocsp_url,
                     "-CAfile", pki.root, *extra)
    assert "Response verify OK" in result.stderr + result.stdout, result.stderr
    return result.stdout


def test_ocsp_says_revoked_for_the_revoked_signer(pki_server: Manifest) -> None:
    out = _ocsp_status(pki_server, pki_server.entity("revoked").cert)
    assert ": revoked" in out and "Reason: keyCompromise" in out


def test_ocsp_says_good_for_good_signers(pki_server: Manifest) -> None:
    for entity_id in ("official-h41", "agency-d32c5", "tsa"):
        out = _ocsp_status(pki_server, pki_server.entity(entity_id).cert)
        assert out.splitlines()[0].endswith(": good"), out


def test_ocsp_says_unknown_for_a_serial_never_issued(pki_server: Manifest) -> None:
    result = openssl("ocsp", "-issuer", pki_server.intermediates[0], "-serial", "0x1234567",
                     "-url", pki_server.ocsp_url, "-CAfile", pki_server.root)
    assert "0x1234567: unknown" in result.stdout


def test_ocsp_response_is_signed_by_the_delegated_responder(pki_server: Manifest) -> None:
    """Parse the response ourselves: responder certificate, SHA-256 signature, nonce echoed."""
    cert = pki_server.entity("revoked").certificate()
    issuer = x509.load_pem_x509_certificate(pki_server.intermediates[0].read_bytes())
    request = (x509_ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256())
               .add_extension(x509.OCSPNonce(b"0123456789abcdef"), critical=False).build())
    der = _post(pki_server.ocsp_url, request.public_bytes(serialization.Encoding.DER),
                "application/ocsp-request")
    response = x509_ocsp.load_der_ocsp_response(der)
    assert response.response_status == x509_ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.certificate_status == x509_ocsp.OCSPCertStatus.REVOKED
    assert response.revocation_time_utc == pki_server.entity("revoked").revoked_at
    responder = pki_server.entity("ocsp").certificate()
    assert response.certificates[0] == responder
    assert isinstance(response.signature_hash_algorithm, hashes.SHA256)
    nonce = response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    assert nonce == b"0123456789abcdef"
    # GET form (RFC 6960 appendix A.1) answers the same
    encoded = base64.b64encode(request.public_bytes(serialization.Encoding.DER)).decode()
    body, content_type = _get(f"{pki_server.ocsp_url}/{urllib.parse.quote(encoded, safe='')}")
    assert content_type == "application/ocsp-response"
    assert x509_ocsp.load_der_ocsp_response(body).certificate_status == (
        x509_ocsp.OCSPCertStatus.REVOKED)


def test_ocsp_rejects_garbage(pki_server: Manifest) -> None:
    der = _post(pki_server.ocsp_url, b"not an ocsp request", "application/ocsp-request")
    assert ocsp.OCSPResponse.load(der)["response_status"].native == "malformed_request"


def test_tsa_answers_a_real_rfc3161_request(pki_server: Manifest, tmp_path: Path) -> None:
    data = tmp_path / "văn bản.txt"
    data.write_text("Quyết định số 12/QĐ-UBND ngày 01/7/2025", encoding="utf-8")
    query, reply = tmp_path / "q.tsq", tmp_path / "r.tsr"
    openssl("ts", "-query", "-data", data, "-sha256", "-cert", "-out", query)
    reply.write_bytes(_post(pki_server.tsa_url, query.read_bytes(), "application/timestamp-query"))

    text = openssl("ts", "-reply", "-in", reply, "-text").stdout
    assert "Status: Granted" in text and f"Policy OID: {TSA_POLICY_OID}" in text
    verified = openssl("ts", "-verify", "-data", data, "-in", reply, "-CAfile", pki_server.root,
                       "-untrusted", pki_server.intermediates[0])
    assert "Verification: OK" in verified.stdout
    # the token proves this content and no other
    other = tmp_path / "other.txt"
    other.write_text("Quyết định số 13/QĐ-UBND", encoding="utf-8")
    wrong = openssl("ts", "-verify", "-data", other, "-in", reply, "-CAfile", pki_server.root,
                    "-untrusted", pki_server.intermediates[0], check=False)
    assert wrong.returncode != 0
    # signing-certificate-v2 (SHA-256), no SHA-1 ESSCertID
    token = tsp.TimeStampResp.load(reply.read_bytes())["time_stamp_token"]
    attrs = token["content"]["signer_infos"][0]["signed_attrs"]
    types = {a["type"].native for a in attrs}
    assert "signing_certificate_v2" in types and "signing_certificate" not in types
    tst = token["content"]["encap_content_info"]["content"].parsed
    assert abs(tst["gen_time"].native - datetime.now(UTC)) < timedelta(minutes=2)


def test_tsa_rejects_sha1_and_garbage(pki_server: Manifest, tmp_path: Path) -> None:
    data = tmp_path / "f.txt"
    data.write_text("x", encoding="utf-8")
    query = tmp_path / "q.tsq"
    openssl("ts", "-query", "-data", data, "-sha1", "-out", query)
    reply = tmp_path / "r.tsr"
    reply.write_bytes(_post(pki_server.tsa_url, query.read_bytes(), "application/timestamp-query"))
    text = openssl("ts", "-reply", "-in", reply, "-text").stdout
    assert "Status: Rejected" in text and "unsupported algorithm" in text
    reply.write_bytes(_post(pki_server.tsa_url, b"\x30\x00", "application/timestamp-query"))
    text = openssl("ts", "-reply", "-in", reply, "-text").stdout
    assert "Status: Rejected" in text and "wrong format" in text


def test_crls_and_ca_certificates_are_served(pki_server: Manifest) -> None:
    body, content_type = _get(pki_server.crl_url)
    assert content_type == "application/pkix-crl" and body == pki_server.crl.read_bytes()
    crl = x509.load_der_x509_crl(body)
    revoked = int(pki_server.entity("revoked").serial, 16)
    assert crl.get_revoked_certificate_by_serial_number(revoked) is not None
    root_crl, _ = _get(pki_server.authority("root").crl_url)
    assert len(x509.load_der_x509_crl(root_crl)) == 0
    for authority in pki_server.authorities:
        der, content_type = _get(authority.cert_url)
        assert content_type == "application/pkix-cert"
        assert x509.load_der_x509_certificate(der) == x509.load_pem_x509_certificate(
            authority.cert.read_bytes())
    health = json.loads(_get(f"{pki_server.base_url}/health")[0])
    assert health["development"] is True and health["tsa"] == pki_server.tsa_url
    with pytest.raises(urllib.error.HTTPError) as info:
        _get(f"{pki_server.base_url}/crl/other.crl")
    assert info.value.code == 404
    assert "no such resource" in info.value.read().decode()
    info.value.close()


def test_stale_crl_is_resigned(dev_pki: Manifest, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "pki"
    shutil.copytree(dev_pki.directory, copy)
    manifest = Manifest.load(copy)
    old = manifest.crl.read_bytes()
    # the CRL lives a week and is re-signed a day before it ends
    assert not needs_refresh(old, datetime.now(UTC))
    assert needs_refresh(old, datetime.now(UTC) + timedelta(days=6, hours=1))
    services = PkiServices(manifest)
    assert services.crl("subca") == old  # fresh: served as is
    # a month later (as the server sees it) the CRL is stale and gets re-signed
    month_later = datetime.now(UTC) + timedelta(days=30)
    monkeypatch.setattr("signing.devpki.server.needs_refresh",
                        lambda der, now: needs_refresh(der, month_later))
    fresh = services.crl("subca")
    assert fresh != old and manifest.crl.read_bytes() == fresh
    new = x509.load_der_x509_crl(fresh)
    assert new.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 2
    assert new.next_update_utc > datetime.now(UTC) + timedelta(days=6)
    assert new.get_revoked_certificate_by_serial_number(
        int(manifest.entity("revoked").serial, 16)) is not None
    issuer = x509.load_pem_x509_certificate(manifest.intermediates[0].read_bytes())
    assert new.is_signature_valid(issuer.public_key())


def test_busy_port_gives_a_clear_error(pki_server: Manifest) -> None:
    with pytest.raises(DevPkiError) as info:
        make_server(pki_server.directory)
    assert "edoc pki init --port" in info.value.message_en


def _interruptible() -> None:
    """In the child before exec: SIGINT delivered as a terminal's Ctrl-C is. A disposition or
    mask the test process inherited or was left with (a run started in the background of a
    non-interactive shell ignores SIGINT) would pass to the server, which then serves on."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def test_edoc_pki_serve_command(dev_pki: Manifest, tmp_path: Path) -> None:
    """The real console command, as a user runs it: start, answer OCSP, stop on SIGINT."""
    copy = tmp_path / "pki"
    shutil.copytree(dev_pki.directory, copy)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli.main", "pki", "serve", "--dir", str(copy),
         "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # a server that does not stop is aborted below: every thread's stack goes to stderr
        env={**os.environ, "PYTHONFAULTHANDLER": "1"},
        preexec_fn=_interruptible,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                body, _ = _get(f"http://127.0.0.1:{port}/health")
                break
            except OSError:
                assert process.poll() is None, process.communicate()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.1)
        assert json.loads(body)["development"] is True
        body, _ = _get(f"http://127.0.0.1:{port}/crl/subca.crl")
        assert body == dev_pki.crl.read_bytes()
    finally:
        process.send_signal(2)
        try:
            out, err = process.communicate(timeout=15)
        except subprocess.TimeoutExpired:  # say where it hangs
            process.send_signal(signal.SIGABRT)
            try:
                out, err = process.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                out, err = process.communicate()
    assert process.returncode == 0, err
    assert "TSA" in out and "GET /health" in err


def test_pyhanko_validates_with_revocation_fetched_from_the_server(pki_server: Manifest) -> None:
    """pyHanko (what edoc signs and validates with) follows our AIA/CRL URLs on its own."""
    import asyncio
    import hashlib

    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.sign.timestamps import HTTPTimeStamper
    from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
    from pyhanko_certvalidator import CertificateValidator, ValidationContext
    from pyhanko_certvalidator.errors import RevokedError
    from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend

    root = load_cert_from_pemder(str(pki_server.root))
    subca = load_cert_from_pemder(str(pki_server.intermediates[0]))

    def context() -> ValidationContext:
        return ValidationContext(trust_roots=[root], other_certs=[subca], allow_fetching=True,
                                 revocation_mode="require",
                                 fetcher_backend=RequestsFetcherBackend())

    async def check(entity_id: str) -> None:
        cert = load_cert_from_pemder(str(pki_server.entity(entity_id).cert))
        await CertificateValidator(cert, validation_context=context()).async_validate_usage(
            {"non_repudiation"})

    async def scenario() -> dict:
        await check("official-h41")
        await check("agency-c2")
        with pytest.raises(RevokedError):
            await check("revoked")
        digest = hashlib.sha256(b"van ban").digest()
        token = await HTTPTimeStamper(pki_server.tsa_url).async_timestamp(digest, "sha256")
        return await validate_tst_signed_data(token["content"], context(),
                                              lambda algo: hashlib.new(algo, b"van ban").digest())

    status = asyncio.run(scenario())
    assert status["intact"] and status["valid"] and status["trust_problem_indic"] is None
