"""A PDF's pages as PNG images, rendered on the server with PDFium (pypdfium2), so the page shows
the document without a PDF plug-in, pdf.js or anything fetched from elsewhere.

Originals are immutable and named by their SHA-256, so a rendered page (and a page count) is
cached by (hash, page, width) for as long as the process lives, and the bytes are read from the
store (``load``) only on a miss (a small LRU: documents are read in bursts). PDFium is
not thread-safe: one lock serialises rendering.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Callable

import pypdfium2 as pdfium
from fastapi.responses import Response

from api.office.errors import ApiError, not_found
from api.web.render import security_headers

#: rendered width in pixels: sharp on a 1366-wide screen beside the verdict panel, light on a phone
WIDTH = 900
_CACHE_SIZE = 64
_lock = threading.Lock()
_cache: OrderedDict[tuple[str, int, int], bytes] = OrderedDict()
_counts: dict[str, int] = {}


def page_count(sha256: str, load: Callable[[], bytes]) -> int:
    """How many pages the PDF has (remembered per hash)."""
    if sha256 not in _counts:
        data = load()
        with _lock:
            doc = _open(data)
            try:
                _counts[sha256] = len(doc)
            finally:
                doc.close()
    return _counts[sha256]


def render_page(sha256: str, load: Callable[[], bytes], number: int,
                width: int = WIDTH) -> bytes:
    """Page ``number`` (1-based) as PNG, ``width`` pixels wide."""
    key = (sha256, number, width)
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    data = load()
    with _lock:
        doc = _open(data)
        try:
            if not 1 <= number <= len(doc):
                raise not_found(f"trang {number} (văn bản có {len(doc)} trang)",
                                f"page {number} (the document has {len(doc)} pages)")
            pdf_page = doc[number - 1]
            scale = width / pdf_page.get_width()
            image = pdf_page.render(scale=scale, may_draw_forms=True).to_pil()
            out = io.BytesIO()
            image.save(out, format="PNG", optimize=False)
            png = out.getvalue()
        finally:
            doc.close()
        _cache[key] = png
        if len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
        return png


def png_response(sha256: str, load: Callable[[], bytes], number: int) -> Response:
    """Page ``number`` as the page's ``<img>`` gets it: PNG, cached privately for an hour
    (the bytes behind a hash never change)."""
    return Response(render_page(sha256, load, number), media_type="image/png",
                    headers={**security_headers(), "Cache-Control": "private, max-age=3600"})


def _open(data: bytes) -> pdfium.PdfDocument:
    try:
        doc = pdfium.PdfDocument(data)
        doc.init_forms()  # filled form fields (the clerk's number and date) are drawn too
        return doc
    except pdfium.PdfiumError as exc:
        raise ApiError(422, "pdf_unreadable", f"Không hiển thị được tệp PDF: {exc}",
                       f"the PDF cannot be shown: {exc}") from exc
