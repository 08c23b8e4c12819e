"""Signatures for official e-documents: PAdES, CMS/PKCS#7, XML signatures, Decree 30 appearances,
signers (PKCS#12, PKCS#11, remote), validation, and the development PKI.

This package stands alone: it knows nothing of documents or agencies, it takes bytes, a signer and
plain strings and returns bytes or a report, so that it can be reused and audited on its own.
"""

from typing import Any

# Public API, imported lazily so that ``import signing`` (e.g. by the dev PKI CLI) stays cheap
# and free of import cycles.
_EXPORTS = {
    "sign_pdf": "signing.pades",
    "sign_file": "signing.pades",
    "sign_cms": "signing.cms",
    "SigningError": "signing.errors",
    "verify_pdf": "signing.validation",
    "verify_cms": "signing.validation",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'signing' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
