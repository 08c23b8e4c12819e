"""PKCS#11 end to end with a SoftHSM2 token: key pair generated inside the token, CSR signed by
the token, certificate issued by the dev sub-CA and stored on the token, then PAdES and CMS
signatures verified by pdfsig and openssl; wrong PIN and absent token give clear errors once."""

from __future__ import annotations

import subprocess

import pytest
from typer.testing import CliRunner

from api.cli.main import app
from signing import sign_cms, sign_pdf
from signing.appearances import PersonalAppearance
from signing.errors import KeyAccessError
from signing.signers.pkcs11 import Pkcs11Signer
from tests.sign_helpers import assert_pdfsig_valid
from tests.token_helpers import EC_LABEL, LABEL, LIB, NAME, PIN, TOKEN, softhsm_token


@pytest.fixture(scope="module")
def token(pki_server, tmp_path_factory):
    with softhsm_token(tmp_path_factory.mktemp("softhsm"), pki_server,
                       ec_label=EC_LABEL) as tok:
        yield tok.directory


def test_pades_and_cms_with_token(token, pki_server, directive, nss_db, tmp_path):
    with Pkcs11Signer.open(LIB, TOKEN, PIN, LABEL) as signer:
        assert signer.subject_name == NAME and len(signer.chain) == 2
        pdf = sign_pdf(directive, signer, appearance=PersonalAppearance(
            pki_server.entity("official-h41").image))
        der = sign_cms(b"bang-ke.xlsx\r\n\x00", signer)
    assert_pdfsig_valid(pdf, nss_db, tmp_path, count=1)
    (tmp_path / "c.bin").write_bytes(b"bang-ke.xlsx\r\n\x00")
    (tmp_path / "c.p7s").write_bytes(der)
    r = subprocess.run(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in",
                        str(tmp_path / "c.p7s"), "-content", str(tmp_path / "c.bin"),
                        "-CAfile", str(pki_server.root), "-purpose", "any", "-out", "/dev/null"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_token_pss(token, pki_server, directive):
    from tests.sign_helpers import validate_all

    with Pkcs11Signer.open(LIB, TOKEN, PIN, LABEL, prefer_pss=True) as signer:
        pdf = sign_pdf(directive, signer)
    (_n, st), = validate_all(pdf, pki_server)
    assert st.intact and st.valid and st.trusted


def test_wrong_pin_once_then_right_pin_works(token):
    with pytest.raises(KeyAccessError) as ei:
        Pkcs11Signer.open(LIB, TOKEN, "000000", LABEL)
    assert ei.value.code == "wrong_pin" and "PIN" in ei.value.message_vi
    assert "not retried" in ei.value.message_en.lower()
    # a single wrong attempt: the token is not locked, the right PIN still opens it
    Pkcs11Signer.open(LIB, TOKEN, PIN, LABEL).close()


def test_absent_token_and_key(token):
    with pytest.raises(KeyAccessError) as ei:
        Pkcs11Signer.open(LIB, "khong-co-token", PIN)
    assert ei.value.code == "token_absent"
    with pytest.raises(KeyAccessError) as ei:
        Pkcs11Signer.open(LIB, TOKEN, PIN, "khong-co-khoa")
    assert ei.value.code == "key_not_found"
    with pytest.raises(KeyAccessError) as ei:
        Pkcs11Signer.open("/nonexistent/libp11.so", TOKEN, PIN)
    assert ei.value.code == "pkcs11_library"


def test_cli_with_token(token, pki_server, directive, nss_db, tmp_path):
    src, dst = tmp_path / "in.pdf", tmp_path / "out.pdf"
    src.write_bytes(directive)
    img = pki_server.entity("official-h41").image
    r = CliRunner().invoke(app, ["sign", str(src), str(dst), "--pkcs11-lib", LIB, "--token",
                                 TOKEN, "--pin", PIN, "--key-label", LABEL, "--image", str(img)])
    assert r.exit_code == 0, r.output
    assert_pdfsig_valid(dst, nss_db, count=1)
    r = CliRunner().invoke(app, ["sign", str(src), str(tmp_path / "x.pdf"), "--pkcs11-lib", LIB,
                                 "--token", TOKEN, "--pin", "111111", "--image", str(img)])
    assert r.exit_code == 1 and "wrong PIN" in r.stderr
    assert not (tmp_path / "x.pdf").exists()


def test_ecdsa_key_on_token(token, pki_server, directive, nss_db, tmp_path):
    from tests.sign_helpers import validate_all

    with Pkcs11Signer.open(LIB, TOKEN, PIN, EC_LABEL) as signer:
        assert signer.key_algorithm == "ec"
        pdf = sign_pdf(directive, signer)
    assert_pdfsig_valid(pdf, nss_db, tmp_path, count=1)
    (_n, st), = validate_all(pdf, pki_server)
    assert st.intact and st.valid and st.trusted


def test_deferred_with_token(token, pki_server, directive, nss_db, tmp_path):
    """Two-step signing as with a web e-office: the server never touches the token; the token
    signs only the digest."""
    from signing.deferred import complete_deferred, prepare_deferred

    with Pkcs11Signer.open(LIB, TOKEN, PIN, LABEL) as tok:
        cert, chain = tok.certificate, tok.chain
        pending = prepare_deferred(directive, cert, chain, appearance=PersonalAppearance(
            pki_server.entity("official-h41").image))
        value = tok.sign_digest(pending.digest_to_sign, pending.md)
    pdf = complete_deferred(pending, value)
    assert_pdfsig_valid(pdf, nss_db, tmp_path, count=1)
