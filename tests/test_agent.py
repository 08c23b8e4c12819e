"""``edoc agent``, the leader's local signing agent, run for real: the ``edoc agent`` process on
a free loopback port, a SoftHSM2 token (RSA and ECDSA keys made inside it), a PIN program written
by the test that counts how often it runs, and httpx playing the e-office page.

What is proven: the page gets the token's certificate without a PIN and a signature over the
digest that ``cryptography`` verifies; other origins, other Host names, missing or wrong pairing
codes are refused (and ten wrong codes lock pairing); a wrong PIN is asked once, never retried;
anything but a digest is refused before the PIN is asked; the PKCS#12 fallback; the agent will not
start on another address or without a way to ask the PIN.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from tests.agent_helpers import ORIGIN, Agent, agent_command, run_agent
from tests.token_helpers import EC_LABEL, LABEL, LIB, NAME, SoftToken, softhsm_token

EVIL = "https://vanphong-nghean.example.com"
HASHES = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}

def refused(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == code and body["message_vi"] and body["message_en"], body
    return body


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def verify(cert_der: bytes, signature: bytes, digest: bytes, md: str) -> None:
    """The signature is over ``digest`` with the certificate's key (raises if not)."""
    key = x509.load_der_x509_certificate(cert_der).public_key()
    algo = Prehashed(HASHES[md]())
    if isinstance(key, rsa.RSAPublicKey):
        key.verify(signature, digest, padding.PKCS1v15(), algo)
    else:
        assert isinstance(key, ec.EllipticCurvePublicKey)
        key.verify(signature, digest, ec.ECDSA(algo))


@pytest.fixture(scope="module")
def token(dev_pki, tmp_path_factory) -> Iterator[SoftToken]:
    """One SoftHSM2 token with an RSA and an ECDSA key; ``SOFTHSM2_CONF`` is set while it
    lives, so the agents started below inherit it."""
    with softhsm_token(tmp_path_factory.mktemp("agent-token"), dev_pki,
                       ec_label=EC_LABEL) as tok:
        yield tok


@pytest.fixture(scope="module")
def agents(token: SoftToken, tmp_path_factory) -> Iterator[dict[str, Agent]]:
    """Two agents on the token: the RSA key (``rsa``) and the ECDSA key (``ec``)."""
    base = tmp_path_factory.mktemp("agents")
    common = ("--pkcs11-lib", LIB, "--token", token.label)
    with run_agent(base / "rsa", *common, "--key-label", LABEL, pin=token.pin) as rsa_agent, \
            run_agent(base / "ec", *common, "--key-label", EC_LABEL, pin=token.pin) as ec_agent:
        yield {"rsa": rsa_agent, "ec": ec_agent}


def test_hello_and_certificate_without_pin(agents: dict[str, Agent], token: SoftToken) -> None:
    agent = agents["rsa"]
    before = agent.prompts
    with agent.client() as page:
        r = page.get("/v1/hello")  # no pairing needed: the page asks whether the agent runs
    assert r.status_code == 200 and r.json() == {"agent": "edoc", "version": 1,
                                                 "token": token.label}
    assert r.headers["access-control-allow-origin"] == ORIGIN and r.headers["vary"] == "Origin"
    with agent.paired() as page:
        cert = page.get("/v1/certificate").json()
        ec_cert = agents["ec"].paired().get("/v1/certificate").json()
    assert base64.b64decode(cert["certificate"]) == token.certificate.dump()
    assert [base64.b64decode(c) for c in cert["chain"]] == [c.dump() for c in token.chain]
    assert cert["subject"] == NAME and cert["key_type"] == "rsa"
    assert cert["serial"] == str(token.certificate.serial_number)
    assert ec_cert["key_type"] == "ec" and ec_cert["certificate"] != cert["certificate"]
    assert agent.prompts == before  # public objects: no PIN asked


