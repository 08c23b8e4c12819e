"""Cryptographic checks of one CMS SignerInfo: integrity, signature value, time-stamp token.

Done here with asn1crypto + pyca/cryptography rather than through pyHanko's validator because
these are the trust-independent facts (is the hash right, does the signature verify with the
embedded key, which algorithms) and we need them fast, separately from chain building, and for
detached ``.p7s`` files as well as PDF signatures.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from asn1crypto import algos, cms, tsp, x509
from asn1crypto import pdf as _asn1_pdf  # noqa: F401  (registers adbe-revocationInfoArchival)
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

# Circular 15/2025: SHA-2, SHA-3 families only. SHA-1/MD5 are reported as legacy.
ALLOWED_DIGESTS = {
    "sha224",
    "sha256",
    "sha384",
    "sha512",
    "sha512_224",
    "sha512_256",
    "sha3_224",
    "sha3_256",
    "sha3_384",
    "sha3_512",
    "shake128",
    "shake256",
}
_HASHES = {
    "sha1": hashes.SHA1,
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
    "sha512_224": hashes.SHA512_224,
    "sha512_256": hashes.SHA512_256,
    "sha3_224": hashes.SHA3_224,
    "sha3_256": hashes.SHA3_256,
    "sha3_384": hashes.SHA3_384,
    "sha3_512": hashes.SHA3_512,
    "md5": hashes.MD5,
}
OID_TIMESTAMP_TOKEN = "1.2.840.113549.1.9.16.2.14"
OID_ADBE_REVOCATION = "adobe_revocation_info_archival"


class CmsFormatError(ValueError):
    """The bytes are not a usable CMS SignedData structure."""


def new_hasher(name: str):
    name = name.lower()
    try:
        return hashlib.new(name)
    except ValueError as exc:
        raise CmsFormatError(f"unsupported digest algorithm {name}") from exc


@dataclass
class TimestampFacts:
    time: datetime | None = None
    intact: bool = False
    crypto_valid: bool = False
    tsa_cert: x509.Certificate | None = None
    certs: list[x509.Certificate] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass
class SignerFacts:
    """What one SignerInfo proves on its own."""

    intact: bool = False
    crypto_valid: bool = False
    signer_cert: x509.Certificate | None = None
    certs: list[x509.Certificate] = field(default_factory=list)
    digest_algorithm: str = ""
    signature_algorithm: str = ""
    key_bits: int | None = None
    signing_time: datetime | None = None
    has_signing_certificate_attr: bool = False
    has_signed_attrs: bool = False
    timestamp: TimestampFacts | None = None
    embedded_ocsp: list[bytes] = field(default_factory=list)
    embedded_crls: list[bytes] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    weak_algorithm: str | None = None  # legacy/too weak algorithm, said in the report


def load_signed_data(der: bytes) -> cms.SignedData:
    try:
        info = cms.ContentInfo.load(der)
        if info["content_type"].native != "signed_data":
            raise CmsFormatError(f"CMS content type is {info['content_type'].native}")
        sd = info["content"]
        # Parse the parts every check needs now, so that malformed structures fail here.
        # (Not ``sd.native``: a full parse of embedded CRLs can cost seconds.)
        sd["signer_infos"][0]["signed_attrs"]  # noqa: B018
        sd["encap_content_info"]["content_type"].native  # noqa: B018
        return sd
    except CmsFormatError:
        raise
    except Exception as exc:  # asn1crypto raises many types on bad DER
        raise CmsFormatError(f"not a CMS SignedData structure: {exc}") from exc


def certificates(sd: cms.SignedData) -> list[x509.Certificate]:
    out = []
    for choice in sd["certificates"] or []:
        if choice.name == "certificate":
            out.append(choice.chosen)
    return out


def find_signer_cert(sid: cms.SignerIdentifier, certs: list[x509.Certificate]):
    if sid.name == "issuer_and_serial_number":
        ias = sid.chosen
        serial = ias["serial_number"].native
        issuer = ias["issuer"]
        issuer_der = issuer.dump()
        matching = [c for c in certs if c.serial_number == serial]
        for c in matching:  # byte-equal names first: RFC 4518 comparison is slow
            if c.issuer.dump() == issuer_der:
                return c
        for c in matching:
            if c.issuer == issuer:
                return c
    else:
        ski = sid.chosen.native
        for c in certs:
            if c.key_identifier == ski:
                return c
    return None


def _attr(attrs, oid_or_name: str):
    if not attrs:
        return None
    for a in attrs:
        if a["type"].native == oid_or_name or a["type"].dotted == oid_or_name:
            return a["values"]
    return None


def verify_raw_signature(
    cert: x509.Certificate,
    signature: bytes,
    data: bytes,
    sig_algo: algos.SignedDigestAlgorithm,
    digest_algorithm: str,
) -> None:
    """Raise InvalidSignature unless ``signature`` over ``data`` verifies with ``cert``'s key."""
    key = load_der_public_key(cert.public_key.dump())
    algo = sig_algo.signature_algo
    if isinstance(key, rsa.RSAPublicKey):
        if algo == "rsassa_pss":
            params = sig_algo["parameters"]
            h = _HASHES[params["hash_algorithm"]["algorithm"].native]()
            mgf_h = _HASHES[params["mask_gen_algorithm"]["parameters"]["algorithm"].native]()
            pad = padding.PSS(mgf=padding.MGF1(mgf_h), salt_length=params["salt_length"].native)
            key.verify(signature, data, pad, h)
        else:
            try:
                h = _HASHES[sig_algo.hash_algo]()
            except (ValueError, KeyError):
                h = _HASHES[digest_algorithm]()
            key.verify(signature, data, padding.PKCS1v15(), h)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        try:
            h = _HASHES[sig_algo.hash_algo]()
        except (ValueError, KeyError):
            h = _HASHES[digest_algorithm]()
        key.verify(signature, data, ec.ECDSA(h))
    elif isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        key.verify(signature, data)
    else:  # pragma: no cover - DSA and exotic keys
        raise InvalidSignature(f"unsupported key type {type(key).__name__}")


