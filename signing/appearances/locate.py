"""Find text lines and their positions on a PDF page.

WHY: officials' PDFs come from word processors and carry no signature field. The decree puts
the signature image between the signer's title and full name, and the clerk's number and date
on fixed lines of page 1, so we locate those lines by their text. pdfminer.six does the
content-stream interpretation (fonts, ToUnicode, text matrices) that this needs.
"""

from __future__ import annotations

import io
import logging
import re
import unicodedata
from dataclasses import dataclass
from typing import BinaryIO

from pdfminer.high_level import extract_pages
from pdfminer.layout import LAParams, LTTextLine

logging.getLogger("pdfminer").setLevel(logging.ERROR)

_LAPARAMS = LAParams(line_margin=0.3, char_margin=2.0)


@dataclass(frozen=True)
class TextLine:
    """A line of text on a page; ``bbox`` is (x1, y1, x2, y2) in PDF user space (points)."""

    text: str
    bbox: tuple[float, float, float, float]

    @property
    def x_center(self) -> float:
        return (self.bbox[0] + self.bbox[2]) / 2

    @property
    def height(self) -> float:
        return self.bbox[3] - self.bbox[1]


def normalise(text: str) -> str:
    """NFC, collapsed whitespace, case-folded: how names are compared."""
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).strip().casefold()


def page_lines(pdf: bytes | BinaryIO, page_index: int) -> list[TextLine]:
    """All text lines of page ``page_index`` (0-based), top to bottom."""
    stream = io.BytesIO(pdf) if isinstance(pdf, bytes | bytearray) else pdf
    stream.seek(0)
    out: list[TextLine] = []
    for page in extract_pages(stream, page_numbers=[page_index], laparams=_LAPARAMS):

        def walk(obj):
            for child in obj:
                if isinstance(child, LTTextLine):
                    text = child.get_text().strip()
                    if text:
                        out.append(TextLine(text, tuple(child.bbox)))
                elif hasattr(child, "__iter__"):
                    walk(child)

        walk(page)
    out.sort(key=lambda ln: (-ln.bbox[3], ln.bbox[0]))
    return out


def find_line(lines: list[TextLine], wanted: str) -> TextLine | None:
    """The lowest line whose normalised text equals ``wanted`` (signer names appear once, at the
    bottom of the signer block; a name repeated in the body must not win)."""
    key = normalise(wanted)
    hits = [ln for ln in lines if normalise(ln.text) == key]
    return min(hits, key=lambda ln: ln.bbox[1]) if hits else None
