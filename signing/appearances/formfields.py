"""The clerk's number (số/ký hiệu) and issue date as form fields.

WHY: the competent person signs before the clerk assigns number and date (Decree 30 Art. 14–15).
Writing them into the page content after the personal signature would be "tampering" to any
validator. Instead, at personal signing we add two empty text fields over the blank "Số: ..."
and "..., ngày ... tháng ... năm ..." lines; before the seal, the clerk's system fills them in an
incremental update. Filling a text field is the change PDF validators classify as form filling,
so the personal signature stays valid.

The blank lines move into the fields: in the personal signature's own revision (before anything
signs the page) their text operators leave the page content and become the empty fields'
appearance, drawn the same, in the same font, at the same place. So a reader's text extraction,
search and copy see each line once: the blank until the seal, then only the filled number and
date (not the blank still lying under them). When the page cannot be changed (it is already
signed) or the lines are drawn inside a form XObject, they stay in the page and the filled field
covers them with white, as before.
"""

from __future__ import annotations

import datetime as dt
import re

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name, pdf_string
from pyhanko.pdf_utils.writer import init_xobject_dictionary

from signing.appearances.base import form_fields
from signing.appearances.locate import (
    DESCENT,
    TextLine,
    TextShow,
    normalise,
    page_content,
    page_lines,
    without_shows,
)
from signing.appearances.text import TextOnWhite
from signing.errors import AppearanceError

NUMBER_FIELD = "EdocSoKyHieu"
DATE_FIELD = "EdocNgayBanHanh"


def vn_date_words(d: dt.date) -> str:
    """"ngày 05 tháng 3 năm 2026": day below 10 and months 1–2 get a leading zero (Annex I)."""
    day = f"{d.day:02d}"
    month = f"{d.month:02d}" if d.month < 3 else str(d.month)
    return f"ngày {day} tháng {month} năm {d.year}"


def _find_lines(lines: list[TextLine], page_height: float) -> tuple[TextLine | None, ...]:
    top = [ln for ln in lines if ln.bbox[1] > page_height * 0.55]
    number = next((ln for ln in top if re.match(r"^số\s*:", normalise(ln.text))), None)
    date = next(
        (
            ln
            for ln in top
            if all(w in normalise(ln.text) for w in ("ngày", "tháng", "năm"))
        ),
        None,
    )
    return number, date


def create_issue_fields(job) -> list[str]:
    """Add empty number/date fields over page 1's blank lines (if found and not yet there),
    moving the lines' text into the fields when the page may still change (module docstring).
    Returns the names created."""
    writer = job.writer
    existing = form_fields(writer)
    if NUMBER_FIELD in existing or DATE_FIELD in existing:
        return []
    _x1, _y1, _x2, page_h = job.page_box(0)
    # the decree puts both lines in the top quarter of page 1: read only the top part first
    number, date = _find_lines(
        page_lines(job.reader, 0, stop_below=page_h * 0.7, record=True), page_h
    )
    if number is None or date is None:  # not in the top-down part: read the whole page
        number, date = _find_lines(page_lines(job.reader, 0, record=True), page_h)
    page_ref, resources = writer.find_page_for_modification(0)
    fonts = _movable_fonts(job.reader, resources, [ln for ln in (number, date) if ln])
    created = []
    for name, line, style in ((NUMBER_FIELD, number, "serif"), (DATE_FIELD, date, "serif-italic")):
        if line is None:
            continue
        text = line.text
        prefix = ""
        if name == DATE_FIELD:
            i = normalise(text).find("ngày")
            prefix = text[:i]
        elif name == NUMBER_FIELD:
            prefix = "Số: "
        size = round(line.size, 1)
        x1, y1, x2, y2 = line.bbox
        rect = [round(v, 2) for v in (x1 - 2, y1 - 1, x2 + 2, y2 + 1)]
        field = generic.DictionaryObject(
            {
                pdf_name("/Type"): pdf_name("/Annot"),
                pdf_name("/Subtype"): pdf_name("/Widget"),
                pdf_name("/FT"): pdf_name("/Tx"),
                pdf_name("/T"): pdf_string(name),
                pdf_name("/TU"): pdf_string(
                    "Số, ký hiệu văn bản" if name == NUMBER_FIELD else "Ngày ban hành"
                ),
                pdf_name("/F"): generic.NumberObject(4),
                # read-only: filled by the clerk's system, never typed into in a viewer; and
                # viewers that draw editable fields as input boxes (pdf.js) draw the appearance
                pdf_name("/Ff"): generic.NumberObject(1),
                pdf_name("/Rect"): generic.ArrayObject([generic.FloatObject(v) for v in rect]),
                pdf_name("/P"): page_ref,
                pdf_name("/DA"): pdf_string(f"/Helv {size:g} Tf 0 g"),
                pdf_name("/EdocPrefix"): pdf_string(prefix),
                pdf_name("/EdocStyle"): pdf_name("/" + style),
                pdf_name("/EdocSize"): generic.FloatObject(size),
            }
        )
        if fonts is not None:
            field[pdf_name("/AP")] = generic.DictionaryObject(
                {pdf_name("/N"): writer.add_object(_blank_appearance(line.shows, rect, fonts))}
            )
        ref = writer.add_object(field)
        writer.register_annotation(page_ref, ref)
        _add_to_acroform(writer, ref)
        created.append(name)
    if fonts is not None:
        shows = [s for ln in (number, date) if ln for s in ln.shows]
        data = without_shows(page_content(job.reader, 0), shows)
        content = generic.StreamObject(stream_data=data)
        content.compress()
        page = page_ref.get_object()
        page[pdf_name("/Contents")] = writer.add_object(content)
        writer.update_container(page)
    return created


