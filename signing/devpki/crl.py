"""Certificate revocation lists of the development CAs.

A CRL is re-signed whenever it is about to go stale (:func:`needs_refresh`), so the file a
long-running ``edoc pki serve`` hands out always has a future nextUpdate, as validators require.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from signing.devpki.issue import Issuer

CRL_LIFETIME = timedelta(days=7)
REFRESH_MARGIN = timedelta(days=1)


@dataclass(frozen=True)
class Revocation:
    serial: int
    when: datetime
    reason: x509.ReasonFlags = x509.ReasonFlags.key_compromise


def build_crl(
    issuer: Issuer, revoked: Iterable[Revocation], now: datetime, number: int
) -> bytes:
    """DER CRL signed by ``issuer`` listing ``revoked``, valid from ``now`` for a week."""
    ski = issuer.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.cert.subject)
        .last_update(now - timedelta(minutes=5))
        .next_update(now + CRL_LIFETIME)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    )
    for item in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(item.serial)
            .revocation_date(item.when)
            .add_extension(x509.CRLReason(item.reason), critical=False)
            .build()
        )
    crl = builder.sign(issuer.key, hashes.SHA256())
    return crl.public_bytes(serialization.Encoding.DER)


def needs_refresh(crl_der: bytes, now: datetime) -> bool:
    """True when the CRL expires within :data:`REFRESH_MARGIN` (or has expired)."""
    next_update = x509.load_der_x509_crl(crl_der).next_update_utc
    return next_update is None or next_update - REFRESH_MARGIN <= now


def next_number(crl_der: bytes) -> int:
    crl = x509.load_der_x509_crl(crl_der)
    try:
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number + 1
    except x509.ExtensionNotFound:
        return 1
