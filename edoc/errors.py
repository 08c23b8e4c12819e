"""The one base class for refusals raised by the domain.

Every refusal in edoc speaks both languages of its users: Vietnamese for the clerk who reads the
message on screen, English for the integrator who reads the log. ``str()`` gives "vi (en)" so a
plain log line carries both without the caller doing anything.
"""

from __future__ import annotations


class EdocError(Exception):
    """A domain refusal with a Vietnamese and an English message."""

    def __init__(self, message_vi: str, message_en: str) -> None:
        super().__init__(message_vi, message_en)
        self.message_vi = message_vi
        self.message_en = message_en

    def __str__(self) -> str:
        return f"{self.message_vi} ({self.message_en})"

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form for APIs and the CLI."""
        return {"error": type(self).__name__, "message_vi": self.message_vi,
                "message_en": self.message_en}
