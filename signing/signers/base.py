"""One signer interface for keys in files, tokens and remote services.

WHY: PAdES, CMS and deferred signing only need "the certificate, its chain, and a raw signature
over a digest". Tokens (PKCS#11) and remote services (CSC API) sign digests, not documents, so the
primitive every signer implements is :meth:`Signer.sign_digest`; pyHanko's ``async_sign_raw`` is
derived from it once, here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from asn1crypto import algos, cms, x509
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pyhanko.sign import attributes as _attrs
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
        self._der: dict = {}

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

    # --- Speed: the parts of the CMS that never change for one signer -------------------------
    # pyHanko rebuilds the signer identifier, algorithm identifiers, the signing-certificate-v2
    # attribute and the certificate set from Python values for every signature; asn1crypto then
    # re-serialises whole certificates (about half of the signing time for a small PDF). We
    # build each once, keep its DER, and hand out freshly parsed copies, which asn1crypto dumps
    # by copying bytes. The CMS produced is byte-for-byte what pyHanko would build.

    def _cached_der(self, key, build) -> bytes:
        der = self._der.get(key)
        if der is None:
            der = self._der[key] = build().dump()
        return der

    def signer_info(self, digest_algorithm: str, signed_attrs, signature):
        if digest_algorithm not in ALLOWED_DIGESTS:
            return super().signer_info(digest_algorithm, signed_attrs, signature)
        cert = self.signing_cert
        sid = self._cached_der("sid", lambda: cms.SignerIdentifier({
            "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                {"issuer": cert.issuer, "serial_number": cert.serial_number}
            )
        }))
        dalg = self._cached_der(("md", digest_algorithm),
                                lambda: algos.DigestAlgorithm({"algorithm": digest_algorithm}))
        salg = self._cached_der(("sig", digest_algorithm),
                                lambda: self.get_signature_mechanism_for_digest(digest_algorithm))
        return cms.SignerInfo({
            "version": "v1",
            "sid": cms.SignerIdentifier.load(sid),
            "digest_algorithm": algos.DigestAlgorithm.load(dalg),
            "signature_algorithm": algos.SignedDigestAlgorithm.load(salg),
            "signed_attrs": signed_attrs,
            "signature": signature,
        })

    def _package_signature(self, *, digest_algorithm, cms_version, signed_attrs, signature,
                           unsigned_attrs, encap_content_info):
        if self.attribute_certs or not self.embed_roots:
            return super()._package_signature(
                digest_algorithm=digest_algorithm, cms_version=cms_version,
                signed_attrs=signed_attrs, signature=signature, unsigned_attrs=unsigned_attrs,
                encap_content_info=encap_content_info,
            )
        sig_info = self.signer_info(digest_algorithm, signed_attrs, signature)
        if unsigned_attrs is not None:
            sig_info["unsigned_attrs"] = unsigned_attrs
        certs = self._cached_der("certs", lambda: cms.CertificateSet([
            cms.CertificateChoices(name="certificate", value=c)
            for c in [self.signing_cert, *self.chain]
        ]))
        return cms.ContentInfo({
            "content_type": cms.ContentType("signed_data"),
            "content": cms.SignedData({
                "version": cms_version,
                "digest_algorithms": cms.DigestAlgorithms((sig_info["digest_algorithm"],)),
                "encap_content_info": encap_content_info or {"content_type": "data"},
                "certificates": cms.CertificateSet.load(certs),
                "signer_infos": [sig_info],
            }),
        })

    def _signed_attr_providers(self, *args, **kwargs):
        for provider in super()._signed_attr_providers(*args, **kwargs):
            if type(provider) is _attrs.SigningCertificateV2Provider:
                yield _CachedAttribute(self._cached_der(
                    "signing_certificate_v2",
                    lambda p=provider: _attrs.simple_cms_attribute(
                        p.attribute_type, _attrs.as_signing_certificate_v2(self.signing_cert)
                    ),
                ))
            else:
                yield provider


class _CachedAttribute(_attrs.CMSAttributeProvider):
    """A signed attribute whose value is the same for every signature (signing-cert-v2)."""

    attribute_type = "signing_certificate_v2"

    def __init__(self, der: bytes):
        self._attr_der = der

    async def get_attribute(self, dry_run=False) -> cms.CMSAttribute:
        return cms.CMSAttribute.load(self._attr_der)
