"""The four Decree 30 appearances on a realistic directive, checked by independent tools:
poppler renders the pages (blue/red pixels where the decree puts them), pdfsig (NSS trusting the
dev root) validates, pdftotext/pdffonts read the text blocks, pyHanko's difference analysis
classifies the number/date filling before the seal."""

from __future__ import annotations

import datetime as dt
import io
import re
import subprocess

import pytest
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import SigFieldSpec, append_signature_field

from signing import sign_pdf
from signing.appearances import (
    AttachmentAppearance,
    CopyAppearance,
    PersonalAppearance,
    SealAppearance,
    iso_vn,
)
from tests.sign_helpers import (
    assert_pdfsig_valid,
    count,
    field_rects,
    fonts_of,
    is_blue,
    is_red,
    region,
    render,
    seal,
    sign_personal,
    signer_for,
    text_of,
    validate_all,
)

A4_H = 841.89
MM = 72 / 25.4


@pytest.fixture(scope="module")
def personal_pdf(pki_server, directive) -> bytes:
    return sign_personal(pki_server, directive)


@pytest.fixture(scope="module")
def sealed_pdf(pki_server, personal_pdf) -> bytes:
    return seal(pki_server, personal_pdf, "12/CT-UBND", dt.date(2026, 3, 5))


def _word_boxes(pdf: bytes, tmp, page: int) -> list[tuple[str, float, float, float, float]]:
    """Words and boxes from poppler (independent of our pdfminer locator), PDF coordinates."""
    src = tmp / "bbox.pdf"
    src.write_bytes(pdf)
    html = subprocess.run(
        ["pdftotext", "-bbox", "-f", str(page), "-l", str(page), str(src), "-"],
        capture_output=True, text=True, check=True,
    ).stdout
    out = []
    for m in re.finditer(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>',
        html,
    ):
        x1, y1, x2, y2 = (float(m.group(i)) for i in range(1, 5))
        out.append((m.group(5), x1, A4_H - y2, x2, A4_H - y1))
    return out


def test_personal_image_between_title_and_name(personal_pdf, nss_db, tmp_path):
    assert_pdfsig_valid(personal_pdf, nss_db, tmp_path, count=1)
    rects = field_rects(personal_pdf)
    x1, y1, x2, y2 = rects["EdocPersonal1"]
    words = _word_boxes(personal_pdf, tmp_path, 2)
    name_top = max(w[4] for w in words if w[0] == "Nguyễn")
    title_bottom = min(w[2] for w in words if w[0] == "CHỦ")
    name_x = [w for w in words if w[0] in ("Nguyễn", "An") and w[2] < name_top + 1]
    name_cx = (min(w[1] for w in name_x) + max(w[3] for w in name_x)) / 2
    # between the title line and the name, centred on the name
    assert name_top <= y1 < y2 <= title_bottom
    assert abs((x1 + x2) / 2 - name_cx) < 3
    assert abs((y1 + y2) / 2 - (name_top + title_bottom) / 2) < 3
    # blue ink drawn there on page 2, none elsewhere on the page, none on page 1
    page2 = render(personal_pdf, 2, tmp_path)
    inside = count(region(page2, (x1, y1, x2, y2), A4_H), is_blue)
    assert inside > 300
    assert count(page2, is_blue) - inside < 20
    assert count(render(personal_pdf, 1, tmp_path), is_blue) < 20
    # the clerk's number/date fields were prepared, empty
    assert {"EdocSoKyHieu", "EdocNgayBanHanh"} <= set(rects)


def test_seal_overlaps_left_third_and_keeps_personal_valid(
    sealed_pdf, pki_server, nss_db, tmp_path
):
    sigs = assert_pdfsig_valid(sealed_pdf, nss_db, tmp_path, count=2)
    assert sigs[1]["Signer Certificate Common Name"] == "Ủy ban nhân dân tỉnh Nghệ An"
    results = dict(validate_all(sealed_pdf, pki_server))
    personal, seal = results["EdocPersonal1"], results["EdocSeal1"]
    assert personal.intact and personal.valid and personal.trusted
    assert personal.modification_level <= ModificationLevel.FORM_FILLING
    assert personal.docmdp_ok
    assert seal.intact and seal.valid and seal.trusted
    assert seal.modification_level == ModificationLevel.NONE

    rects = field_rects(sealed_pdf)
    px1, py1, px2, py2 = rects["EdocPersonal1"]
    sx1, sy1, sx2, sy2 = rects["EdocSeal1"]
    # real size: 36 mm, the right edge a third into the personal image, same centre line
    assert abs((sx2 - sx1) - 36 * MM) < 0.5 and abs((sy2 - sy1) - 36 * MM) < 0.5
    assert abs(sx2 - (px1 + (px2 - px1) / 3)) < 1
    assert abs((sy1 + sy2) / 2 - (py1 + py2) / 2) < 1
    page2 = render(sealed_pdf, 2, tmp_path)
    assert count(region(page2, (sx1, sy1, sx2, sy2), A4_H), is_red) > 1500
    # the red seal covers the left third of the signature; blue still visible on the right
    left_third = (px1, py1, px1 + (px2 - px1) / 3, py2)
    right = (px1 + (px2 - px1) / 2, py1, px2, py2)
    assert count(region(page2, left_third, A4_H), is_red) > 100
    assert count(region(page2, right, A4_H), is_blue) > 100
    # number and date written on page 1 (form fields), readable as text
    text = text_of(sealed_pdf, tmp_path, 1)
    assert "Số: 12/CT-UBND" in text
    assert "Nghệ An, ngày 05 tháng 3 năm 2026" in text