@pytest.mark.parametrize("md", ["sha256", "sha384"])
@pytest.mark.parametrize("key", ["rsa", "ec"])
def test_sign_digest_verifies(agents: dict[str, Agent], key: str, md: str) -> None:
    agent = agents[key]
    digest = hashlib.new(md, f"Chỉ thị số 12/CT-UBND {key}".encode()).digest()
    before = agent.prompts
    with agent.paired() as page:
        cert = base64.b64decode(page.get("/v1/certificate").json()["certificate"])
        r = page.post("/v1/sign", json={"digest": b64(digest), "md": md,
                                        "description": "Chỉ thị về phòng chống\nbão lũ"})
    assert r.status_code == 200, r.text
    assert r.json()["md"] == md and r.headers["access-control-allow-origin"] == ORIGIN
    verify(cert, base64.b64decode(r.json()["signature"]), digest, md)
    assert agent.prompts == before + 1
    prompt = agent.last_prompt  # the leader sees who asks, whose key, which document
    assert ORIGIN in prompt and NAME in prompt and "Chỉ thị về phòng chống bão lũ" in prompt


def test_other_origin_refused(agents: dict[str, Agent]) -> None:
    agent = agents["rsa"]
    before = agent.prompts
    for origin in (EVIL, "null", f"{ORIGIN}:8443", ORIGIN.replace("https", "http"), None):
        headers = {"X-Edoc-Pairing": agent.code}
        with agent.client(**headers) as page:
            if origin is None:
                del page.headers["Origin"]
            else:
                page.headers["Origin"] = origin
            for r in (page.get("/v1/hello"), page.get("/v1/certificate"),
                      page.post("/v1/sign", json={"digest": b64(bytes(32)), "md": "sha256"})):
                refused(r, 403, "bad_origin")
                assert not any(h.startswith("access-control-") for h in r.headers), r.headers
    assert agent.prompts == before  # nothing above reached the prompt


def test_preflight(agents: dict[str, Agent]) -> None:
    agent = agents["rsa"]
    ask = {"Access-Control-Request-Method": "POST",
           "Access-Control-Request-Headers": "content-type, x-edoc-pairing",
           "Access-Control-Request-Private-Network": "true"}
    with agent.client(**ask) as page:
        r = page.options("/v1/sign")
        assert r.status_code == 204
        assert {k: r.headers[k] for k in r.headers if k.startswith("access-control-")} == {
            "access-control-allow-origin": ORIGIN,
            "access-control-allow-methods": "GET, POST",
            "access-control-allow-headers": "content-type, x-edoc-pairing",
            "access-control-allow-private-network": "true",
            "access-control-max-age": "600",
        }
        assert r.headers["vary"] == "Origin"
        page.headers["Origin"] = EVIL
        r = page.options("/v1/sign")
    refused(r, 403, "bad_origin")
    assert not any(h.startswith("access-control-") for h in r.headers), r.headers


def test_host_must_be_loopback(agents: dict[str, Agent]) -> None:
    """DNS rebinding: evil.example resolving to 127.0.0.1 still sends its own Host."""
    agent = agents["rsa"]
    with agent.paired() as page:
        for host in ("evil.example", f"evil.example:{agent.port}", f"127.0.0.1:{agent.port + 1}",
                     "127.0.0.1", f"10.0.0.1:{agent.port}"):
            refused(page.get("/v1/hello", headers={"Host": host}), 403, "bad_host")
        assert page.get("/v1/hello", headers={"Host": f"localhost:{agent.port}"}).is_success


