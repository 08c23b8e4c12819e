"""Typed, bilingual errors for signing and validation.

WHY: the people who read these messages are clerks and officials; they need to know, in
Vietnamese, what was wrong and what to do. Scripts and logs need a stable code and English.
``str(err)`` gives "vi (en)"; ``err.code`` is a stable machine-readable identifier.
"""

from __future__ import annotations


class SigningError(Exception):
    """Base of every error raised by :mod:`signing` on purpose (bad input, refused certificate,
    token problem...). Carries ``code``, ``message_vi`` and ``message_en``."""

    code = "signing_error"

    def __init__(self, message_vi: str, message_en: str, *, code: str | None = None):
        super().__init__(f"{message_vi} ({message_en})")
        self.message_vi = message_vi
        self.message_en = message_en
        if code is not None:
            self.code = code

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message_vi": self.message_vi, "message_en": self.message_en}


class InputError(SigningError):
    """The document to sign is not acceptable (not a PDF, truncated, encrypted...)."""

    code = "bad_input"


class AppearanceError(SigningError):
    """The signature appearance cannot be built (missing/non-PNG image, signer block not
    found, box outside the page...)."""

    code = "bad_appearance"


class SignatureOrderError(SigningError):
    """The Decree 30 order is violated: seal without a personal signature, document already
    sealed, personal signature no longer intact."""

    code = "signature_order"


class CertificateError(SigningError):
    """The signer's certificate may not be used now: expired, not yet valid, revoked, wrong
    purpose, or its status cannot be determined."""

    code = "certificate_refused"


class KeyAccessError(SigningError):
    """The private key cannot be used: wrong password/PIN, locked or absent token."""

    code = "key_access"


class RemoteSignerError(SigningError):
    """A remote signing service (CSC API) refused or failed."""

    code = "remote_signer"
