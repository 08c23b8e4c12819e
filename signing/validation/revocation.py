"""Revocation status of a certificate: OCSP first, CRL second, embedded data offline.

Circular 15/2025 wants the status checked by OCSP or CRL and, when neither works, a warning —
never a silent pass. Network answers are cached for a freshness window (OCSP per certificate,
CRLs per URL until their nextUpdate), so a batch of documents from the same signers costs one
request per signer, and a slow or dead responder costs at most the timeout once per window.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from asn1crypto import keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID

from signing.netclient import client
from signing.validation.report import RevocationInfo, RevocationStatus

FRESHNESS_SECONDS = 1800  # how long a fetched answer is reused
DEFAULT_TIMEOUT = 5.0

_to_crypto_cache: dict[bytes, x509.Certificate] = {}
_ocsp_cache: dict[tuple, tuple[float, RevocationInfo]] = {}
_crl_cache: dict[str, tuple[float, x509.CertificateRevocationList | None, str]] = {}
# URLs that just timed out: not retried for DEAD_SECONDS, so a dead responder costs one timeout.
# A refused connection or an error answer costs nothing to find out again: never marked, so the
# first question after the service is back gets its answer.
_dead: dict[str, float] = {}
DEAD_SECONDS = 60
# Final answers from the network per (certificate, issuer), reused for the freshness window.
_status_cache: dict[tuple[bytes, bytes], tuple[float, RevocationInfo]] = {}
_lock = threading.Lock()


def freshness_bucket(now: float | None = None) -> int:
    return int((now or time.time()) // FRESHNESS_SECONDS)


def clear_cache() -> None:
    with _lock:
        _ocsp_cache.clear()
        _crl_cache.clear()
        _status_cache.clear()
        _dead.clear()


def to_crypto(cert: asn1_x509.Certificate) -> x509.Certificate:
    key = cert.sha256
    c = _to_crypto_cache.get(key)
    if c is None:
        c = x509.load_der_x509_certificate(cert.dump())
        if len(_to_crypto_cache) > 10_000:
            _to_crypto_cache.clear()
        _to_crypto_cache[key] = c
    return c


def _verify_with(pub, signature: bytes, data: bytes, hash_algo) -> bool:
    try:
        if isinstance(pub, rsa.RSAPublicKey):
            pub.verify(signature, data, padding.PKCS1v15(), hash_algo)
        elif isinstance(pub, ec.EllipticCurvePublicKey):
            pub.verify(signature, data, ec.ECDSA(hash_algo))
        else:
            pub.verify(signature, data)
        return True
    except (InvalidSignature, TypeError, ValueError):
        return False


@dataclass
class Checker:
    """Status of certificates for one validation. ``mode``: online, offline or off."""

    mode: str = "online"
    timeout: float = DEFAULT_TIMEOUT
    embedded_ocsp: tuple[bytes, ...] = ()
    embedded_crls: tuple[bytes, ...] = ()

    def status(self, cert: asn1_x509.Certificate, issuer: asn1_x509.Certificate) -> RevocationInfo:
        if self.mode == "off":
            return RevocationInfo(RevocationStatus.NOT_CHECKED, details=["revocation checking off"])
        details: list[str] = []
        key = (cert.sha256, issuer.sha256)
        if self.mode == "online":
            hit = _status_cache.get(key)
            if hit is not None and time.time() - hit[0] < FRESHNESS_SECONDS:
                return hit[1]
            info = self._online(cert, issuer, details)
            if info is not None:
                with _lock:
                    if len(_status_cache) > 10_000:
                        _status_cache.clear()
                    _status_cache[key] = (time.time(), info)
                return info
        return self._embedded(cert, issuer, details)

    def _online(self, cert, issuer, details) -> RevocationInfo | None:
        c, i = to_crypto(cert), to_crypto(issuer)
        for url in cert.ocsp_urls:
            info = self._ocsp_online(c, i, url, details)
            if info is not None:
                return info
        for url in _crl_urls(cert):
            info = self._crl_online(c, i, url, details)
            if info is not None:
                return info
        return None

    def _embedded(self, cert, issuer, details) -> RevocationInfo:
        c, i = to_crypto(cert), to_crypto(issuer)
        for der in self.embedded_ocsp:
            info = _check_ocsp_response(der, c, i, "embedded OCSP", details)
            if info is not None:
                return info
        for der in self.embedded_crls:
            info = _check_crl(_load_crl(der), c, i, "embedded CRL", details)
            if info is not None:
                return info
        if not cert.ocsp_urls and not _crl_urls(cert) and not details:
            details.append("the certificate names no OCSP responder and no CRL")
        return RevocationInfo(RevocationStatus.UNKNOWN, details=details or ["no revocation data"])

    def _ocsp_online(self, c, i, url, details) -> RevocationInfo | None:
        key = (c.fingerprint(hashes.SHA256()), url)
        now = time.time()
        with _lock:
            hit = _ocsp_cache.get(key)
        if hit and now - hit[0] < FRESHNESS_SECONDS:
            return hit[1]
        if _recently_dead(url, details):
            return None
        try:
            req = ocsp.OCSPRequestBuilder().add_certificate(c, i, hashes.SHA1()).build()
            resp = client().post(
                url,
                content=req.public_bytes(serialization.Encoding.DER),
                headers={"Content-Type": "application/ocsp-request"},
                timeout=self.timeout,
            )
            resp.raise_for_status()
        except Exception as exc:
            details.append(f"OCSP {url}: {type(exc).__name__} {exc}".strip())
            _mark_if_slow(url, exc)
            return None
        info = _check_ocsp_response(resp.content, c, i, "OCSP", details)
        if info is not None:
            with _lock:
                _ocsp_cache[key] = (now, info)
        return info

    def _crl_online(self, c, i, url, details) -> RevocationInfo | None:
        now = time.time()
        with _lock:
            hit = _crl_cache.get(url)
        crl = None
        if hit and now - hit[0] < FRESHNESS_SECONDS and hit[1] is not None:
            crl = hit[1]
        else:
            if _recently_dead(url, details):
                return None
            try:
                resp = client().get(url, timeout=self.timeout)
                resp.raise_for_status()
                crl = _load_crl(resp.content)
            except Exception as exc:
                details.append(f"CRL {url}: {type(exc).__name__} {exc}".strip())
                _mark_if_slow(url, exc)
                return None
            with _lock:
                _crl_cache[url] = (now, crl, url)
        return _check_crl(crl, c, i, "CRL", details)


def _mark_if_slow(url: str, exc: Exception) -> None:
    if isinstance(exc, httpx.TimeoutException):
        _dead[url] = time.time()


def _recently_dead(url: str, details: list[str]) -> bool:
    failed_at = _dead.get(url)
    if failed_at is not None and time.time() - failed_at < DEAD_SECONDS:
        details.append(f"{url}: did not answer {int(time.time() - failed_at)} s ago, not retried")
        return True
    return False


def _crl_urls(cert: asn1_x509.Certificate) -> list[str]:
    out = []
    for dp in cert.crl_distribution_points:
        try:
            out.append(dp.url)
        except Exception:
            continue
    return [u for u in out if u]


def _load_crl(der: bytes):
    try:
        return x509.load_der_x509_crl(der)
    except ValueError:
        return x509.load_pem_x509_crl(der)


def _check_crl(
    crl, c: x509.Certificate, i: x509.Certificate, source: str, details
) -> RevocationInfo | None:
    if crl is None:
        return None
    if crl.issuer != i.subject:
        return None
    if not crl.is_signature_valid(i.public_key()):
        details.append(f"{source}: signature of the CRL does not verify")
        return None
    entry = crl.get_revoked_certificate_by_serial_number(c.serial_number)
    now = datetime.now(UTC)
    if entry is not None:
        return RevocationInfo(
            RevocationStatus.REVOKED,
            source=source,
            checked_at=crl.last_update_utc,
            revoked_at=entry.revocation_date_utc,
            reason=_crl_reason(entry),
        )
    if crl.next_update_utc is not None and crl.next_update_utc < now and source == "CRL":
        details.append(f"{source}: CRL expired at {crl.next_update_utc.isoformat()}")
    return RevocationInfo(RevocationStatus.GOOD, source=source, checked_at=crl.last_update_utc)


def _crl_reason(entry) -> str | None:
    try:
        return entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.name
    except Exception:
        return None


def _check_ocsp_response(der: bytes, c, i, source: str, details) -> RevocationInfo | None:
    try:
        r = ocsp.load_der_ocsp_response(der)
    except Exception as exc:
        details.append(f"{source}: unreadable response ({exc})")
        return None
    if r.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
        details.append(f"{source}: responder said {r.response_status.name}")
        return None
    try:
        single = next(
            s
            for s in r.responses
            if s.serial_number == c.serial_number
            and s.issuer_key_hash == _key_hash(i, s.hash_algorithm)
        )
    except StopIteration:
        return None
    if not _ocsp_signed_ok(r, i):
        details.append(f"{source}: response signature does not verify")
        return None
    status = single.certificate_status
    if status == ocsp.OCSPCertStatus.GOOD:
        return RevocationInfo(
            RevocationStatus.GOOD, source=source, checked_at=single.this_update_utc
        )
    if status == ocsp.OCSPCertStatus.REVOKED:
        reason = single.revocation_reason.name if single.revocation_reason else None
        return RevocationInfo(
            RevocationStatus.REVOKED,
            source=source,
            checked_at=single.this_update_utc,
            revoked_at=single.revocation_time_utc,
            reason=reason,
        )
    details.append(f"{source}: responder does not know the certificate")
    return None


def _key_hash(issuer: x509.Certificate, algo) -> bytes:
    pub = issuer.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    bits = keys.PublicKeyInfo.load(pub)["public_key"].contents[1:]
    h = hashes.Hash(algo)
    h.update(bits)
    return h.finalize()


def _ocsp_signed_ok(r, issuer: x509.Certificate) -> bool:
    candidates = [issuer]
    for cert in r.certificates:
        # a delegated responder: issued by the CA and marked for OCSP signing
        try:
            eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            delegated = ExtendedKeyUsageOID.OCSP_SIGNING in eku
        except x509.ExtensionNotFound:
            delegated = False
        if (
            delegated
            and cert.issuer == issuer.subject
            and _verify_with(
                issuer.public_key(),
                cert.signature,
                cert.tbs_certificate_bytes,
                cert.signature_hash_algorithm,
            )
        ):
            candidates.append(cert)
    return any(
        _verify_with(
            cand.public_key(), r.signature, r.tbs_response_bytes, r.signature_hash_algorithm
        )
        for cand in candidates
    )
