"""Validation data for B-LT and B-LTA: revocation information for EVERY certificate that a
validator will meet, collected before signing and checked complete.

WHY: B-LT promises that the document carries everything needed to validate it offline, years
later (ETSI EN 319 142-1, 5.4). pyHanko collects what its validation context looked at, so the
context decides what ends up in the DSS. Two things used to leave holes:

- the anchor was "the last certificate the signer carried": with a token or a .p12 holding only
  the issuing CA, the sub-CA became the anchor and its status (the root's CRL) was never
  fetched — the document then validated online but was INDETERMINATE / TRY_LATER offline;
- pyHanko's legacy "hard-fail" mode only checks what certificates declare and tolerates some
  gaps, so a missing answer surfaced only at validation time.

Here the chain is completed up to its root (:mod:`signing.issuers`), the context *requires*
OCSP or CRL data for the end-entity and every intermediate CA of every path (signer, TSA, and
OCSP responders without id-pkix-ocsp-nocheck), and before anything is signed the collected data
is checked with the same offline logic our validator uses. If a certificate's status cannot be
embedded, signing is refused with its name instead of producing a B-LT in name only.
"""

from __future__ import annotations

from asn1crypto import x509
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.policy_decl import (
    CertRevTrustPolicy,
    RevocationCheckingPolicy,
    RevocationCheckingRule,
)

from signing.errors import SigningError
from signing.issuers import is_self_signed, issuer_path, reaches_root

# Status data for the end entity and for every intermediate CA, OCSP or CRL (whichever answers).
REQUIRE_ALL = CertRevTrustPolicy(
    RevocationCheckingPolicy(
        ee_certificate_rule=RevocationCheckingRule.CRL_OR_OCSP_REQUIRED,
        intermediate_ca_cert_rule=RevocationCheckingRule.CRL_OR_OCSP_REQUIRED,
    )
)


def _name(cert: x509.Certificate) -> str:
    return cert.subject.human_friendly


def _unique(certs) -> list[x509.Certificate]:
    seen, out = set(), []
    for c in certs:
        if c.sha256 not in seen:
            seen.add(c.sha256)
            out.append(c)
    return out


def lt_validation_context(signer) -> ValidationContext:
    """A fetching validation context anchored at the signer's real root, requiring revocation
    data for every non-root certificate it validates."""
    cert = signer.signing_cert
    given = [c for c in signer.cert_registry if c.sha256 != cert.sha256]
    path = issuer_path(cert, given)
    if not reaches_root(cert, path):
        top = path[-1] if path else cert
        raise SigningError(
            "Không tìm được chứng thư gốc (Root CA) của chuỗi chứng thư ký (chứng thư "
            f"'{_name(top)}' không kèm bên cấp, địa chỉ caIssuers không có hoặc không trả lời); "
            "mức B-LT/B-LTA cần đủ chuỗi để nhúng trạng thái thu hồi của mọi chứng thư. Nạp "
            "chứng thư gốc vào tệp khóa/token, kiểm tra mạng, hoặc ký ở mức B-T.",
            f"the root CA of the signing chain cannot be found (no issuer for '{_name(top)}': "
            "not supplied, and its caIssuers URL is missing or did not answer); B-LT/B-LTA "
            "needs the whole chain to embed the revocation status of every certificate. Add "
            "the root to the key file/token, check the network, or sign at B-T",
            code="chain_incomplete",
        )
    certs = _unique([*path, *given])
    return ValidationContext(
        trust_roots=[c for c in certs if is_self_signed(c)],
        other_certs=certs,
        allow_fetching=True,
        revinfo_policy=REQUIRE_ALL,
    )


def _responder_certs(responses) -> list[x509.Certificate]:
    """Delegated OCSP responder certificates that must themselves be checked (no nocheck)."""
    out = []
    for resp in responses:
        try:
            basic = resp["response_bytes"]["response"].parsed
            certs = basic["certs"]
        except (KeyError, ValueError, TypeError):
            continue
        for c in certs or ():
            if c.ocsp_no_check_value is None and "ocsp_signing" in (
                c.extended_key_usage_value.native if c.extended_key_usage_value else ()
            ):
                out.append(c)
    return out


