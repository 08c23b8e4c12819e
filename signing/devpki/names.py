"""Distinguished names shaped like those of the Vietnamese official-use PKI.

Vietnamese text goes in UTF8String (pyca's default for these attributes) in NFC form, so that
"Nguyễn" is stored once, the way tokens and Ban Cơ yếu certificates store it. The identifier goes in
UID (0.9.2342.19200300.100.1.1) with its prefix, ``CCCD:`` for a person, ``MNS:`` for an agency.
Attributes are encoded C, L, O, OU, CN, UID so that RFC 4514 printing reads
"UID=…, CN=…, O=…, L=…, C=VN" as on real certificates.
"""

from __future__ import annotations

import unicodedata

from cryptography import x509
from cryptography.x509.oid import NameOID


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def dn(
    common_name: str,
    *,
    organization: str | None = None,
    unit: str | None = None,
    locality: str | None = None,
    uid: str | None = None,
    country: str = "VN",
) -> x509.Name:
    """Build a Name from the parts real Vietnamese certificates use; empty parts are left out."""
    parts: list[tuple[x509.ObjectIdentifier, str | None]] = [
        (NameOID.COUNTRY_NAME, country),
        (NameOID.LOCALITY_NAME, locality),
        (NameOID.ORGANIZATION_NAME, organization),
        (NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
        (NameOID.COMMON_NAME, common_name),
        (NameOID.USER_ID, uid),
    ]
    return x509.Name(
        [x509.NameAttribute(oid, _nfc(value)) for oid, value in parts if value]
    )


def upper_vi(text: str) -> str:
    """Upper-case Vietnamese the way agencies write their parent in O ("ỦY BAN NHÂN DÂN …")."""
    return _nfc(_nfc(text).upper())
