"""The agent's refusals, in the e-office API's error shape ``{"error", "message_vi",
"message_en"}``.

WHY: the page's JavaScript already shows the e-office server's errors; the agent answers in the
same shape so one piece of code shows both. Kept local (not ``api.office.errors``) so the agent
stays a light program on the leader's computer.
"""

from __future__ import annotations

from starlette.responses import JSONResponse

from signing.errors import SigningError


class AgentError(Exception):
    """A refusal: HTTP status, a stable code and the two messages."""

    def __init__(self, status: int, code: str, message_vi: str, message_en: str) -> None:
        super().__init__(f"{message_vi} ({message_en})")
        self.status, self.code = status, code
        self.message_vi, self.message_en = message_vi, message_en

    def response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse({"error": self.code, "message_vi": self.message_vi,
                             "message_en": self.message_en},
                            status_code=self.status, headers=headers)


def wrong_pin() -> AgentError:
    """The one message for a wrong PIN (or a wrong PKCS#12 password): never retried."""
    return AgentError(401, "wrong_pin",
                      "Mã PIN không đúng; token có thể bị khóa nếu nhập sai nhiều lần",
                      "wrong PIN; the token may lock after more wrong attempts")


#: HTTP status of each foreseen key-access code of :mod:`signing.signers`.
_STATUS = {
    "pin_locked": 423,
    "pin_invalid": 401,
    "token_absent": 503,
    "not_logged_in": 503,
    "pkcs11_library": 503,
    "key_not_found": 503,
    "key_file_missing": 503,
    "key_file_incomplete": 503,
}


def from_signing(exc: SigningError) -> AgentError:
    """Translate a signer's refusal; a wrong PIN or password always gives :func:`wrong_pin`."""
    if exc.code in ("wrong_pin", "wrong_password"):
        return wrong_pin()
    return AgentError(_STATUS.get(exc.code, 500), exc.code, exc.message_vi, exc.message_en)
