"""RFC 3161 time-stamps over arbitrary bytes: obtain a token from a TSA, and check one.

Used to anchor the audit log's head (X-Road keeps its message log this way): storage keeps the
chain and takes these as callables, so it never imports signing.
"""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path


def timestamper(url: str):
    """``message -> DER TimeStampToken`` from the TSA at ``url`` (imprint: SHA-256(message))."""
    from pyhanko.sign.timestamps import HTTPTimeStamper

    stamper = HTTPTimeStamper(url)

    def stamp(message: bytes) -> bytes:
        digest = hashlib.sha256(message).digest()
        return asyncio.run(stamper.async_timestamp(digest, "sha256")).dump()

    return stamp


def token_verifier(roots: list[Path]):
    """``(message, token) -> bool``: imprint matches; signature valid when roots are given."""
    from asn1crypto import cms, tsp

    def verify(message: bytes, token: bytes) -> bool:
        try:
            signed = cms.ContentInfo.load(token)["content"]
            info = signed["encap_content_info"]["content"].parsed
            if not isinstance(info, tsp.TSTInfo):
                return False
            algo = info["message_imprint"]["hash_algorithm"]["algorithm"].native
            imprint = info["message_imprint"]["hashed_message"].native
            if imprint != hashlib.new(algo, message).digest():
                return False
            if not roots:
                return True
            return _signature_ok(signed, roots, algo, imprint)
        except Exception:  # noqa: BLE001 - any malformed token is simply invalid
            return False

    return verify


def _signature_ok(signed, roots: list[Path], algo: str, imprint: bytes) -> bool:
    from asn1crypto import pem, x509
    from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
    from pyhanko_certvalidator import ValidationContext

    certs = []
    for path in roots:
        data = path.read_bytes()
        if pem.detect(data):
            data = pem.unarmor(data)[2]
        certs.append(x509.Certificate.load(data))
    ctx = ValidationContext(trust_roots=certs, allow_fetching=False, revocation_mode="soft-fail")
    status = asyncio.run(validate_tst_signed_data(signed, ctx, lambda _a: imprint))
    return bool(
        status.get("intact")
        and status.get("valid")
        and status.get("trust_problem_indic") is None
        and status.get("validation_path") is not None
    )
