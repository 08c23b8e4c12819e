"""The codec's one exception: every refusal of a package, with where and why, in both languages.

Callers (the exchange worker, the CLI, the API) catch exactly this type; anything else escaping
the codec is a bug, which the property tests look for.
"""

from __future__ import annotations

from edoc.errors import EdocError


class EdxmlError(EdocError):
    """A package that cannot be read or written.

    ``path`` is the element path (``/edXML/edXMLEnvelope/...``) when known; ``line`` and
    ``column`` come from the XML parser or the element's source line."""

    def __init__(self, message_vi: str, message_en: str, *, path: str | None = None,
                 line: int | None = None, column: int | None = None) -> None:
        super().__init__(message_vi, message_en)
        self.path = path
        self.line = line
        self.column = column

    def _where(self) -> str:
        parts = []
        if self.path:
            parts.append(self.path)
        if self.line is not None:
            parts.append(f"line {self.line}" + (f", column {self.column}" if self.column else ""))
        return "; ".join(parts)

    def __str__(self) -> str:
        where = self._where()
        base = super().__str__()
        return f"{base} [{where}]" if where else base

    def to_dict(self) -> dict[str, object]:
        out = super().to_dict()
        out.update(path=self.path, line=self.line, column=self.column)
        return out
