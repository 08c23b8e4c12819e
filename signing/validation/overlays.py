"""Annotations added after signing that lie over the signed text.

WHY: adding a comment is an allowed change (a reader may annotate a signed document), and that
is exactly what the "evil annotation" attack uses: a FreeText, Square or Stamp annotation with an
opaque appearance, placed over a number or a name, changes what the reader sees while every
signature stays intact. EU DSS flags such overlaps. Here each annotation added or changed after a
signature (form widgets, links and pop-ups aside: fields are checked as form filling) is compared
with the text lines of its page; one that covers signed text is named in a warning, with the text
it covers, so a person looks at it. The change itself stays "allowed": a highlight or a note on a
line is legitimate, and only a person can tell the two apart.
"""

from __future__ import annotations

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

_IGNORED = {"/Widget", "/Link", "/Popup"}
_MAX_PAGES = 2000


def _rect(annot) -> tuple[float, float, float, float] | None:
    try:
        x1, y1, x2, y2 = (float(v) for v in annot["/Rect"])
    except Exception:  # noqa: BLE001 - a malformed rectangle covers nothing we can name
        return None
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


def _overlap(a, b) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def covered_text(reader: PdfFileReader, signed_revision: int) -> list[str]:
    """One line per annotation added or changed after ``signed_revision`` that covers text of
    its page: page number, annotation type and the text it lies over."""
    from signing.appearances.locate import page_lines  # noqa: PLC0415 - only when needed

    found: list[str] = []
    try:
        pages = int(reader.root["/Pages"]["/Count"])
    except Exception:  # noqa: BLE001 - the page tree's problems are reported elsewhere
        return found
    for index in range(min(pages, _MAX_PAGES)):
        try:
            page = reader.find_page_for_modification(index)[0].get_object()
            annots = page.get("/Annots")
            annots = annots.get_object() if annots is not None else []
        except Exception:  # noqa: BLE001
            continue
        late = []
        for ref in annots if isinstance(annots, generic.ArrayObject) else []:
            if not isinstance(ref, generic.IndirectObject):
                continue
            try:
                if reader.xrefs.get_last_change(ref.reference) <= signed_revision:
                    continue
                annot = ref.get_object()
            except Exception:  # noqa: BLE001
                continue
            subtype = str(annot.get("/Subtype", ""))
            rect = _rect(annot)
            if subtype not in _IGNORED and rect is not None:
                late.append((subtype, rect))
        if not late:
            continue
        try:
            lines = page_lines(reader, index)
        except Exception:  # noqa: BLE001 - text we cannot read cannot be named
            continue
        for subtype, rect in late:
            hit = [ln.text for ln in lines
                   if _overlap(rect, ln.bbox) > 0.2 * max(1.0, _area(ln.bbox))]
            if hit:
                text = " / ".join(hit)
                found.append(f"page {index + 1}: a {subtype[1:]} annotation added after signing "
                             f"covers signed text: \u201c{text[:120]}\u201d")
    return found


def _area(box) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])
