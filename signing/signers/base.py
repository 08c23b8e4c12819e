"""One signer interface for keys in files, tokens and remote services.

WHY: PAdES, CMS and deferred signing only need "the certificate, its chain, and a raw signature
over a digest". Tokens (PKCS#11) and remote services (CSC API) sign digests, not documents, so the
primitive every signer implements is :meth:`Signer.sign_digest`; pyHanko's ``async_sign_raw`` is
derived from it once, here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from asn1crypto import algos, x509
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pyhanko.sign import signers as _ph
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing.errors import SigningError

ALLOWED_DIGESTS = ("sha256", "sha384", "sha512")


def check_digest(md: str) -> str:
    """Refuse anything but SHA-2 256/384/512 (Circular 15/2025 does not list SHA-1)."""
    md = md.lower().replace("-", "")
    if md not in ALLOWED_DIGESTS:
        raise SigningError(
            f"Thuật toán băm {md} không được phép; dùng sha256, sha384 hoặc sha512.",
            f"digest algorithm {md} is not allowed; use sha256, sha384 or sha512",
            code="bad_digest",
        )
    return md


def digest_info(md: str, digest: bytes) -> bytes:
    """DER DigestInfo, what RSA PKCS#1 v1.5 actually signs (needed by tokens' raw RSA)."""
    return algos.DigestInfo(
        {"digest_algorithm": {"algorithm": md}, "digest": digest}
    ).dump()


def raw_ecdsa_to_der(raw: bytes) -> bytes:
    """PKCS#11 and CSC return r||s; CMS wants the DER SEQUENCE."""
    half = len(raw) // 2
    r, s = int.from_bytes(raw[:half], "big"), int.from_bytes(raw[half:], "big")
    return encode_dss_signature(r, s)


class Signer(_ph.Signer):
    """Abstract signer: :attr:`certificate`, :attr:`chain` and :meth:`sign_digest`.

    Subclasses implement ``sign_digest(digest, md)`` returning the raw signature value for the
    mechanism :meth:`mechanism` reports (PKCS#1 v1.5 by default, PSS if ``prefer_pss``, ECDSA
    for EC keys) — DER-encoded for ECDSA.
    """

    def __init__(
        self,
        certificate: x509.Certificate,
        chain: Iterable[x509.Certificate] = (),
        *,
        prefer_pss: bool = False,
    ):
        chain = [c for c in chain if c.sha256 != certificate.sha256]
        registry = SimpleCertificateStore.from_certs([certificate, *chain])
        super().__init__(
            prefer_pss=prefer_pss,
            embed_roots=True,
            signing_cert=certificate,
            cert_registry=registry,
        )
        self._chain = chain
        # Results of the pre-signing certificate check, keyed by purpose (see signing.precheck).
        self.precheck_cache: dict = {}

    @property
    def certificate(self) -> x509.Certificate:
        return self.signing_cert

    @property
    def chain(self) -> list[x509.Certificate]:
        """CA certificates above the signer's, as provided (embedded in every signature)."""
        return list(self._chain)

    @property
    def key_algorithm(self) -> str:
        return self.signing_cert.public_key.algorithm

    def mechanism(self, md: str) -> str:
        """'rsassa_pkcs1v15', 'rsassa_pss' or 'ecdsa' for digest ``md``."""
        return self.get_signature_mechanism_for_digest(md).signature_algo

    def pss_salt_length(self, md: str) -> int:
        params = self.get_signature_mechanism_for_digest(md)["parameters"]
        return int(params["salt_length"].native)

    def sign_digest(self, digest: bytes, md: str) -> bytes:
        """Return the raw signature over a precomputed ``digest`` made with ``md``."""
        raise NotImplementedError

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run=False) -> bytes:
        md = check_digest(digest_algorithm)
        if dry_run:
            return self.placeholder_signature()
        return self.sign_digest(hashlib.new(md, data).digest(), md)

    def placeholder_signature(self) -> bytes:
        """A value of the maximum signature size, for pyHanko's size estimate (no key use:
        a token must not be asked to sign twice per document)."""
        pub = self.signing_cert.public_key
        if pub.algorithm == "rsa":
            return bytes(pub.bit_size // 8)
        size = (pub.bit_size + 7) // 8
        big = (1 << (8 * size)) - 1
        return encode_dss_signature(big, big)