def test_pairing_code_required(agents: dict[str, Agent]) -> None:
    agent = agents["rsa"]
    sign = {"digest": b64(bytes(32)), "md": "sha256"}
    with agent.client() as page:
        refused(page.get("/v1/certificate"), 403, "pairing_failed")
        r = page.post("/v1/sign", json=sign)
        refused(r, 403, "pairing_failed")
        assert r.headers["access-control-allow-origin"] == ORIGIN  # the page can read why
        wrong = f"{(int(agent.code.replace('-', '')) + 1) % 10**8:08d}"
        refused(page.get("/v1/certificate", headers={"X-Edoc-Pairing": wrong}), 403,
                "pairing_failed")
        for code in (agent.code, agent.code.replace("-", "")):  # with or without the dash
            r = page.get("/v1/certificate", headers={"X-Edoc-Pairing": code})
            assert r.is_success
            assert agent.code.replace("-", "") not in r.text  # the code is never sent back


def test_wrong_pin_asked_once_then_right_pin_works(agents: dict[str, Agent],
                                                   token: SoftToken) -> None:
    agent = agents["rsa"]
    digest = hashlib.sha256(b"to-trinh").digest()
    before = agent.prompts
    agent.set_pin("000000")
    try:
        with agent.paired() as page:
            body = refused(page.post("/v1/sign", json={"digest": b64(digest), "md": "sha256"}),
                           401, "wrong_pin")
        assert body["message_vi"] == ("Mã PIN không đúng; token có thể bị khóa nếu nhập sai "
                                      "nhiều lần")
        assert body["message_en"] == "wrong PIN; the token may lock after more wrong attempts"
        assert agent.prompts == before + 1  # asked once: no retry loop
    finally:
        agent.set_pin(token.pin)
    with agent.paired() as page:
        r = page.post("/v1/sign", json={"digest": b64(digest), "md": "sha256"})
    assert r.status_code == 200, r.text
    assert agent.prompts == before + 2


def test_cancelled_prompt(agents: dict[str, Agent], token: SoftToken) -> None:
    agent = agents["ec"]
    before = agent.prompts
    agent.set_pin("CANCEL")
    try:
        with agent.paired() as page:
            refused(page.post("/v1/sign", json={"digest": b64(bytes(32)), "md": "sha256"}),
                    409, "cancelled")
    finally:
        agent.set_pin(token.pin)
    assert agent.prompts == before + 1


def test_only_digests_are_signed(agents: dict[str, Agent], directive: bytes) -> None:
    agent = agents["rsa"]
    before = agent.prompts
    bodies: list[Any] = [
        {"digest": b64(bytes(31)), "md": "sha256"},
        {"digest": b64(bytes(33)), "md": "sha256"},
        {"digest": b64(bytes(100)), "md": "sha512"},
        {"digest": b64(directive[:64]), "md": "sha384"},  # the start of a PDF, 64 bytes
        {"digest": b64(directive[:2000]), "md": "sha256"},
        {"digest": "không phải base64!", "md": "sha256"},
        {"digest": b64(bytes(32))[:-1], "md": "sha256"},
        {"digest": b64(bytes(32)), "md": "sha384"},  # md mismatch
        {"digest": b64(bytes(20)), "md": "sha1"},
        {"digest": b64(bytes(32)), "md": "SHA-256x"},
        {"digest": b64(bytes(32))},
        {"md": "sha256"},
        {"digest": 32, "md": "sha256"},
        [b64(bytes(32)), "sha256"],
        {"digest": b64(bytes(32)), "md": "sha256", "padding": "x" * 5000},  # over 4 KB
    ]
    with agent.paired() as page:
        for body in bodies:
            refused(page.post("/v1/sign", json=body), 400, "not_a_digest")
        refused(page.post("/v1/sign", content=directive[:3000],
                          headers={"content-type": "application/pdf"}), 400, "not_a_digest")
        refused(page.post("/v1/sign", content=directive), 400, "not_a_digest")  # a whole PDF
        refused(page.post("/v1/sign", json={"digest": b64(bytes(32)), "md": "sha256",
                                            "description": "x" * 301}), 400, "bad_description")
    assert agent.prompts == before  # the PIN was never asked


