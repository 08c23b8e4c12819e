"""How a development certificate is recognised, so that it is never trusted in production.

Every certificate of the development PKI — the root included — carries the certificate policy
:data:`DEV_POLICY_OID`, an OID under the ``2.25`` (UUID) arc that nobody else can mint, and the
CAs carry "(DEV)" in their common name for humans. A trust store calls :func:`is_dev_root` (or
:func:`is_dev_cert`) on every root it is given and refuses the ones that match unless edoc runs in
development mode. The policy OID is the authoritative test; the name is only a second net for a
certificate whose extensions were stripped.
"""

from __future__ import annotations

from typing import Any

from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509

DEV_POLICY_OID = "2.25.118221982674960537588530189001293918841"
DEV_NAME_MARK = "(DEV)"


def _as_asn1(cert: Any) -> asn1_x509.Certificate:
    """Accept what callers hold: asn1crypto, pyca/cryptography, or PEM/DER bytes."""
    if isinstance(cert, asn1_x509.Certificate):
        return cert
    if isinstance(cert, bytes | bytearray):
        data = bytes(cert)
        if asn1_pem.detect(data):
            _, _, data = asn1_pem.unarmor(data)
        return asn1_x509.Certificate.load(data)
    public_bytes = getattr(cert, "public_bytes", None)
    if public_bytes is not None:  # cryptography.x509.Certificate
        from cryptography.hazmat.primitives.serialization import Encoding

        return asn1_x509.Certificate.load(public_bytes(Encoding.DER))
    raise TypeError(f"not a certificate: {type(cert).__name__}")


def is_dev_cert(cert: Any) -> bool:
    """True if ``cert`` was made by the development PKI (policy OID or "(DEV)" CA name)."""
    c = _as_asn1(cert)
    policies = c.certificate_policies_value
    if policies is not None and any(
        p["policy_identifier"].dotted == DEV_POLICY_OID for p in policies
    ):
        return True
    for name in (c.subject, c.issuer):
        common_name = name.native.get("common_name") or ""
        if isinstance(common_name, list):
            common_name = " ".join(common_name)
        if DEV_NAME_MARK in common_name:
            return True
    return False


def is_dev_root(cert: Any) -> bool:
    """True if ``cert`` is a development CA certificate (self-signed root or the dev sub-CA).

    Named for its main use — vetting trust anchors — but it also flags the dev sub-CA, so a trust
    store that is handed intermediates as anchors refuses those too.
    """
    c = _as_asn1(cert)
    return bool(c.ca) and is_dev_cert(c)
