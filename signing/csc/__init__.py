"""Cloud Signature Consortium API v2: the remote signer client and a development service."""

from signing.csc.client import CscClient, CscRemoteSigner

__all__ = ["CscClient", "CscRemoteSigner"]