def test_seal_diameter_is_configurable(pki_server, personal_pdf):
    a = pki_server.entity("agency-h41")
    out = sign_pdf(personal_pdf, signer_for(pki_server, "agency-h41"),
                   appearance=SealAppearance(a.image, diameter_mm=40))
    x1, _y1, x2, _y2 = field_rects(out)["EdocSeal1"]
    assert abs((x2 - x1) - 40 * MM) < 0.5


def _check_text_block(pdf: bytes, lines: list[str], tmp_path, nss_db, prefix: str):
    assert_pdfsig_valid(pdf, nss_db, tmp_path, count=1)
    fonts = fonts_of(pdf, tmp_path)
    ours = [ln for ln in fonts.splitlines() if "LiberationSerif-Identity-H" in ln]
    assert ours, fonts
    assert all(re.search(r"\byes\s+yes\s+yes\b", ln) for ln in ours), ours  # emb sub uni
    text = text_of(pdf, tmp_path, 1)
    for line in lines:
        assert line in text, (line, text[:400])
    x1, y1, x2, y2 = field_rects(pdf)[prefix + "1"]
    # top right of page 1: right edge at the 15 mm margin, within the top 25 mm
    assert abs(x2 - (595.28 - 15 * MM)) < 1 and y2 > A4_H - 25 * MM and x1 > 595.28 / 2
    page1 = render(pdf, 1, tmp_path)
    crop = region(page1, (x1, y1, x2, y2), A4_H)
    assert count(crop, lambda p: max(p[:3]) < 90) > 40  # black text
    assert count(page1, is_red) == 0 and count(page1, is_blue) < 20  # no image


def test_attachment_text_block(pki_server, directive, nss_db, tmp_path):
    t = dt.datetime.now(dt.UTC).replace(microsecond=0)
    pdf = sign_pdf(directive, signer_for(pki_server, "agency-h41"),
                   appearance=AttachmentAppearance("123/QĐ-UBND", t))
    stamp = iso_vn(t)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00", stamp)
    _check_text_block(pdf, ["123/QĐ-UBND", stamp], tmp_path, nss_db, "EdocAttachment")


@pytest.mark.parametrize("form", ["SAO Y", "SAO LỤC", "TRÍCH SAO"])
def test_copy_text_block(pki_server, directive, nss_db, tmp_path, form):
    t = dt.datetime.now(dt.UTC).replace(microsecond=0)
    pdf = sign_pdf(directive, signer_for(pki_server, "agency-h41"),
                   appearance=CopyAppearance(form, "ỦY BAN NHÂN DÂN TỈNH NGHỆ AN", t))
    _check_text_block(
        pdf, [form, "ỦY BAN NHÂN DÂN TỈNH NGHỆ AN", iso_vn(t)], tmp_path, nss_db, "EdocCopy"
    )


def test_personal_explicit_box(pki_server, directive, nss_db, tmp_path):
    e = pki_server.entity("official-h41")
    box = (100, 100, 250, 160, 1)
    pdf = sign_pdf(directive, signer_for(pki_server, "official-h41"),
                   appearance=PersonalAppearance(e.image, box=box))
    assert_pdfsig_valid(pdf, nss_db, tmp_path, count=1)
    assert field_rects(pdf)["EdocPersonal1"] == (100, 100, 250, 160)
    assert count(region(render(pdf, 1, tmp_path), (100, 100, 250, 160), A4_H), is_blue) > 200


def test_personal_existing_field(pki_server, directive, nss_db, tmp_path):
    w = IncrementalPdfFileWriter(io.BytesIO(directive))
    append_signature_field(w, SigFieldSpec("ChuKyLanhDao", on_page=1, box=(360, 180, 480, 240)))
    buf = io.BytesIO()
    w.write(buf)
    e = pki_server.entity("official-h41")
    pdf = sign_pdf(buf.getvalue(), signer_for(pki_server, "official-h41"),
                   appearance=PersonalAppearance(e.image, field="ChuKyLanhDao"))
    assert_pdfsig_valid(pdf, nss_db, tmp_path, count=1)
    assert pdfsig_field(pdf, nss_db, tmp_path) == "ChuKyLanhDao"
    assert count(region(render(pdf, 2, tmp_path), (360, 180, 480, 240), A4_H), is_blue) > 200


