"""Validation of signatures (PAdES, CMS/PKCS#7) with ETSI EN 319 102-1 style reports.

Public names: :func:`verify_pdf`, :func:`verify_cms`, the report classes and
:func:`clear_caches`. Everything else is machinery.
"""

from __future__ import annotations

from signing.validation.cmsverify import verify_cms
from signing.validation.pdf import verify_pdf
from signing.validation.report import (
    Change,
    CmsReport,
    Indication,
    Level,
    Party,
    PdfReport,
    RevocationStatus,
    SignatureReport,
    SubIndication,
)


def clear_caches() -> None:
    """Forget cached reports, paths and revocation answers (tests, benchmarks, key rollover)."""
    from signing.validation import chain, pdf, revocation

    pdf.clear_cache()
    chain.clear_cache()
    revocation.clear_cache()


__all__ = [
    "Change",
    "CmsReport",
    "Indication",
    "Level",
    "Party",
    "PdfReport",
    "RevocationStatus",
    "SignatureReport",
    "SubIndication",
    "clear_caches",
    "verify_cms",
    "verify_pdf",
]
