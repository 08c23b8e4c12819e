"""The one error type of the development PKI, bilingual like every user-facing error of edoc."""

from __future__ import annotations


class DevPkiError(Exception):
    """Raised when the development PKI cannot be created, loaded or served.

    ``message_vi`` is shown to users by default, ``message_en`` for English readers and logs;
    ``str()`` gives both so that nothing is lost whichever way it is printed.
    """

    def __init__(self, message_vi: str, message_en: str) -> None:
        super().__init__(f"{message_vi} ({message_en})")
        self.message_vi = message_vi
        self.message_en = message_en
