"""From facts to an ETSI EN 319 102-1 indication for one signature.

The order follows the standard's building blocks: format and integrity first (they fail a
signature whatever one trusts), then cryptographic constraints, then the trust-dependent steps —
chain to a trusted root, validity at the best known signing time, revocation status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from asn1crypto import x509

from signing.trust import TrustStore
from signing.validation import chain
from signing.validation import revocation as revocation_mod
from signing.validation.cms import SignerFacts
from signing.validation.identity import display_name, party
from signing.validation.report import (
    Indication,
    RevocationInfo,
    RevocationStatus,
    SignatureReport,
    SubIndication,
)
from signing.validation.summary import summarise


@dataclass
class Options:
    trust: TrustStore = field(default_factory=TrustStore)
    at: datetime | None = None
    revocation: str = "online"  # online, offline, off
    timeout: float = revocation_mod.DEFAULT_TIMEOUT

    def moment(self) -> datetime:
        return self.at or datetime.now(UTC)


def fill_identity(sig: SignatureReport, facts: SignerFacts) -> None:
    sig.facts.intact = facts.intact
    sig.facts.crypto_valid = facts.crypto_valid
    sig.facts.digest_algorithm = facts.digest_algorithm or None
    sig.facts.signature_algorithm = facts.signature_algorithm or None
    sig.facts.key_bits = facts.key_bits
    sig.facts.problems.extend(facts.problems)
    sig.signing_time = facts.signing_time
    if facts.timestamp is not None:
        sig.timestamp_time = facts.timestamp.time
        if not (facts.timestamp.intact and facts.timestamp.crypto_valid):
            sig.warnings.append(
                "time-stamp token does not verify: " + "; ".join(facts.timestamp.problems)
            )
    if facts.signer_cert is not None:
        sig.signer = party(facts.signer_cert)
        sig.issuer = display_name(facts.signer_cert.issuer)


def judge(
    sig: SignatureReport,
    facts: SignerFacts,
    opts: Options,
    *,
    extra_certs: list[x509.Certificate] = (),
    embedded_ocsp: list[bytes] = (),
    embedded_crls: list[bytes] = (),
) -> None:
    """Set ``sig.indication``/``sub_indication`` (and trust facts) from what is known."""
    _decide(sig, facts, opts, list(extra_certs), list(embedded_ocsp), list(embedded_crls))
    sig.summary_vi, sig.summary_en = summarise(sig)


def _set(sig, ind: Indication, sub: SubIndication | None) -> None:
    sig.indication, sig.sub_indication = ind, sub


def _decide(sig, facts: SignerFacts, opts: Options, extra, ocsps, crls) -> None:
    structural = sig.facts.format_problems
    if not facts.intact:
        _set(sig, Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE)
        return
    if structural:
        _set(sig, Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)
        return
    if facts.signer_cert is None:
        _set(sig, Indication.INDETERMINATE, SubIndication.NO_SIGNING_CERTIFICATE_FOUND)
        return
    if not facts.crypto_valid:
        _set(sig, Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE)
        return
    if any(not c.allowed for c in sig.facts.changes):
        _set(sig, Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)
        return
    leaf = facts.signer_cert
    checker = revocation_mod.Checker(
        mode=opts.revocation,
        timeout=opts.timeout,
        embedded_ocsp=tuple(ocsps) + tuple(facts.embedded_ocsp),
        embedded_crls=tuple(crls) + tuple(facts.embedded_crls),
    )
    poe = _proof_of_existence(sig, facts, opts, checker)
    not_before = leaf["tbs_certificate"]["validity"]["not_before"].native
    not_after = leaf["tbs_certificate"]["validity"]["not_after"].native
    claimed = poe or facts.signing_time
    if claimed is not None and claimed < not_before:
        _set(sig, Indication.TOTAL_FAILED, SubIndication.NOT_YET_VALID)
        return
    if poe is not None and poe > not_after:
        _set(sig, Indication.TOTAL_FAILED, SubIndication.EXPIRED)
        return
    if facts.weak_algorithm:
        sig.warnings.append(
            f"algorithm below Circular 15/2025 requirements: {facts.weak_algorithm}"
        )
        _set(sig, Indication.INDETERMINATE, SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE)
        return
    candidates = list(facts.certs) + list(extra)
    result = chain.validate_path(leaf, candidates, opts.trust, opts.moment())
    if not result.ok and result.sub_indication is SubIndication.OUT_OF_BOUNDS_NO_POE and poe:
        # the certificate has expired since, but a time-stamp proves it was signed in time
        result = chain.validate_path(leaf, candidates, opts.trust, poe)
    sig.chain = [display_name(c.subject) for c in result.path]
    sig.trusted = result.ok
    if not result.ok:
        if result.message:
            sig.errors.append(result.message)
        _set(sig, Indication.INDETERMINATE, result.sub_indication)
        return
    if result.problems:  # e.g. a SHA-1 signed CA or signer certificate
        sig.warnings += [f"algorithm below Circular 15/2025 requirements: {p}"
                         for p in result.problems]
        _set(sig, Indication.INDETERMINATE, SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE)
        return
    path = list(result.path)
    for idx in range(len(path) - 1):
        cert, issuer = path[idx], path[idx + 1]
        info = checker.status(cert, issuer)
        if idx == 0:
            sig.revocation = info
        verdict = _revocation_verdict(info, poe, facts.signing_time, leaf=idx == 0)
        if verdict is not None:
            _set(sig, *verdict)
            if info.status is RevocationStatus.UNKNOWN:
                sig.warnings.append(
                    "revocation status could not be established (Circular 15/2025 warning): "
                    + "; ".join(info.details)
                )
            return
        if info.status is RevocationStatus.NOT_CHECKED and idx == 0:
            sig.warnings.append("revocation status was not checked (checking switched off)")
    _set(sig, Indication.TOTAL_PASSED, None)


def _proof_of_existence(sig, facts: SignerFacts, opts: Options, checker) -> datetime | None:
    """The time-stamp's time, if the token verifies and comes from a real time-stamping
    authority: a certificate for time-stamping (RFC 3161 2.3), chaining to a trusted root, not
    revoked when it stamped. Anything less is no proof: otherwise a signer whose certificate was
    revoked could back-date his signature with a token signed by his own key."""
    ts = facts.timestamp
    if ts is None or not (ts.intact and ts.crypto_valid) or ts.tsa_cert is None or ts.time is None:
        return None

    def refuse(why: str) -> None:
        sig.warnings.append(f"time-stamp not used as proof of the signing time: {why}")

    purpose = tsa_purpose_problem(ts.tsa_cert)
    if purpose:
        refuse(purpose)
        return None
    tsa = chain.validate_path(ts.tsa_cert, list(ts.certs) + list(facts.certs), opts.trust, ts.time)
    if not tsa.ok:
        refuse(f"time-stamp authority not trusted ({tsa.message or tsa.sub_indication})")
        return None
    if tsa.problems:
        refuse("; ".join(tsa.problems))
        return None
    path = list(tsa.path)
    for cert, issuer in zip(path, path[1:], strict=False):
        info = checker.status(cert, issuer)
        name = display_name(cert.subject)
        if info.status is RevocationStatus.UNKNOWN:
            refuse(f"revocation status of the time-stamp authority {name} could not be "
                   f"established ({'; '.join(info.details)})")
            return None
        if info.status is RevocationStatus.REVOKED and (
            info.revoked_at is None or info.revoked_at <= ts.time
            or (info.reason or "").replace("_", "").lower() == "keycompromise"
        ):
            refuse(f"the time-stamp authority's certificate {name} is revoked "
                   f"(since {info.revoked_at or 'an unknown time'})")
            return None
    return ts.time


#: TSA certificate (its DER's SHA-256) → its purpose problem: a hub sees the same few TSA
#: certificates on every document, and parsing a certificate's extensions costs ~0.5 ms
_TSA_PURPOSE: dict[bytes, str | None] = {}


def tsa_purpose_problem(cert: x509.Certificate) -> str | None:
    """Why ``cert`` cannot be a time-stamping authority (None: it can): RFC 3161 requires the
    extended key usage id-kp-timeStamping. Remembered per certificate (bounded)."""
    key = cert.sha256
    if key in _TSA_PURPOSE:
        return _TSA_PURPOSE[key]
    if len(_TSA_PURPOSE) > 1024:
        _TSA_PURPOSE.clear()
    _TSA_PURPOSE[key] = problem = _tsa_purpose_problem(cert)
    return problem


def _tsa_purpose_problem(cert: x509.Certificate) -> str | None:
    try:
        purposes = cert.extended_key_usage_value
        names = set(purposes.native) if purposes is not None else set()
    except Exception:  # noqa: BLE001 - an unreadable extension is no purpose
        names = set()
    if "time_stamping" not in names:
        return ("its certificate is not for time-stamping (no timeStamping extended key "
                "usage): it is no time-stamping authority")
    return None


def _revocation_verdict(
    info: RevocationInfo, poe: datetime | None, claimed: datetime | None, *, leaf: bool
) -> tuple[Indication, SubIndication] | None:
    if info.status is RevocationStatus.UNKNOWN:
        return Indication.INDETERMINATE, SubIndication.TRY_LATER
    if info.status is not RevocationStatus.REVOKED:
        return None
    revoked_at = info.revoked_at
    if revoked_at is not None and poe is not None and poe < revoked_at:
        return None  # a time-stamp proves the signature existed before revocation
    if not leaf:
        return Indication.INDETERMINATE, SubIndication.REVOKED_CA_NO_POE
    if revoked_at is not None and claimed is not None and revoked_at <= claimed:
        # EN 319 102-1 5.3.4: revoked before the claimed signing time
        return Indication.TOTAL_FAILED, SubIndication.REVOKED
    return Indication.INDETERMINATE, SubIndication.REVOKED_NO_POE