def pdfsig_field(pdf, nss, tmp) -> str:
    from tests.sign_helpers import pdfsig

    return pdfsig(pdf, nss, tmp)[0]["Signature Field Name"]


def test_signer_name_override(pki_server, nss_db, tmp_path):
    from api.drafting import render_directive

    doc = render_directive(signer_name="Trần Thị Bình", signer_title="PHÓ CHỦ TỊCH",
                           signing_authority="KT. CHỦ TỊCH")
    e = pki_server.entity("official-h41")
    pdf = sign_pdf(doc, signer_for(pki_server, "official-h41"),
                   appearance=PersonalAppearance(e.image, signer_name="Trần Thị Bình"))
    assert_pdfsig_valid(pdf, nss_db, tmp_path, count=1)
    x1, y1, x2, y2 = field_rects(pdf)["EdocPersonal1"]
    assert 120 < y1 < 300 and x1 > 300


def test_personal_b_t_then_seal_b_lta(pki_server, directive, nss_db, tmp_path):
    """The full issuing path with long-term levels: the seal's DSS and document time-stamp
    are allowed changes for the personal signature."""
    e, a = pki_server.entity("official-h41"), pki_server.entity("agency-h41")
    personal = sign_pdf(directive, signer_for(pki_server, "official-h41"),
                        appearance=PersonalAppearance(e.image), level="B-T",
                        tsa_url=pki_server.tsa_url)
    sealed = sign_pdf(personal, signer_for(pki_server, "agency-h41"),
                      appearance=SealAppearance(a.image, number="99/CT-UBND"), level="B-LTA",
                      tsa_url=pki_server.tsa_url)
    assert_pdfsig_valid(sealed, nss_db, tmp_path, count=2, doc_timestamps=1)
    results = dict(validate_all(sealed, pki_server))
    p = results["EdocPersonal1"]
    assert p.intact and p.valid and p.trusted
    assert p.modification_level <= ModificationLevel.FORM_FILLING
    assert "Số: 99/CT-UBND" in text_of(sealed, tmp_path, 1)


def test_other_producer_cairo(pki_server, directive, nss_db, tmp_path):
    """The same directive re-written by another PDF producer (cairo, via poppler's pdftocairo):
    different fonts, encodings and text operators; the signer block and number/date lines are
    still found."""
    src = tmp_path / "word.pdf"
    src.write_bytes(directive)
    subprocess.run(["pdftocairo", "-pdf", str(src), str(tmp_path / "cairo.pdf")], check=True)
    doc = (tmp_path / "cairo.pdf").read_bytes()
    e, a = pki_server.entity("official-h41"), pki_server.entity("agency-h41")
    personal = sign_pdf(doc, signer_for(pki_server, "official-h41"),
                        appearance=PersonalAppearance(e.image))
    sealed = sign_pdf(personal, signer_for(pki_server, "agency-h41"),
                      appearance=SealAppearance(a.image, number="3/CT-UBND",
                                                issue_date=dt.date(2026, 2, 1)))
    assert_pdfsig_valid(sealed, nss_db, tmp_path, count=2)
    words = _word_boxes(sealed, tmp_path, 2)
    name_top = max(w[4] for w in words if w[0] == "Nguyễn")
    title_bottom = min(w[2] for w in words if w[0] == "CHỦ")
    _x1, y1, _x2, y2 = field_rects(sealed)["EdocPersonal1"]
    assert name_top <= y1 < y2 <= title_bottom
    text = text_of(sealed, tmp_path, 1)
    assert "Số: 3/CT-UBND" in text and "ngày 01 tháng 02 năm 2026" in text


def _is_ink(p) -> bool:
    return sum(p[:3]) < 3 * 140


def test_filled_date_keeps_descenders_and_dots_below(sealed_pdf, tmp_path):
    """The filled date sits on the original baseline: descenders (g, y) and the dot below
    'ệ' are drawn, not clipped by the field box (a clipped 'Nghệ' reads 'Nghê')."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    from signing.appearances.locate import DESCENT

    reader = PdfFileReader(io.BytesIO(sealed_pdf))
    field = next(
        f.get_object() for f in reader.root["/AcroForm"]["/Fields"]
        if str(f.get_object().get("/T")) == "EdocNgayBanHanh"
    )
    size = float(field["/EdocSize"])
    x1, y1, x2, y2 = (float(v) for v in field["/Rect"])
    baseline = y1 + 1 + DESCENT * size
    dpi = 288
    page = render(sealed_pdf, 1, tmp_path, dpi=dpi)
    below = region(page, (x1, y1, x2, baseline - 0.08 * size), A4_H, dpi=dpi)
    above = region(page, (x1, baseline, x2, y2), A4_H, dpi=dpi)
    assert count(above, _is_ink) > 500  # the date is drawn
    # 'g', 'y', ',' and the dot of 'ệ' reach well below the baseline
    assert count(below, _is_ink) > 40
