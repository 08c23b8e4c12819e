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
