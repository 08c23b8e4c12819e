"""Signatures for official e-documents: PAdES, CMS/PKCS#7, XML signatures, Decree 30 appearances,
signers (PKCS#12, PKCS#11, remote), validation, and the development PKI.

This package stands alone: it knows nothing of documents or agencies, it takes bytes, a signer and
plain strings and returns bytes or a report, so that it can be reused and audited on its own.
"""
