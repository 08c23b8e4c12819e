"""The validation report, modelled on ETSI EN 319 102-1.

Why a model of our own rather than pyHanko's status objects: the report must survive JSON, HTML and
Vietnamese rendering, must separate the facts that hold whatever one trusts (integrity, coverage,
changes after signing) from the conclusions that depend on the trust store and on revocation data,
and must name its verdicts exactly as DSS and the standard do so that clerks and auditors can
compare them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Indication(StrEnum):
    TOTAL_PASSED = "TOTAL_PASSED"
    TOTAL_FAILED = "TOTAL_FAILED"
    INDETERMINATE = "INDETERMINATE"


class SubIndication(StrEnum):
    # TOTAL_FAILED
    FORMAT_FAILURE = "FORMAT_FAILURE"
    HASH_FAILURE = "HASH_FAILURE"
    SIG_CRYPTO_FAILURE = "SIG_CRYPTO_FAILURE"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"
    # INDETERMINATE
    SIG_CONSTRAINTS_FAILURE = "SIG_CONSTRAINTS_FAILURE"
    CHAIN_CONSTRAINTS_FAILURE = "CHAIN_CONSTRAINTS_FAILURE"
    CERTIFICATE_CHAIN_GENERAL_FAILURE = "CERTIFICATE_CHAIN_GENERAL_FAILURE"
    CRYPTO_CONSTRAINTS_FAILURE = "CRYPTO_CONSTRAINTS_FAILURE"
    CRYPTO_CONSTRAINTS_FAILURE_NO_POE = "CRYPTO_CONSTRAINTS_FAILURE_NO_POE"
    NO_SIGNING_CERTIFICATE_FOUND = "NO_SIGNING_CERTIFICATE_FOUND"
    NO_CERTIFICATE_CHAIN_FOUND = "NO_CERTIFICATE_CHAIN_FOUND"
    REVOKED_NO_POE = "REVOKED_NO_POE"
    REVOKED_CA_NO_POE = "REVOKED_CA_NO_POE"
    OUT_OF_BOUNDS_NO_POE = "OUT_OF_BOUNDS_NO_POE"
    OUT_OF_BOUNDS_NOT_REVOKED = "OUT_OF_BOUNDS_NOT_REVOKED"
    TRY_LATER = "TRY_LATER"
    TIMESTAMP_ORDER_FAILURE = "TIMESTAMP_ORDER_FAILURE"


class Level(StrEnum):
    """Level reached, PAdES baseline (ETSI EN 319 142-1) or the legacy adbe.pkcs7 formats."""

    B_B = "PAdES-BASELINE-B"
    B_T = "PAdES-BASELINE-T"
    B_LT = "PAdES-BASELINE-LT"
    B_LTA = "PAdES-BASELINE-LTA"
    PKCS7 = "PKCS#7"
    PKCS7_T = "PKCS#7-T"
    CMS = "CMS"
    CMS_T = "CMS-T"
    UNKNOWN = "UNKNOWN"


class RevocationStatus(StrEnum):
    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"  # no answer could be obtained (warning, never a silent pass)
    NOT_CHECKED = "not_checked"  # checking switched off or no chain to check against


@dataclass(frozen=True)
class Change:
    """One change made to the document after a signature, and whether it is allowed."""

    kind: str  # machine name, e.g. "pages_added", "annotations", "form_filling"
    allowed: bool
    description_vi: str
    description_en: str
    objects: tuple[int, ...] = ()
    revision: int | None = None


@dataclass(frozen=True)
class Party:
    """A certificate holder, as read from the certificate subject."""

    name: str | None
    organization: str | None = None
    organizational_unit: str | None = None
    ids: dict[str, str] = field(default_factory=dict)  # CCCD/CMND/HC/MST/MNS -> value
    kind: str = "unknown"  # "personal", "agency" or "unknown" (Decree 30 roles)
    subject: str = ""
    serial_number: str = ""
    not_before: datetime | None = None
    not_after: datetime | None = None
    sha256: str = ""

    @property
    def agency(self) -> str | None:
        return self.organization or self.organizational_unit


@dataclass
class RevocationInfo:
    status: RevocationStatus = RevocationStatus.NOT_CHECKED
    source: str | None = None  # "OCSP", "CRL", "embedded OCSP", "embedded CRL"
    checked_at: datetime | None = None
    revoked_at: datetime | None = None
    reason: str | None = None
    details: list[str] = field(default_factory=list)


@dataclass
class Facts:
    """Trust-independent facts: what the bytes prove on their own."""

    intact: bool = False  # the hash over the signed range matches the signed attributes
    crypto_valid: bool = False  # the signature value verifies with the embedded certificate
    coverage: str = "unknown"  # entire_file, entire_revision, partial, unclear
    byte_range: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # anything odd noticed on the way
    format_problems: list[str] = field(default_factory=list)  # byte-range/structure: fails it
    changes: list[Change] = field(default_factory=list)
    digest_algorithm: str | None = None
    signature_algorithm: str | None = None
    key_bits: int | None = None
    subfilter: str | None = None


@dataclass
class SignatureReport:
    field: str | None
    indication: Indication
    sub_indication: SubIndication | None
    facts: Facts = field(default_factory=Facts)
    signer: Party | None = None
    issuer: str | None = None
    chain: list[str] = field(default_factory=list)
    trusted: bool = False
    signing_time: datetime | None = None
    timestamp_time: datetime | None = None
    level: Level = Level.UNKNOWN
    revocation: RevocationInfo = field(default_factory=RevocationInfo)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    summary_vi: str = ""
    summary_en: str = ""
    revision: int | None = None

    @property
    def intact(self) -> bool:
        return self.facts.intact

    @property
    def changes(self) -> list[Change]:
        return self.facts.changes

    def to_dict(self) -> dict[str, Any]:
        facts = self.facts
        d = {
            "field": self.field,
            "indication": str(self.indication),
            "sub_indication": str(self.sub_indication) if self.sub_indication else None,
            "intact": facts.intact,
            "crypto_valid": facts.crypto_valid,
            "coverage": facts.coverage,
            "byte_range": facts.byte_range,
            "subfilter": facts.subfilter,
            "digest_algorithm": facts.digest_algorithm,
            "signature_algorithm": facts.signature_algorithm,
            "key_bits": facts.key_bits,
            "problems": facts.problems,
            "format_problems": facts.format_problems,
            "changes": [_jsonable(asdict(c)) for c in facts.changes],
            "signer": _party_dict(self.signer),
            "issuer": self.issuer,
            "chain": self.chain,
            "trusted": self.trusted,
            "signing_time": _iso(self.signing_time),
            "timestamp_time": _iso(self.timestamp_time),
            "level": str(self.level),
            "revocation": _jsonable(asdict(self.revocation)),
            "warnings": self.warnings,
            "errors": self.errors,
            "summary_vi": self.summary_vi,
            "summary_en": self.summary_en,
            "revision": self.revision,
        }
        # The same content grouped as DSS does: what the bytes prove whatever one trusts, and
        # what depends on the trust store and revocation data.
        d["trust_independent"] = {
            k: d[k]
            for k in (
                "intact",
                "crypto_valid",
                "coverage",
                "byte_range",
                "subfilter",
                "format_problems",
                "problems",
                "changes",
                "signing_time",
                "timestamp_time",
                "level",
            )
        }
        d["trust_dependent"] = {k: d[k] for k in ("trusted", "chain", "issuer", "revocation")}
        return d


@dataclass
class Decree30Check:
    """Decree 30/2020 main-document rule: a personal signature, then an agency signature over it."""

    applicable: bool
    passed: bool
    message_vi: str
    message_en: str


@dataclass
class PdfReport:
    indication: Indication
    sub_indication: SubIndication | None
    signatures: list[SignatureReport]
    sha256: str = ""
    size: int = 0
    validation_time: datetime | None = None
    decree30: Decree30Check | None = None
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    summary_vi: str = ""
    summary_en: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "indication": str(self.indication),
            "sub_indication": str(self.sub_indication) if self.sub_indication else None,
            "sha256": self.sha256,
            "size": self.size,
            "validation_time": _iso(self.validation_time),
            "decree30": _jsonable(asdict(self.decree30)) if self.decree30 else None,
            "errors": self.errors,
            "warnings": self.warnings,
            "summary_vi": self.summary_vi,
            "summary_en": self.summary_en,
            "signatures": [s.to_dict() for s in self.signatures],
        }


@dataclass
class CmsReport:
    indication: Indication
    sub_indication: SubIndication | None
    signatures: list[SignatureReport]
    detached: bool = True
    errors: list[str] = field(default_factory=list)
    summary_vi: str = ""
    summary_en: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "indication": str(self.indication),
            "sub_indication": str(self.sub_indication) if self.sub_indication else None,
            "detached": self.detached,
            "errors": self.errors,
            "summary_vi": self.summary_vi,
            "summary_en": self.summary_en,
            "signatures": [s.to_dict() for s in self.signatures],
        }


def overall(
    indications: list[tuple[Indication, SubIndication | None]],
) -> tuple[Indication, SubIndication | None]:
    """Worst indication wins: any failure fails the document, any doubt makes it indeterminate."""
    for wanted in (Indication.TOTAL_FAILED, Indication.INDETERMINATE):
        for ind, sub in indications:
            if ind is wanted:
                return ind, sub
    if not indications:
        return Indication.INDETERMINATE, SubIndication.SIG_CONSTRAINTS_FAILURE
    return Indication.TOTAL_PASSED, None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _party_dict(p: Party | None) -> dict[str, Any] | None:
    if p is None:
        return None
    d = _jsonable(asdict(p))
    d["agency"] = p.agency
    return d


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return str(value)
    return value