def _movable_fonts(reader, resources, lines: list[TextLine]) -> dict | None:
    """The page's font resources the lines' text operators use, if the lines can move out of
    the page content into their fields; None if they must stay (see the module docstring)."""
    if not lines or any(not ln.shows for ln in lines):
        return None  # not found, or (partly) drawn by a form XObject
    if len({id(ln) for ln in lines}) < len(lines):
        return None  # number and date on one line of text: one field would draw both
    if list(reader.embedded_signatures):
        return None  # a signature covers the page as it is
    shows = sorted({s for ln in lines for s in ln.shows}, key=lambda s: s.start)
    if any(a.end > b.start for a, b in zip(shows, shows[1:], strict=False)):
        return None  # the two lines share an operator
    try:
        page_fonts = resources.get_object()["/Font"]
        return {s.font: page_fonts.raw_get(s.font) for s in shows}
    except (KeyError, TypeError, AttributeError):
        return None


def _blank_appearance(shows: tuple[TextShow, ...], rect, fonts: dict) -> generic.StreamObject:
    """A form XObject drawing the line exactly as the page did, in the box ``rect``."""
    x1, y1, x2, y2 = rect
    used = generic.DictionaryObject({pdf_name(s.font): fonts[s.font] for s in shows})
    resources = generic.DictionaryObject({pdf_name("/Font"): used})
    stream = b"\n".join(s.replay(x1, y1) for s in shows)
    return init_xobject_dictionary(stream, x2 - x1, y2 - y1, resources)


def _add_to_acroform(writer, ref) -> None:
    root = writer.root
    try:
        form = root["/AcroForm"]
    except KeyError:
        form = generic.DictionaryObject({pdf_name("/Fields"): generic.ArrayObject()})
        root[pdf_name("/AcroForm")] = writer.add_object(form)
        writer.update_root()
    fields = form.get("/Fields")
    if fields is None:
        fields = form[pdf_name("/Fields")] = generic.ArrayObject()
        writer.update_container(form)
    fields.append(ref)
    writer.update_container(fields)


def fill_issue_fields(writer, number: str | None, issue_date: dt.date | None) -> list[str]:
    """Fill the number/date fields; return the names filled. A field already holding the same
    value is left alone; a different value or a missing field is an error."""
    existing = form_fields(writer)
    filled = []
    todo = []
    if number:
        todo.append((NUMBER_FIELD, number))
    if issue_date:
        todo.append((DATE_FIELD, vn_date_words(issue_date)))
    for name, value in todo:
        ref = existing.get(name)
        if ref is None:
            raise AppearanceError(
                "Văn bản không có trường số/ngày ban hành (chưa được chuẩn bị khi ký cá nhân); "
                "không thể ghi số, ngày mà không làm mất hiệu lực chữ ký cá nhân. Bỏ --number "
                "hoặc ký cá nhân lại bằng edoc.",
                "the document has no number/date form fields (not prepared at personal "
                "signing); the number/date cannot be written without invalidating the personal "
                "signature. Drop --number or have it personally signed again with edoc",
                code="no_issue_fields",
            )
        field = ref.get_object()
        current = field.get("/V")
        if current is not None and str(current):
            if str(current) == value:
                continue
            raise AppearanceError(
                f"Trường {name} đã có giá trị '{current}', khác '{value}'.",
                f"field {name} already holds '{current}', not '{value}'",
                code="field_already_filled",
            )
        x1, y1, x2, y2 = (float(v) for v in field["/Rect"])
        style = str(field.get("/EdocStyle", "/serif"))[1:]
        size = float(field.get("/EdocSize", 13))
        prefix = str(field.get("/EdocPrefix", ""))
        # the rect was made as (descent + 1) below the original baseline: see create_issue_fields
        baseline = DESCENT * size + 1
        content = TextOnWhite(
            writer, prefix + value, style, size, abs(x2 - x1), abs(y2 - y1), baseline
        )
        content.apply_appearance(field)
        field[pdf_name("/V")] = pdf_string(value)
        # read-only (fields made before it was set at creation), and no /DA: viewers must show
        # our appearance, not regenerate one from /DA with a font lacking Vietnamese glyphs
        field[pdf_name("/Ff")] = generic.NumberObject(int(field.get("/Ff", 0)) | 1)
        field.pop("/DA", None)
        writer.update_container(field)
        filled.append(name)
    return filled
