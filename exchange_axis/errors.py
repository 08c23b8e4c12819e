"""One error type for the exchange axis, bilingual as every user-facing error in edoc.

Operators read these in logs and in ``edoc node status``; clerks see the Vietnamese reason inside
status 02 packages. ``str()`` gives "vi (en)" so a single log line serves both audiences.
"""

from __future__ import annotations


class ExchangeError(Exception):
    """A failure of configuration, routing, transport or a peer's answer."""

    def __init__(self, message_vi: str, message_en: str, *, code: str = "exchange") -> None:
        self.message_vi = message_vi
        self.message_en = message_en
        self.code = code
        super().__init__(f"{message_vi} ({message_en})")


class ConfigError(ExchangeError):
    """node.toml is missing, unreadable or inconsistent."""

    def __init__(self, message_vi: str, message_en: str) -> None:
        super().__init__(message_vi, message_en, code="config")


class RoutingError(ExchangeError):
    """No hop leads to an agency code."""

    def __init__(self, message_vi: str, message_en: str) -> None:
        super().__init__(message_vi, message_en, code="routing")


class TransportError(ExchangeError):
    """A peer could not be reached, refused us, or answered something we cannot trust.

    ``retryable`` tells the outbox worker whether backing off and trying again can help (a peer
    down) or not (a peer that proved to be someone else)."""

    def __init__(self, message_vi: str, message_en: str, *, retryable: bool = True) -> None:
        super().__init__(message_vi, message_en, code="transport")
        self.retryable = retryable
