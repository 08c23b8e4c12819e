"""What a reader's text extraction returns for the clerk's number and date lines: each once.

The draft draws the blank "Số:      /CT-UBND" and "Nghệ An, ngày … tháng … năm …" lines in its
page content; the personal signature turns them into form fields, their text moving from the page
into the fields' appearance; the seal fills the fields. poppler's pdftotext (page content and
widget appearances: what search and copy in a viewer see) must find one number line and one date
line: the blank until the seal, then only the filled values — never the blank under them."""

from __future__ import annotations

import datetime as dt
import io
import re
import subprocess

import pytest
from PIL import ImageChops
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel

from signing import sign_pdf
from signing.appearances import PersonalAppearance
from signing.appearances.formfields import DATE_FIELD, NUMBER_FIELD
from signing.appearances.locate import page_content, page_lines, without_shows
from tests.sign_helpers import (
    assert_pdfsig_valid,
    count,
    fonts_of,
    pdfsig,
    render,
    seal,
    sign_personal,
    signer_for,
    validate_all,
)

NUMBER_LINE = re.compile(r"Số:\s*(\S*)\s*/\s*CT-UBND")
DATE_LINE = re.compile(r"ngày\s*(\d*)\s*tháng\s*(\d*)\s*năm\s*2026")
STANDARD_14 = ("Helvetica", "Times-", "Courier", "Symbol", "ZapfDingbats", "Helv")


def _text(pdf: bytes, tmp_path) -> str:
    src = tmp_path / "extract.pdf"
    src.write_bytes(pdf)
    return subprocess.run(["pdftotext", "-enc", "UTF-8", str(src), "-"], capture_output=True,
                          text=True, check=True).stdout


def _cairo(pdf: bytes, tmp_path) -> bytes:
    """The same draft re-written by another producer (cairo): other fonts, text operators."""
    src, out = tmp_path / "word.pdf", tmp_path / "cairo.pdf"
    src.write_bytes(pdf)
    subprocess.run(["pdftocairo", "-pdf", str(src), str(out)], check=True)
    return out.read_bytes()


@pytest.fixture(scope="module", params=["edoc", "cairo"])
def draft(request, directive, tmp_path_factory) -> bytes:
    if request.param == "edoc":
        return directive
    return _cairo(directive, tmp_path_factory.mktemp("cairo"))


@pytest.fixture(scope="module")
def personal(pki_server, draft) -> bytes:
    return sign_personal(pki_server, draft)


@pytest.fixture(scope="module")
def sealed(pki_server, personal) -> bytes:
    return seal(pki_server, personal, "01/CT-UBND", dt.date(2026, 3, 5))


def test_draft_shows_the_blank_lines_once(draft, tmp_path):
    text = _text(draft, tmp_path)
    assert NUMBER_LINE.findall(text) == [""], text[:600]
    assert DATE_LINE.findall(text) == [("", "")], text[:600]


def test_personally_signed_shows_the_blank_lines_once_and_looks_the_same(
    draft, personal, nss_db, tmp_path
):
    text = _text(personal, tmp_path)
    assert NUMBER_LINE.findall(text) == [""], text[:600]
    assert DATE_LINE.findall(text) == [("", "")], text[:600]
    assert_pdfsig_valid(personal, nss_db, tmp_path, count=1)
    # the blank lines moved into the fields: the page content no longer draws them, the empty
    # fields do, where they were and as they were
    fields = {str(f.get_object()["/T"]): f.get_object()
              for f in PdfFileReader(io.BytesIO(personal)).root["/AcroForm"]["/Fields"]}
    assert "/AP" in fields[NUMBER_FIELD] and "/AP" in fields[DATE_FIELD]
    # read-only, so that viewers drawing editable fields as input boxes (pdf.js) draw the blank
    assert int(fields[NUMBER_FIELD]["/Ff"]) & 1 and int(fields[DATE_FIELD]["/Ff"]) & 1
    before = render(draft, 1, tmp_path, dpi=144)
    after = render(personal, 1, tmp_path, dpi=144)
    diff = ImageChops.difference(before, after)
    assert count(diff, lambda p: max(p[:3]) > 64) < 30


