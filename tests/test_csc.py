"""CSC API v2 remote signing end to end: the development service runs under uvicorn on
loopback; the client lists credentials, reads the certificate chain, authorises with a PIN and
signs hashes; the PDFs and CMS verify with pdfsig and openssl."""

from __future__ import annotations

import subprocess
import time

import httpx
import pytest

from signing import sign_cms, sign_pdf
from signing.appearances import PersonalAppearance
from signing.csc.client import CscClient, CscRemoteSigner
from signing.errors import KeyAccessError, RemoteSignerError
from tests.fixtures.pki import free_port
from tests.fixtures.signing import CSC_TOKEN as TOKEN
from tests.sign_helpers import assert_pdfsig_valid, validate_all


def test_list_and_info(csc):
    base, _state = csc
    client = CscClient(base, TOKEN)
    assert client.list_credentials() == ["an-ca-nhan", "ubnd-nghe-an"]
    assert client.list_credentials("van-thu") == ["ubnd-nghe-an"]
    info = client.call("credentials/info", {"credentialID": "an-ca-nhan", "certificates": "chain"})
    assert len(info["cert"]["certificates"]) == 3 and info["authMode"] == "explicit"


def test_remote_pades_and_cms(csc, pki_server, directive, nss_db, tmp_path):
    base, state = csc
    before = state.signatures_made
    signer = CscRemoteSigner(base, "an-ca-nhan", token=TOKEN, pin="123456")
    assert signer.subject_name == "Nguyễn Văn An" and len(signer.chain) == 2
    pdf = sign_pdf(directive, signer, appearance=PersonalAppearance(
        pki_server.entity("official-h41").image), level="B-T", tsa_url=pki_server.tsa_url)
    assert_pdfsig_valid(pdf, nss_db, tmp_path, count=1)
    assert state.signatures_made == before + 1  # one signHash per signature, no dry run
    der = sign_cms(b"du-thao.docx\x00\r\n", CscRemoteSigner(base, "ubnd-nghe-an", token=TOKEN,
                                                            pin="654321"))
    (tmp_path / "c.bin").write_bytes(b"du-thao.docx\x00\r\n")
    (tmp_path / "c.p7s").write_bytes(der)
    r = subprocess.run(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in",
                        str(tmp_path / "c.p7s"), "-content", str(tmp_path / "c.bin"), "-CAfile",
                        str(pki_server.root), "-purpose", "any", "-out", "/dev/null"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_remote_pss(csc, pki_server, directive):
    base, _ = csc
    pdf = sign_pdf(directive, CscRemoteSigner(base, "an-ca-nhan", token=TOKEN, pin="123456",
                                              prefer_pss=True))
    (_n, st), = validate_all(pdf, pki_server)
    assert st.intact and st.valid and st.trusted


def test_errors(csc, directive, tmp_path):
    base, state = csc
    with pytest.raises(RemoteSignerError) as ei:
        CscRemoteSigner(base, "an-ca-nhan", token="sai")
    assert ei.value.code == "remote_unauthorized"
    with pytest.raises(RemoteSignerError) as ei:
        CscRemoteSigner(base, "khong-co", token=TOKEN)
    assert ei.value.code == "remote_error"
    made = state.signatures_made
    bad_pin = CscRemoteSigner(base, "an-ca-nhan", token=TOKEN, pin="000000")
    with pytest.raises(KeyAccessError) as ei:
        sign_pdf(directive, bad_pin)
    assert ei.value.code == "wrong_pin" and state.signatures_made == made
    with pytest.raises(RemoteSignerError) as ei:
        CscRemoteSigner(f"http://127.0.0.1:{free_port()}", "x", token=TOKEN)
    assert ei.value.code == "remote_unreachable"
    # a SAD is good for the number of signatures authorised, not more
    c = CscClient(base, TOKEN)
    sad = c.call("credentials/authorize", {"credentialID": "an-ca-nhan", "PIN": "123456"})["SAD"]
    body = {"credentialID": "an-ca-nhan", "SAD": sad, "hashes": ["A" * 43 + "="],
            "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1", "signAlgo": "1.2.840.113549.1.1.1"}
    c.call("signatures/signHash", body)
    with pytest.raises(RemoteSignerError):
        c.call("signatures/signHash", body)


def test_cli_dev_service_and_remote_signing(pki_server, directive, nss_db, tmp_path):
    """``edoc pki csc`` serves the dev PKI's keys over CSC v2; ``edoc sign --csc`` signs a
    directive with them (personal, then the seal) — pdfsig and our validator accept it; a wrong
    PIN is one clear error and no file."""
    import json
    import subprocess
    import sys

    from typer.testing import CliRunner

    from api.cli.main import app
    from signing.trust import TrustStore
    from signing.validation import Indication, verify_pdf

    port, token = free_port(), "tok-" + "x" * 20
    service = subprocess.Popen(
        [sys.executable, "-m", "api.cli.main", "pki", "csc", "--dir", str(pki_server.directory),
         "--port", str(port), "--token", token],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.post(base + "/csc/v2/info", timeout=1)
                break
            except httpx.HTTPError:
                assert service.poll() is None, service.communicate()
                time.sleep(0.1)
        runner = CliRunner()
        src, personal, sealed = (tmp_path / n for n in ("in.pdf", "personal.pdf", "sealed.pdf"))
        src.write_bytes(directive)
        o, a = pki_server.entity("official-h41"), pki_server.entity("agency-h41")
        remote = ["--csc", base, "--csc-token", token]
        r = runner.invoke(app, ["sign", str(src), str(personal), *remote, "--credential", o.id,
                                "--pin", o.password, "--as", "personal", "--image", str(o.image),
                                "--json"])
        assert r.exit_code == 0, r.output
        r = runner.invoke(app, ["sign", str(personal), str(sealed), *remote, "--credential",
                                a.id, "--pin", a.password, "--as", "agency", "--image",
                                str(a.image), "--number", "12/CT-UBND", "--json"])
        assert r.exit_code == 0, r.output
        assert_pdfsig_valid(sealed, nss_db, count=2)
        trust = TrustStore.from_dirs([pki_server.root.parent], development=True)
        report = verify_pdf(sealed.read_bytes(), trust=trust)
        assert report.indication is Indication.TOTAL_PASSED and report.decree30.passed

        bad = tmp_path / "bad.pdf"
        r = runner.invoke(app, ["sign", str(src), str(bad), *remote, "--credential", o.id,
                                "--pin", "000000", "--as", "personal", "--image", str(o.image),
                                "--json"])
        assert r.exit_code == 1 and not bad.exists()
        err = json.loads(r.stdout)["error"]
        assert "PIN" in err["message_en"] or "PIN" in err["message_vi"], err
    finally:
        service.terminate()
        service.communicate(timeout=15)