def test_sign_requests_are_serialised(agents: dict[str, Agent]) -> None:
    agent = agents["rsa"]
    (agent.directory / "trace").unlink(missing_ok=True)
    (agent.directory / "slow").touch()
    results: list[int] = []

    def sign(i: int) -> None:
        with agent.paired() as page:
            digest = hashlib.sha256(str(i).encode()).digest()
            results.append(page.post("/v1/sign", json={"digest": b64(digest),
                                                       "md": "sha256"}).status_code)

    try:
        threads = [threading.Thread(target=sign, args=(i,)) for i in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        (agent.directory / "slow").unlink()
    assert results == [200, 200, 200]
    assert (agent.directory / "trace").read_text().split() == ["in", "out"] * 3


def test_token_absent_and_pairing_lockout(token: SoftToken, tmp_path: Path) -> None:
    with run_agent(tmp_path / "agent", "--pkcs11-lib", LIB, "--token", "khong-co-token",
                   pin=token.pin) as agent, agent.paired() as page:
        body = refused(page.get("/v1/certificate"), 503, "token_absent")
        assert "cắm token" in body["message_vi"] and "plug the token in" in body["message_en"]
        refused(page.post("/v1/sign", json={"digest": b64(bytes(32)), "md": "sha256"}),
                503, "token_absent")
        assert agent.prompts == 0  # no PIN asked for an absent token
        for i in range(10):
            wrong = {"X-Edoc-Pairing": f"{i:08d}" if f"{i:08d}" != agent.code else "99999999"}
            refused(page.get("/v1/certificate", headers=wrong), 403, "pairing_failed")
        body = refused(page.get("/v1/certificate"), 403, "pairing_locked")  # even the right one
        assert "restart edoc agent" in body["message_en"]
        assert page.get("/v1/hello").is_success


def test_pkcs12_fallback(dev_pki, tmp_path: Path) -> None:
    entity = dev_pki.entity("official-h41")
    digest = hashlib.sha384(b"cong-van").digest()
    with run_agent(tmp_path / "agent", "--p12", str(entity.p12), pin=entity.password) as agent, \
            agent.paired() as page:
        started = agent.prompts  # the password was asked once at start to read the certificate
        cert = page.get("/v1/certificate").json()
        assert base64.b64decode(cert["certificate"]) == entity.certificate().public_bytes(
            serialization.Encoding.DER)
        r = page.post("/v1/sign", json={"digest": b64(digest), "md": "sha384"})
        assert r.status_code == 200, r.text
        verify(base64.b64decode(cert["certificate"]), base64.b64decode(r.json()["signature"]),
               digest, "sha384")
        agent.set_pin("mat-khau-sai")
        refused(page.post("/v1/sign", json={"digest": b64(digest), "md": "sha384"}),
                401, "wrong_pin")
        assert agent.prompts == started + 2  # one per signature, no retry


def test_refuses_to_start(token: SoftToken, tmp_path: Path) -> None:
    key = ["--pkcs11-lib", LIB, "--token", token.label]

    def start(args: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=60, cwd=tmp_path)

    r = start([*agent_command(tmp_path, *key), "--host", "0.0.0.0"])
    assert r.returncode == 1 and "127.0.0.1" in r.stderr and "0.0.0.0" in r.stderr
    assert "listening" not in r.stdout
    no_prompt = [sys.executable, "-m", "api.cli.main", "agent", "--origin", ORIGIN, *key]
    r = start(no_prompt)  # stdin is not a terminal and there is no --pin-command
    assert r.returncode == 1 and "--pin-command" in r.stderr and "terminal" in r.stderr
    r = start(agent_command(tmp_path, *key, origin=f"{ORIGIN}/app"))
    assert r.returncode == 1 and "--origin" in r.stderr
    r = start([*agent_command(tmp_path), "--p12", str(tmp_path / "x.p12"), *key])
    assert r.returncode == 1 and "--p12" in r.stderr