_KEY_BITS: dict[bytes, int | None] = {}


def key_bits(cert: x509.Certificate) -> int | None:
    """Key size (memoised by certificate: asn1crypto recomputes it from the modulus)."""
    key = cert.sha256
    if key not in _KEY_BITS:
        try:
            bits = cert.public_key.bit_size
        except Exception:
            bits = None
        if len(_KEY_BITS) > 10_000:
            _KEY_BITS.clear()
        _KEY_BITS[key] = bits
    return _KEY_BITS[key]


def check_signer(
    sd: cms.SignedData,
    signer_info: cms.SignerInfo,
    digest_of: Callable[[str], bytes],
    *,
    content_for_unsigned: Callable[[], bytes] | None = None,
    extra_certs: list[x509.Certificate] | None = None,
    with_timestamp: bool = True,
) -> SignerFacts:
    """Check one SignerInfo. ``digest_of(algo)`` returns the digest of the signed content."""
    facts = SignerFacts()
    facts.certs = certificates(sd) + list(extra_certs or [])
    _read_revocation_choices(sd, facts)
    cert = find_signer_cert(signer_info["sid"], facts.certs)
    facts.signer_cert = cert
    digest_algorithm = signer_info["digest_algorithm"]["algorithm"].native
    facts.digest_algorithm = digest_algorithm
    sig_algo = signer_info["signature_algorithm"]
    facts.signature_algorithm = sig_algo["algorithm"].native
    if digest_algorithm not in ALLOWED_DIGESTS:
        facts.weak_algorithm = f"digest {digest_algorithm}"
    if cert is not None:
        facts.key_bits = key_bits(cert)
        algo = cert.public_key.algorithm
        if facts.key_bits and (
            (algo == "rsa" and facts.key_bits < 2048) or (algo == "ec" and facts.key_bits < 256)
        ):
            facts.weak_algorithm = f"{algo.upper()} key of {facts.key_bits} bits"
    signed_attrs = signer_info["signed_attrs"]
    signature = signer_info["signature"].native
    try:
        actual = digest_of(digest_algorithm)
    except Exception as exc:
        facts.problems.append(f"cannot compute the digest of the signed content: {exc}")
        return facts
    if signed_attrs and len(signed_attrs):
        facts.has_signed_attrs = True
        md = _attr(signed_attrs, "message_digest")
        if md is None:
            facts.problems.append("messageDigest attribute missing")
        else:
            facts.intact = md[0].native == actual
        st = _attr(signed_attrs, "signing_time")
        if st is not None:
            try:
                facts.signing_time = st[0].native
            except Exception:
                facts.problems.append("unreadable signingTime attribute")
        facts.has_signing_certificate_attr = bool(
            _attr(signed_attrs, "signing_certificate_v2")
            or _attr(signed_attrs, "signing_certificate")
        )
        rev = _attr(signed_attrs, OID_ADBE_REVOCATION)
        if rev is not None:
            _read_adbe_revocation(rev, facts)
        signed_bytes = b"\x31" + signed_attrs.dump()[1:]
    else:
        if content_for_unsigned is None:
            facts.problems.append("no signed attributes and no content to verify against")
            return facts
        signed_bytes = content_for_unsigned()
        facts.intact = True  # decided by the signature value below
    if cert is None:
        facts.problems.append("the signer's certificate is not in the signature")
        facts.intact = facts.intact and facts.has_signed_attrs
        return facts
    try:
        verify_raw_signature(cert, signature, signed_bytes, sig_algo, digest_algorithm)
        facts.crypto_valid = True
    except (InvalidSignature, ValueError, KeyError, TypeError) as exc:
        facts.crypto_valid = False
        facts.problems.append(f"signature value does not verify ({type(exc).__name__})")
        if not facts.has_signed_attrs:
            facts.intact = False
    if with_timestamp:
        token = _attr(signer_info["unsigned_attrs"], OID_TIMESTAMP_TOKEN)
        if token is not None:
            facts.timestamp = check_timestamp_token(
                token[0], hashlib_digest_input=signature, extra_certs=facts.certs
            )
    return facts


