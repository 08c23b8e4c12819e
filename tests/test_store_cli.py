"""The storage commands end to end: ``edoc store put/get/check`` (local directory and SeaweedFS
S3), ``edoc db upgrade``, ``edoc audit verify`` naming the first bad entry, and ``edoc audit
anchor`` through the real development TSA."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from api.cli.main import app
from storage.db import Database

runner = CliRunner()


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray .env, data dir inside tmp
    monkeypatch.setenv("EDOC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("EDOC_STORE", raising=False)
    monkeypatch.delenv("EDOC_DB", raising=False)
    return tmp_path


def run(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(app, list(args), env=env)


def put_get_check(tmp: Path, env: dict[str, str] | None = None) -> str:
    src = tmp / "quyet-dinh.pdf"
    src.write_bytes(b"%PDF-1.7 " + os.urandom(50_000))
    r = run("store", "put", str(src), env=env)
    assert r.exit_code == 0, r.output
    key = r.stdout.strip()
    assert key.startswith("sha256/")
    r = run("store", "get", key, str(tmp / "back.pdf"), env=env)
    assert r.exit_code == 0, r.output
    assert (tmp / "back.pdf").read_bytes() == src.read_bytes()
    r = run("store", "check", env=env)
    assert r.exit_code == 0 and "1 objects intact" in r.stdout
    return key


def test_store_commands_local(env: Path) -> None:
    key = put_get_check(env)
    path = env / "data" / "objects" / key
    os.chmod(path, 0o644)
    path.write_bytes(b"altered")
    r = run("store", "check")
    assert r.exit_code == 1 and "mismatch" in r.stdout and key in r.stdout
    r = run("store", "get", key, str(env / "bad.pdf"))
    assert r.exit_code == 1 and "không khớp mã băm" in r.stderr
    assert not (env / "bad.pdf").exists()
    r = run("store", "get", "sha256/zz", str(env / "x"))
    assert r.exit_code == 1 and "invalid object key" in r.stderr


@pytest.mark.s3
def test_store_commands_s3(env: Path, s3_server) -> None:
    put_get_check(env, env={"EDOC_STORE": s3_server.url(retention_days=1)})
    wrong = s3_server.url(retention_days=1).replace(s3_server.secret_key, "nope")
    r = run("store", "check", env={"EDOC_STORE": wrong})
    assert r.exit_code == 1 and "credentials" in r.stderr and "nope" not in r.stderr


def test_db_upgrade_and_audit_verify(env: Path, db_url: str) -> None:
    r = run("audit", "verify", "--db", db_url)
    assert r.exit_code == 1 and "edoc db upgrade" in r.stderr
    r = run("db", "upgrade", "--db", db_url)
    assert r.exit_code == 0, r.output
    db = Database(db_url)
    try:
        with db.uow() as uow:
            for i in range(5):
                uow.audit.append("cli-test", "issue", f"document:{i}")
            uow.commit()
        r = run("audit", "verify", "--db", db_url)
        assert r.exit_code == 0 and "5" in r.stdout, r.output
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE audit_log SET actor = 'x' WHERE seq = 3"))
    finally:
        db.dispose()
    r = run("audit", "verify", "--db", db_url)
    assert r.exit_code == 1 and "first_bad=3" in r.stdout and "bản ghi 3" in r.stderr


def test_audit_anchor_through_the_dev_tsa(env: Path, db_url: str, pki_server) -> None:
    assert run("db", "upgrade", "--db", db_url).exit_code == 0
    db = Database(db_url)
    try:
        with db.uow() as uow:
            uow.audit.append("cli-test", "issue", "document:1")
            uow.commit()
    finally:
        db.dispose()
    envs = {"EDOC_PKI_DIR": str(pki_server.directory)}
    r = run("audit", "anchor", "--db", db_url, env=envs)
    assert r.exit_code == 0, r.output
    r = run("audit", "verify", "--db", db_url, env=envs)
    assert r.exit_code == 0 and "1 anchors" in r.stdout, r.output
    # a token with the right imprint but from a TSA outside the trust roots is refused
    foreign, head = foreign_token(env / "other-pki", db_url)
    from signing.tsa import token_verifier

    assert token_verifier([])(head, foreign)  # the imprint alone would pass
    db = Database(db_url)
    try:
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE audit_anchors SET token = :t"), {"t": foreign})
    finally:
        db.dispose()
    r = run("audit", "verify", "--db", db_url, env=envs)
    assert r.exit_code == 1 and "anchor #1" in r.stderr, r.output


def foreign_token(directory: Path, db_url: str) -> tuple[bytes, bytes]:
    """A time-stamp of the current head by the TSA of ANOTHER development PKI."""
    import asyncio
    import hashlib

    from asn1crypto import x509
    from pyhanko.keys import load_private_key_from_pemder
    from pyhanko.sign.timestamps import DummyTimeStamper

    from signing.devpki import create

    other = create(directory, port=1)
    tsa = other.entity("tsa")
    cert = x509.Certificate.load(_der(tsa.cert.read_bytes()))
    key = load_private_key_from_pemder(tsa.key, passphrase=None)
    db = Database(db_url)
    try:
        with db.uow() as uow:
            _seq, head = uow.audit.head()
    finally:
        db.dispose()
    digest = hashlib.sha256(bytes.fromhex(head)).digest()
    token = asyncio.run(DummyTimeStamper(cert, key).async_timestamp(digest, "sha256"))
    return token.dump(), bytes.fromhex(head)


def _der(data: bytes) -> bytes:
    from asn1crypto import pem

    return pem.unarmor(data)[2] if pem.detect(data) else data