def test_sealed_shows_only_the_filled_number_and_date(sealed, pki_server, nss_db, tmp_path):
    text = _text(sealed, tmp_path)
    assert NUMBER_LINE.findall(text) == ["01"], text[:600]
    assert DATE_LINE.findall(text) == [("05", "3")], text[:600]
    assert "Số: 01/CT-UBND" in text
    assert "Nghệ An, ngày 05 tháng 3 năm 2026" in text
    assert not re.search(r"Số:\s*/", text)
    # the filled values are drawn in an embedded Unicode font, none of the standard 14
    fonts = fonts_of(sealed, tmp_path).splitlines()[2:]
    assert fonts and all(re.search(r"\byes\s+yes\s+yes\b", ln) for ln in fonts), fonts
    assert not any(ln.split()[0].split("+")[-1].startswith(STANDARD_14) for ln in fonts), fonts
    # both signatures still verify; for the personal one the filling is form filling
    assert_pdfsig_valid(sealed, nss_db, tmp_path, count=2)
    results = dict(validate_all(sealed, pki_server))
    personal, seal = results["EdocPersonal1"], results["EdocSeal1"]
    assert personal.intact and personal.valid and personal.trusted
    assert personal.modification_level <= ModificationLevel.FORM_FILLING
    assert seal.intact and seal.valid and seal.modification_level == ModificationLevel.NONE


def test_a_page_already_signed_keeps_its_blank_lines(pki_server, directive, nss_db, tmp_path):
    """A document someone signed before the competent person: its page may not change any
    more, so the blank lines stay in the page content and the fields only cover them."""
    e = pki_server.entity("official-h41")
    first = sign_pdf(directive, signer_for(pki_server, "official-h41"),
                     appearance=PersonalAppearance(e.image, box=(100, 100, 250, 160, 2),
                                                   prepare_issue_fields=False))
    second = sign_pdf(first, signer_for(pki_server, "official-h41"),
                      appearance=PersonalAppearance(e.image))
    # (pdfsig: both signatures intact; the same certificate twice is not what is checked here)
    sigs = pdfsig(second, nss_db, tmp_path)
    assert [s["Signature Validation"] for s in sigs] == ["Signature is Valid."] * 2, sigs
    first_sig = dict(validate_all(second, pki_server))["EdocPersonal1"]
    assert first_sig.intact and first_sig.valid
    assert page_content(PdfFileReader(io.BytesIO(second)), 0) == page_content(
        PdfFileReader(io.BytesIO(first)), 0)
    assert "/AP" not in {str(f.get_object()["/T"]): f.get_object() for f in PdfFileReader(
        io.BytesIO(second)).root["/AcroForm"]["/Fields"]}[NUMBER_FIELD]
    assert NUMBER_LINE.findall(_text(second, tmp_path)) == [""]


def test_moving_keeps_the_rest_of_the_page_in_place(draft):
    """The operators taken out of the page are replaced by a pure displacement: every other
    line is read back with the same text at the same place."""
    reader = PdfFileReader(io.BytesIO(draft))
    lines = page_lines(reader, 0, record=True)
    number = next(ln for ln in lines if ln.text.startswith("Số:"))
    assert number.shows
    data = without_shows(page_content(reader, 0), number.shows)
    w = IncrementalPdfFileWriter(io.BytesIO(draft))
    page = w.find_page_for_modification(0)[0].get_object()
    page["/Contents"] = w.add_object(generic.StreamObject(stream_data=data))
    w.update_container(page)
    out = io.BytesIO()
    w.write(out)

    def key(ln):
        return ln.text, tuple(round(v, 2) for v in ln.bbox)

    after = page_lines(PdfFileReader(io.BytesIO(out.getvalue())), 0)
    assert [key(ln) for ln in lines if ln != number] == [key(ln) for ln in after]