def check_complete(status) -> None:
    """Refuse unless ``status`` (pyHanko's :class:`PreSignValidationStatus`) holds OCSP or CRL
    data that establishes the status of every non-root certificate of every validation path
    (signer, TSA) and of OCSP responders without nocheck, judged by the very checker the
    offline validator runs."""
    from signing.validation.report import RevocationStatus
    from signing.validation.revocation import Checker

    ocsps = list(status.ocsps_to_embed)
    checker = Checker(
        mode="offline",
        embedded_ocsp=tuple(o.dump() for o in ocsps),
        embedded_crls=tuple(c.dump() for c in status.crls_to_embed),
    )
    pairs: list[tuple[x509.Certificate, x509.Certificate]] = []
    cas: list[x509.Certificate] = []
    for path in status.validation_paths:
        certs = list(path.iter_certs(include_root=True))  # root first
        cas.extend(certs[:-1])
        pairs.extend((cert, issuer) for issuer, cert in zip(certs, certs[1:], strict=False))
    for responder in _responder_certs(ocsps):
        issuer = next((c for c in cas if c.subject == responder.issuer), None)
        if issuer is not None:
            pairs.append((responder, issuer))
    missing, revoked = [], []
    seen = set()
    for cert, issuer in pairs:
        if cert.sha256 in seen:
            continue
        seen.add(cert.sha256)
        info = checker.status(cert, issuer)
        if info.status is RevocationStatus.REVOKED:
            revoked.append(_name(cert))
        elif info.status is not RevocationStatus.GOOD:
            missing.append(_name(cert))
    if revoked:
        raise SigningError(
            "Chứng thư trong chuỗi đã bị thu hồi: " + "; ".join(revoked) + ". Không ký.",
            "a certificate in the chain is revoked: " + "; ".join(revoked) + "; signing refused",
            code="chain_revoked",
        )
    if missing:
        raise SigningError(
            "Không lấy được dữ liệu thu hồi (OCSP/CRL) cho: " + "; ".join(missing)
            + ". Văn bản B-LT sẽ không kiểm tra được khi ngoại tuyến; kiểm tra kết nối tới "
            "OCSP/CRL rồi ký lại.",
            "no revocation data (OCSP/CRL) could be collected for: " + "; ".join(missing)
            + "; the B-LT document could not be validated offline. Check access to the "
            "OCSP/CRL services and sign again",
            code="revinfo_missing",
        )


__all__ = ["REQUIRE_ALL", "check_complete", "lt_validation_context"]



def explain(exc: BaseException) -> SigningError | None:
    """A clear error for a pyHanko signing failure caused by missing or revoked status data
    during the B-LT collection (None if that is not the cause)."""
    from pyhanko_certvalidator.errors import InsufficientRevinfoError, RevokedError

    seen = exc
    while seen is not None:
        if isinstance(seen, RevokedError):
            return SigningError(
                f"Chứng thư trong chuỗi đã bị thu hồi; không ký ({seen}).",
                f"a certificate in the chain is revoked; signing refused ({seen})",
                code="chain_revoked",
            )
        if isinstance(seen, InsufficientRevinfoError):
            return SigningError(
                f"Không lấy được dữ liệu thu hồi (OCSP/CRL) của chuỗi chứng thư ({seen}); "
                "văn bản B-LT sẽ không kiểm tra được khi ngoại tuyến. Kiểm tra kết nối tới "
                "OCSP/CRL rồi ký lại.",
                f"revocation data (OCSP/CRL) of the chain could not be collected ({seen}); "
                "the B-LT document could not be validated offline. Check access to the "
                "OCSP/CRL services and sign again",
                code="revinfo_missing",
            )
        seen = seen.__cause__ or seen.__context__
    return None
