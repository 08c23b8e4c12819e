"""verify_cms: detached or attached CMS/PKCS#7 signatures (``.p7s``), e.g. ``openssl cms -sign``."""

from __future__ import annotations

import re
from datetime import datetime

from asn1crypto import pem

from signing.trust import TrustStore
from signing.validation import revocation as revocation_mod
from signing.validation.cms import (
    CmsFormatError,
    SignerFacts,
    check_signer,
    load_signed_data,
    new_hasher,
)
from signing.validation.judge import Options, fill_identity, judge
from signing.validation.report import (
    CmsReport,
    Facts,
    Indication,
    Level,
    SignatureReport,
    SubIndication,
    overall,
)


def _der(signature: bytes) -> bytes:
    if pem.detect(signature):
        _, _, der = pem.unarmor(signature)
        return der
    text = signature.strip()
    if text[:1] != b"\x30" and re.fullmatch(rb"[A-Za-z0-9+/=\s]+", text or b"-"):
        import base64

        return base64.b64decode(text)
    return signature


def verify_cms(
    signature: bytes,
    content: bytes | None = None,
    *,
    trust: TrustStore | None = None,
    at: datetime | None = None,
    revocation: str = "online",
    timeout: float = revocation_mod.DEFAULT_TIMEOUT,
) -> CmsReport:
    """Verify a CMS SignedData over ``content`` (detached) or its own encapsulated content."""
    opts = Options(trust=trust or TrustStore(), at=at, revocation=revocation, timeout=timeout)
    try:
        sd = load_signed_data(_der(bytes(signature)))
    except (CmsFormatError, ValueError) as exc:
        return _failed(f"{exc}")
    except Exception as exc:
        return _failed(f"unreadable signature: {type(exc).__name__}: {exc}")
    eci = sd["encap_content_info"]
    embedded = eci["content"].native if eci["content"] else None
    detached = embedded is None
    if isinstance(embedded, bytes) is False and embedded is not None:
        embedded = eci["content"].contents
    if detached and content is None:
        return _failed("detached signature: the signed content must be given")
    signed = content if content is not None else embedded
    if content is not None and embedded is not None and content != embedded:
        return _failed("the given content differs from the content inside the signature")
    sigs: list[SignatureReport] = []
    for i, si in enumerate(sd["signer_infos"]):

        def digest_of(algo: str, _data=signed) -> bytes:
            h = new_hasher(algo)
            h.update(_data)
            return h.digest()

        try:
            facts = check_signer(sd, si, digest_of, content_for_unsigned=lambda _d=signed: _d)
        except Exception as exc:
            facts = SignerFacts()
            facts.problems.append(f"{type(exc).__name__}: {exc}")
        sig = SignatureReport(
            field=f"signer {i + 1}",
            indication=Indication.INDETERMINATE,
            sub_indication=None,
            facts=Facts(),
        )
        sig.facts.coverage = "entire_content"
        fill_identity(sig, facts)
        ts_ok = facts.timestamp is not None and facts.timestamp.intact
        sig.level = Level.CMS_T if ts_ok else Level.CMS
        judge(sig, facts, opts)
        sigs.append(sig)
    ind, sub = overall([(s.indication, s.sub_indication) for s in sigs])
    report = CmsReport(indication=ind, sub_indication=sub, signatures=sigs, detached=detached)
    report.summary_vi = " ".join(s.summary_vi for s in sigs)
    report.summary_en = " ".join(s.summary_en for s in sigs)
    return report


def _failed(reason: str) -> CmsReport:
    return CmsReport(
        indication=Indication.TOTAL_FAILED,
        sub_indication=SubIndication.FORMAT_FAILURE,
        signatures=[],
        errors=[reason],
        summary_vi=f"Chữ ký CMS không đọc được: {reason}",
        summary_en=f"The CMS signature could not be read: {reason}",
    )
