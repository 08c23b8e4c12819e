"""Who a certificate belongs to, read the way Vietnamese CAs write subjects.

Vietnamese certificates put the identifier in UID (0.9.2342.19200300.100.1.1) with a prefix
(``CCCD:``, ``CMND:``, ``HC:`` for people, ``MST:``, ``MNS:`` for organisations), the person in CN
and the agency in O/OU. Decree 30 needs to tell a personal signature from an agency one, and the
only reliable sign is the identifier kind: a personal id means a person, MST/MNS alone means an
agency.
"""

from __future__ import annotations

import hashlib
import re

from asn1crypto import x509

from signing.validation.report import Party

PERSONAL_IDS = ("CCCD", "CMND", "HC")
AGENCY_IDS = ("MST", "MNS")
_UID_OID = "0.9.2342.19200300.100.1.1"
_ID_RE = re.compile(r"^\s*(CCCD|CMND|HC|MST|MNS|CMT|PASSPORT)\s*[:\-]\s*(.+?)\s*$", re.I)


def _values(name: x509.Name, key: str) -> list[str]:
    out: list[str] = []
    for rdn in name.chosen:
        for atv in rdn:
            t = atv["type"]
            if t.native == key or t.dotted == key:
                value = atv["value"].native
                if isinstance(value, str):
                    out.append(value)
    return out


def parse_ids(name: x509.Name) -> dict[str, str]:
    """Identifiers found in UID (and, as some CAs do, in CN/serialNumber) with their prefix."""
    ids: dict[str, str] = {}
    candidates = _values(name, _UID_OID) + _values(name, "user_id") + _values(name, "serial_number")
    for raw in candidates:
        for part in re.split(r"[,;]", raw):
            m = _ID_RE.match(part)
            if m:
                kind = m.group(1).upper()
                kind = {"CMT": "CMND", "PASSPORT": "HC"}.get(kind, kind)
                ids.setdefault(kind, m.group(2))
    return ids


def classify(ids: dict[str, str]) -> str:
    if any(k in ids for k in PERSONAL_IDS):
        return "personal"
    if any(k in ids for k in AGENCY_IDS):
        return "agency"
    return "unknown"


_PARTIES: dict[bytes, Party] = {}


def party(cert: x509.Certificate) -> Party:
    """The holder of ``cert`` (memoised: the same signers sign thousands of documents)."""
    key = cert.sha256
    found = _PARTIES.get(key)
    if found is None:
        if len(_PARTIES) > 10_000:
            _PARTIES.clear()
        found = _PARTIES[key] = _party(cert)
    return found


def _party(cert: x509.Certificate) -> Party:
    subject = cert.subject
    ids = parse_ids(subject)
    first = lambda key: (_values(subject, key) or [None])[0]  # noqa: E731
    validity = cert["tbs_certificate"]["validity"]
    return Party(
        name=first("common_name"),
        organization=first("organization_name"),
        organizational_unit=first("organizational_unit_name"),
        ids=ids,
        kind=classify(ids),
        subject=subject.human_friendly,
        serial_number=format(cert.serial_number, "X"),
        not_before=validity["not_before"].native,
        not_after=validity["not_after"].native,
        sha256=hashlib.sha256(cert.dump()).hexdigest(),
    )


_DISPLAY: dict[bytes, str] = {}


def display_name(name: x509.Name) -> str:
    """The CN of a name, else its readable form (memoised: chains repeat across documents)."""
    key = name.dump()
    found = _DISPLAY.get(key)
    if found is None:
        cn = _values(name, "common_name")
        found = cn[0] if cn else name.human_friendly
        if len(_DISPLAY) > 10_000:
            _DISPLAY.clear()
        _DISPLAY[key] = found
    return found
