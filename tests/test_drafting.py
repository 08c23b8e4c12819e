"""``render_directive``: a realistic, deterministic Vietnamese directive (checked with poppler)."""

from __future__ import annotations

import re
import subprocess

import pytest

from api.drafting import render_directive


def _poppler(tool: str, pdf: bytes, tmp_path, *args: str) -> str:
    p = tmp_path / "d.pdf"
    p.write_bytes(pdf)
    return subprocess.run([tool, *args, str(p), *(["-"] if tool == "pdftotext" else [])],
                          capture_output=True, text=True, check=True).stdout


def test_layout_and_text(tmp_path):
    pdf = render_directive()
    assert pdf == render_directive()  # deterministic
    info = _poppler("pdfinfo", pdf, tmp_path)
    assert re.search(r"Pages:\s+2\b", info) and "A4" in info
    p1 = _poppler("pdftotext", pdf, tmp_path, "-f", "1", "-l", "1")
    for s in ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc",
              "ỦY BAN NHÂN DÂN", "TỈNH NGHỆ AN", "/CT-UBND", "CHỈ THỊ", "Nghệ An, ngày"]:
        assert s in p1, s
    assert re.search(r"Số:\s+/CT-UBND", p1)  # number left blank for the clerk
    p2 = _poppler("pdftotext", pdf, tmp_path, "-f", "2", "-l", "2")
    for s in ["Nơi nhận:", "- Lưu: VT, TH.", "TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH", "Nguyễn Văn An",
              "này./."]:
        assert s in p2, s
    assert "Nguyễn Văn An" not in p1
    fonts = _poppler("pdffonts", pdf, tmp_path)
    assert fonts.count("LiberationSerif") >= 3
    assert all(re.search(r"yes\s+yes\s+yes", ln) for ln in fonts.splitlines()[2:])


@pytest.mark.parametrize("pages", [1, 3])
def test_parameters(tmp_path, pages):
    pdf = render_directive(
        agency="ỦY BAN NHÂN DÂN XÃ NGHI LỘC", place="Nghi Lộc", signer_name="Hồ Thị Dung",
        signer_title="Phó Chủ tịch", signing_authority="KT. CHỦ TỊCH",
        recipients=["Sở Nội vụ;", "Lưu: VT."], subject="Về việc thử nghiệm", pages=pages,
    )
    assert re.search(rf"Pages:\s+{pages}\b", _poppler("pdfinfo", pdf, tmp_path))
    last = _poppler("pdftotext", pdf, tmp_path, "-f", str(pages), "-l", str(pages))
    for s in ["Hồ Thị Dung", "PHÓ CHỦ TỊCH", "KT. CHỦ TỊCH", "- Sở Nội vụ;"]:
        assert s in last
    first = _poppler("pdftotext", pdf, tmp_path, "-f", "1", "-l", "1")
    assert "XÃ NGHI LỘC" in first and "Về việc thử nghiệm" in first


def test_bad_pages():
    with pytest.raises(ValueError):
        render_directive(pages=0)
    with pytest.raises(ValueError, match="does not fill 4 pages"):  # no padding by repetition
        render_directive(pages=4)


def _paragraphs(pdf: bytes, tmp_path) -> list[str]:
    """The document's paragraphs as a reader sees them: poppler's words, grouped into lines by
    page and baseline; a line starting right of the left margin (a first-line indent, a centred
    line) starts a paragraph, a line at the margin continues one, across pages too."""
    html = _poppler("pdftotext", pdf, tmp_path, "-bbox")
    paragraphs: list[list[str]] = []
    for page in re.findall(r"<page .*?</page>", html, re.S):
        rows: dict[int, list[tuple[float, str]]] = {}
        for x, y, word in re.findall(
            r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="[\d.]+" yMax="[\d.]+">([^<]*)</word>',
            page,
        ):
            rows.setdefault(round(float(y)), []).append((float(x), word))
        for _y, words in sorted(rows.items()):
            words.sort()
            if words[0][0] > 30 * 72 / 25.4 + 5 or not paragraphs:
                paragraphs.append([])
            paragraphs[-1] += [w for _x, w in words]
    return [" ".join(p) for p in paragraphs]


def test_body_is_a_real_text_without_repeated_paragraphs(tmp_path):
    """Two pages of distinct paragraphs: page 2 goes on with new numbered tasks, it does not
    repeat page 1 (nor does any paragraph or sentence of 60 characters or more come twice)."""
    pdf = render_directive()
    assert re.search(r"Pages:\s+2\b", _poppler("pdfinfo", pdf, tmp_path))
    paragraphs = [p for p in _paragraphs(pdf, tmp_path) if len(p) >= 60]
    assert len(paragraphs) >= 8
    repeated = {p for p in paragraphs if paragraphs.count(p) > 1}
    assert not repeated, repeated
    text = re.sub(r"\s+", " ", _poppler("pdftotext", pdf, tmp_path))
    sentences = [s.strip() for s in re.split(r"(?<=[.;:])\s", text) if len(s.strip()) >= 60]
    assert not {s for s in sentences if sentences.count(s) > 1}
    # numbered tasks 1, 2, 3 … in order, each once, some of them on page 2
    numbers = [int(n) for n in re.findall(r"(?m)^\s*(\d+)\. \S", _poppler("pdftotext", pdf,
                                                                           tmp_path))]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 3
    p2 = _poppler("pdftotext", pdf, tmp_path, "-f", "2", "-l", "2")
    assert len(re.findall(r"(?m)^\s*\d+\. \S", p2)) >= 2


@pytest.mark.parametrize("pages", [1, 3])
def test_other_lengths_have_no_repeated_paragraph(tmp_path, pages):
    pdf = render_directive(pages=pages)
    assert re.search(rf"Pages:\s+{pages}\b", _poppler("pdfinfo", pdf, tmp_path))
    paragraphs = [p for p in _paragraphs(pdf, tmp_path) if len(p) >= 60]
    assert not {p for p in paragraphs if paragraphs.count(p) > 1}
    text = _poppler("pdftotext", pdf, tmp_path)
    assert "nghiêm túc thực hiện Chỉ thị này./." in re.sub(r"\s+", " ", text)
