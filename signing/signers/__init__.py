"""Signers behind one interface (:class:`Signer`): PKCS#12 files, PKCS#11 tokens/HSMs, CSC API v2
remote services, and deferred (two-step) signing for USB tokens on the official's machine."""

from signing.signers.base import Signer, check_digest
from signing.signers.pkcs12 import Pkcs12Signer

__all__ = ["Pkcs11Signer", "Pkcs12Signer", "Signer", "check_digest", "CscRemoteSigner"]


def __getattr__(name: str):
    # optional back-ends are imported on use (python-pkcs11, httpx)
    if name == "Pkcs11Signer":
        from signing.signers.pkcs11 import Pkcs11Signer

        return Pkcs11Signer
    if name == "CscRemoteSigner":
        from signing.csc.client import CscRemoteSigner

        return CscRemoteSigner
    raise AttributeError(name)