def _read_revocation_choices(sd: cms.SignedData, facts: SignerFacts) -> None:
    """CRLs and OCSP responses carried in SignedData.crls (RFC 5652/5940: CAdES-LT style)."""
    try:
        for choice in sd["crls"] or []:
            if choice.name == "crl":
                facts.embedded_crls.append(choice.chosen.dump())
            elif choice.name == "other" and choice.chosen["other_rev_info_format"].dotted in (
                "1.3.6.1.5.5.7.16.2",  # id-ri-ocsp-response
            ):
                facts.embedded_ocsp.append(choice.chosen["other_rev_info"].dump())
    except Exception:
        facts.problems.append("unreadable revocation data in the SignedData")


def _read_adbe_revocation(values, facts: SignerFacts) -> None:
    """Adobe's adbe-revocationInfoArchival attribute: CRLs and OCSP responses at signing."""
    try:
        archival = values[0]
        for crl in archival["crl"] or []:
            facts.embedded_crls.append(crl.dump())
        for resp in archival["ocsp"] or []:
            facts.embedded_ocsp.append(resp.dump())
    except Exception:
        facts.problems.append("unreadable adbe-revocationInfoArchival attribute")


def check_timestamp_token(
    token: cms.ContentInfo,
    *,
    hashlib_digest_input: bytes,
    extra_certs: list[x509.Certificate] | None = None,
) -> TimestampFacts:
    """An RFC 3161 token over ``hashlib_digest_input`` (the signature value it time-stamps)."""
    ts = TimestampFacts()
    try:
        sd = token["content"]
        eci = sd["encap_content_info"]
        tst_der = eci["content"].contents if hasattr(eci["content"], "contents") else b""
        tst = tsp.TSTInfo.load(tst_der)
        ts.time = tst["gen_time"].native
        imprint = tst["message_imprint"]
        h_algo = imprint["hash_algorithm"]["algorithm"].native
        hasher = new_hasher(h_algo)
        hasher.update(hashlib_digest_input)
        imprint_ok = hasher.digest() == imprint["hashed_message"].native
        signer_info = sd["signer_infos"][0]

        def digest_of(algo: str) -> bytes:
            h = new_hasher(algo)
            h.update(tst_der)
            return h.digest()

        inner = check_signer(
            sd,
            signer_info,
            digest_of,
            content_for_unsigned=lambda: tst_der,
            extra_certs=extra_certs,
            with_timestamp=False,
        )
        ts.tsa_cert = inner.signer_cert
        ts.certs = inner.certs
        ts.crypto_valid = inner.crypto_valid
        ts.intact = imprint_ok and inner.intact
        if not imprint_ok:
            ts.problems.append("time-stamp imprint does not match the signature value")
        ts.problems.extend(inner.problems)
    except Exception as exc:
        ts.problems.append(f"unreadable time-stamp token: {exc}")
    return ts


def hash_ranges(data: bytes, ranges: list[tuple[int, int]], algo: str) -> bytes:
    h = new_hasher(algo)
    mv = memoryview(data)
    for start, length in ranges:
        h.update(mv[start : start + length])
    return h.digest()


class PrefixHashes:
    """The /ByteRange digests of one file's signatures, sharing what their ranges share.

    Every signature's first range starts at byte 0: a seal signed after a personal signature
    hashes the whole first revision again, then its own update. Hashing a 2 MB document twice
    cost ~1.5 ms per document at a hub; here the hash state at the end of each first range is
    kept (per algorithm), and a later range that starts at 0 and reaches past it continues from
    a copy of that state. The digests are exactly ``hash_ranges``'s."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._view = memoryview(data)
        #: algorithm -> [(offset, hash state of data[:offset])]
        self._states: dict[str, list[tuple[int, object]]] = {}

    def digest(self, ranges: list[tuple[int, int]], algo: str) -> bytes:
        if not ranges or ranges[0][0] != 0 or not 0 <= ranges[0][1] <= len(self.data):
            return hash_ranges(self.data, ranges, algo)
        mv, end = self._view, ranges[0][1]
        states = self._states.setdefault(algo.lower(), [])
        start, base = max(((o, st) for o, st in states if o <= end), key=lambda x: x[0],
                          default=(0, None))
        h = base.copy() if base is not None else new_hasher(algo)  # type: ignore[attr-defined]
        h.update(mv[start:end])
        if start != end:
            states.append((end, h.copy()))
        for start, length in ranges[1:]:
            h.update(mv[start : start + length])
        return h.digest()

    def file_digest(self, algo: str = "sha256") -> bytes:
        """The whole file's digest, continued from the longest prefix hashed so far: the last
        signature's first range runs from byte 0 to its /Contents, so what is left is that hole
        and the file's tail (kilobytes), not the megabytes a node would otherwise hash again to
        name the file."""
        states = self._states.get(algo.lower(), [])
        start, base = max(states, key=lambda x: x[0], default=(0, None))
        h = base.copy() if base is not None else new_hasher(algo)  # type: ignore[attr-defined]
        h.update(self._view[start:])
        return h.digest()
