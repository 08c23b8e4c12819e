"""Draft a realistic Vietnamese directive (chỉ thị) as a PDF, laid out per Decree 30/2020 Annex I.

WHY: signing, validation, the demo and the benches all need the kind of PDF an official really
signs — produced by a word processor, with no signature field, the Quốc hiệu/tiêu ngữ header, a
blank số/ký hiệu and date for the clerk, and a signer block (title, room for the signature, full
name) on the last page. Output is deterministic (fixed dates and metadata) so tests and benches
are reproducible.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from fpdf import FPDF

from signing import fonts

DEFAULT_RECIPIENTS = (
    "Văn phòng Chính phủ (để b/c);",
    "Thường trực Tỉnh ủy (để b/c);",
    "Thường trực HĐND tỉnh (để b/c);",
    "Chủ tịch, các PCT UBND tỉnh;",
    "Các sở, ban, ngành cấp tỉnh;",
    "UBND các xã, phường;",
    "Lưu: VT, TH.",
)

_BODY = (
    "Thời gian qua, công tác chuyển đổi số trong các cơ quan hành chính nhà nước trên địa bàn "
    "tỉnh đã đạt được những kết quả tích cực: hệ thống quản lý văn bản và điều hành được triển "
    "khai đồng bộ từ tỉnh đến cấp xã; tỷ lệ văn bản điện tử được ký số và gửi nhận trên trục "
    "liên thông văn bản quốc gia ngày càng tăng. Tuy nhiên, vẫn còn tình trạng văn bản giấy và "
    "văn bản điện tử được gửi song song, việc ký số của cá nhân có thẩm quyền chưa thống nhất, "
    "một số cơ quan chưa kiểm tra tính xác thực của văn bản khi tiếp nhận.",
    "Để khắc phục những tồn tại nêu trên, thực hiện Nghị định số 30/2020/NĐ-CP ngày 05 tháng 3 "
    "năm 2020 của Chính phủ về công tác văn thư, Chủ tịch Ủy ban nhân dân tỉnh yêu cầu Thủ "
    "trưởng các sở, ban, ngành cấp tỉnh, Chủ tịch Ủy ban nhân dân các xã, phường tập trung thực "
    "hiện tốt các nhiệm vụ sau đây:",
    "1. Văn bản điện tử do người có thẩm quyền ký số bằng chữ ký số cá nhân; văn thư cơ quan "
    "cấp số, thời gian ban hành và ký số của cơ quan, tổ chức trước khi phát hành. Không gửi "
    "kèm văn bản giấy đối với văn bản đã được gửi điện tử, trừ văn bản mật.",
    "2. Khi tiếp nhận văn bản điện tử, văn thư kiểm tra tính xác thực và toàn vẹn của văn bản, "
    "thông tin người ký và thời gian ký; trường hợp văn bản không bảo đảm, trả lại cơ quan gửi "
    "trên hệ thống và thông báo ngay trong ngày.",
    "3. Sở Khoa học và Công nghệ chủ trì, phối hợp với Văn phòng Ủy ban nhân dân tỉnh hướng dẫn, "
    "kiểm tra việc thực hiện Chỉ thị này; bảo đảm hạ tầng, chứng thư số chuyên dùng cho cán bộ, "
    "công chức; tổng hợp, báo cáo kết quả định kỳ hằng quý.",
    "4. Văn phòng Ủy ban nhân dân tỉnh theo dõi, đôn đốc việc thực hiện; kịp thời báo cáo Chủ "
    "tịch Ủy ban nhân dân tỉnh những khó khăn, vướng mắc phát sinh để xem xét, giải quyết.",
    "5. Các cơ quan, đơn vị rà soát quy trình tiếp nhận, xử lý văn bản đến, bảo đảm mọi văn bản "
    "đến được đăng ký vào sổ, chuyển đến người có trách nhiệm giải quyết trong ngày làm việc, "
    "không để tồn đọng, chậm trễ.",
)

_CLOSING = (
    "Yêu cầu Thủ trưởng các sở, ban, ngành cấp tỉnh, Chủ tịch Ủy ban nhân dân các xã, phường và "
    "các cơ quan, đơn vị liên quan nghiêm túc thực hiện Chỉ thị này./."
)

_FIXED_DATE = dt.datetime(2026, 1, 5, 8, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))
_SIGNER_BLOCK_HEIGHT_MM = 75.0


def _agency_lines(agency: str) -> tuple[str, str]:
    """Split "ỦY BAN NHÂN DÂN TỈNH NGHỆ AN" into the two header lines used by the decree's
    layout (parent kind on the first line, the place on the second)."""
    upper = agency.upper()
    marker = "ỦY BAN NHÂN DÂN "
    if upper.startswith(marker):
        return marker.strip(), upper[len(marker):]
    return upper, ""


def render_directive(
    *,
    agency: str = "ỦY BAN NHÂN DÂN TỈNH NGHỆ AN",
    place: str = "Nghệ An",
    notation: str = "CT-UBND",
    year: int = 2026,
    subject: str = "Về việc đẩy mạnh gửi, nhận văn bản điện tử và ký số văn bản "
    "trong cơ quan hành chính nhà nước trên địa bàn tỉnh",
    signer_name: str = "Nguyễn Văn An",
    signer_title: str = "CHỦ TỊCH",
    signing_authority: str = "TM. ỦY BAN NHÂN DÂN",
    recipients: Sequence[str] = DEFAULT_RECIPIENTS,
    pages: int = 2,
) -> bytes:
    """Return the PDF bytes of a directive of exactly ``pages`` A4 pages.

    The số/ký hiệu ("Số:      /CT-UBND") and the date ("Nghệ An, ngày      tháng      năm 2026")
    are left blank, as on a draft the competent person signs before the clerk numbers it.
    """
    if pages < 1:
        raise ValueError("pages must be ≥ 1")
    pdf = FPDF(format="A4", unit="mm")
    pdf.set_creation_date(_FIXED_DATE)
    pdf.set_producer("edoc drafting")
    pdf.set_title("CHỈ THỊ " + subject)
    pdf.set_lang("vi")
    pdf.set_margins(left=30, top=20, right=15)
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_font("Serif", "", str(fonts.path("serif")))
    pdf.add_font("Serif", "B", str(fonts.path("serif-bold")))
    pdf.add_font("Serif", "I", str(fonts.path("serif-italic")))
    pdf.add_font("Serif", "BI", str(fonts.path("serif-bold-italic")))
    pdf.add_page()

    width = pdf.w - pdf.l_margin - pdf.r_margin
    left_w, right_w = width * 0.40, width * 0.60
    x0, x_right = pdf.l_margin, pdf.l_margin + left_w
    top = pdf.get_y()

    # Left column: agency header (box 2), then số/ký hiệu (box 3).
    line1, line2 = _agency_lines(agency)
    pdf.set_font("Serif", "", 12)
    pdf.set_xy(x0 - 10, top)
    pdf.cell(left_w + 10, 5.5, line1, align="C")
    pdf.set_font("Serif", "B", 12)
    pdf.set_xy(x0 - 10, top + 5.5)
    pdf.cell(left_w + 10, 5.5, line2, align="C")
    pdf.line(x0 + left_w / 2 - 12, top + 12, x0 + left_w / 2 + 2, top + 12)
    pdf.set_font("Serif", "", 13)
    pdf.set_xy(x0 - 10, top + 16)
    pdf.cell(left_w + 10, 6, f"Số:          /{notation}", align="C")

    # Right column: Quốc hiệu and tiêu ngữ (box 1), place and date (box 4).
    pdf.set_font("Serif", "B", 12)
    pdf.set_xy(x_right - 5, top)
    pdf.cell(right_w + 5, 5.5, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", align="C")
    pdf.set_font("Serif", "B", 13)
    pdf.set_xy(x_right - 5, top + 5.5)
    motto = "Độc lập - Tự do - Hạnh phúc"
    pdf.cell(right_w + 5, 6, motto, align="C")
    mw = pdf.get_string_width(motto)
    mid = x_right - 5 + (right_w + 5) / 2
    pdf.line(mid - mw / 2, top + 12, mid + mw / 2, top + 12)
    pdf.set_font("Serif", "I", 13)
    pdf.set_xy(x_right - 5, top + 16)
    pdf.cell(right_w + 5, 6, f"{place}, ngày      tháng      năm {year}", align="C")

    # Document kind and trích yếu (box 5a).
    pdf.set_xy(x0, top + 30)
    pdf.set_font("Serif", "B", 14)
    pdf.cell(width, 7, "CHỈ THỊ", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Serif", "B", 14)
    pdf.multi_cell(width, 6.5, subject, align="C", new_x="LMARGIN", new_y="NEXT")
    y = pdf.get_y() + 1
    pdf.line(x0 + width / 2 - 20, y, x0 + width / 2 + 20, y)
    pdf.set_y(y + 6)

    # Body (box 6): paragraphs cycled until the last page has room only for the signer block.
    pdf.set_font("Serif", "", 14)
    usable_bottom = pdf.h - pdf.b_margin
    i = 0
    while True:
        text = _BODY[i % len(_BODY)]
        i += 1
        pdf.multi_cell(width, 7, "      " + text, align="J", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
        if pdf.page_no() > pages:
            raise ValueError("layout overflow: too many pages")
        if pdf.page_no() == pages:
            room = usable_bottom - pdf.get_y()
            # stop when the next paragraph would not leave room for closing + signer block
            if room < _SIGNER_BLOCK_HEIGHT_MM + 45 or pages == 1 and i >= len(_BODY):
                break
    pdf.multi_cell(width, 7, "      " + _CLOSING, align="J", new_x="LMARGIN", new_y="NEXT")
    if pdf.page_no() != pages:
        raise ValueError("layout overflow: closing paragraph moved to a new page")

    # Nơi nhận (box 9a) on the left, signer block (7a, 7b, 7c) on the right.
    y0 = pdf.get_y() + 6
    pdf.set_font("Serif", "BI", 12)
    pdf.set_xy(x0, y0)
    pdf.cell(left_w, 5, "Nơi nhận:")
    pdf.set_font("Serif", "", 11)
    for n, rec in enumerate(recipients):
        pdf.set_xy(x0, y0 + 5.5 + n * 4.8)
        pdf.cell(left_w, 4.8, "- " + rec)

    pdf.set_font("Serif", "B", 14)
    pdf.set_xy(x_right, y0)
    pdf.cell(right_w, 6, signing_authority, align="C")
    pdf.set_xy(x_right, y0 + 6.5)
    pdf.cell(right_w, 6, signer_title.upper(), align="C")
    pdf.set_xy(x_right, y0 + 6.5 + 38)
    pdf.cell(right_w, 6, signer_name, align="C")
    if pdf.page_no() != pages:
        raise ValueError("layout overflow: signer block moved to a new page")
    return bytes(pdf.output())
