"""Small helpers shared by the development-PKI tests (running openssl, reading certificates)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from asn1crypto import pem
from asn1crypto import x509 as asn1_x509
from cryptography import x509

CONTRACT_IDS = {
    "official-h41", "agency-h41", "official-c1", "agency-c1", "official-c2", "agency-c2",
    "official-d32", "agency-d32", "official-d32c5", "agency-d32c5", "tsa", "ocsp", "revoked",
    "expired", "node-province", "node-district", "node-hub",
}


def openssl(*args: str | Path, cwd: Path | None = None,
            check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True,
                            cwd=cwd, timeout=60)
    if check and result.returncode != 0:
        raise AssertionError(f"openssl {args} failed:\n{result.stdout}\n{result.stderr}")
    return result


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def load_asn1(path: Path) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(pem.unarmor(path.read_bytes())[2])
