"""The pairing code: what tells the agent that a request comes from the page the leader paired.

WHY: the Origin check keeps other web sites out, but any script running in the e-office origin
(or a local program forging an Origin header) could still ask for signatures. The code is shown
once on the agent's console, typed once into the page, and sent with every request. Ten wrong
codes lock pairing until the agent restarts, so 10^8 codes cannot be guessed.
"""

from __future__ import annotations

import hmac
import secrets
import threading

from api.agent.errors import AgentError

#: Wrong codes accepted before pairing locks until the agent restarts.
MAX_FAILURES = 10


class Pairing:
    """An 8-digit code made at start; :meth:`check` compares in constant time and counts
    failures."""

    def __init__(self, code: str | None = None) -> None:
        self._code = (code or f"{secrets.randbelow(10**8):08d}").encode()
        self._failures = 0
        self._lock = threading.Lock()

    def display(self) -> str:
        """The code as shown to the leader, ``1234-5678`` (printed once, never logged)."""
        code = self._code.decode()
        return f"{code[:4]}-{code[4:]}"

    @property
    def locked(self) -> bool:
        return self._failures >= MAX_FAILURES

    def check(self, header: str | None) -> None:
        """Accept ``header`` equal to the code, with or without the dash; else raise 403."""
        with self._lock:
            if self.locked:
                raise AgentError(
                    403, "pairing_locked",
                    "Đã nhập sai mã ghép nối quá nhiều lần; khởi động lại edoc agent để có mã "
                    "mới.",
                    "too many wrong pairing codes; restart edoc agent to get a new code")
            given = (header or "").strip().replace("-", "").encode("utf-8", "replace")
            if header is not None and hmac.compare_digest(given, self._code):
                return
            if header is not None:  # a missing header is a page not paired yet, not a guess
                self._failures += 1
        raise AgentError(
            403, "pairing_failed",
            "Mã ghép nối không đúng hoặc chưa nhập; nhập mã hiện trên màn hình của edoc agent.",
            "wrong or missing pairing code; enter the code shown by edoc agent")
