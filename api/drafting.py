"""Draft a realistic Vietnamese directive (chỉ thị) as a PDF, laid out per Decree 30/2020 Annex I.

WHY: signing, validation, the demo and the benches all need the kind of PDF an official really
signs — produced by a word processor, with no signature field, the Quốc hiệu/tiêu ngữ header, a
blank số/ký hiệu and date for the clerk, and a signer block (title, room for the signature, full
name) on the last page. Output is deterministic (fixed dates and metadata) so tests and benches
are reproducible.
"""

from __future__ import annotations

import datetime as dt
import threading
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

# The body (box 6): a real directive of the Chairman of the provincial People's Committee on
# its subject, every paragraph distinct. The context (optional, dropped on a one-page draft),
# the preamble, the tasks (numbered when rendered; as many as the pages hold, in this order)
# and the organisation of the work (always last) make a whole text at any length.
_CONTEXT = (
    "Thời gian qua, công tác chuyển đổi số trong các cơ quan hành chính nhà nước trên địa bàn "
    "tỉnh đã đạt được những kết quả tích cực: hệ thống quản lý văn bản và điều hành được triển "
    "khai đồng bộ từ tỉnh đến cấp xã; tỷ lệ văn bản điện tử được ký số và gửi, nhận qua Trục "
    "liên thông văn bản quốc gia ngày càng tăng, góp phần rút ngắn thời gian xử lý công việc, "
    "giảm chi phí in ấn, phát hành văn bản giấy.",
    "Tuy nhiên, ở một số cơ quan, đơn vị việc gửi, nhận văn bản điện tử còn hình thức: văn bản "
    "giấy và văn bản điện tử vẫn được gửi song song; nhiều văn bản chỉ là bản chụp (scan) của "
    "văn bản giấy, chưa được người có thẩm quyền ký số; việc cấp số, ghi thời gian ban hành và "
    "ký số của cơ quan, tổ chức chưa đúng quy định; khi tiếp nhận, chưa kiểm tra tính xác thực, "
    "toàn vẹn của văn bản; hạ tầng kỹ thuật và chứng thư số chuyên dùng ở cấp xã còn thiếu.",
)

_PREAMBLE = (
    "Để nâng cao hiệu quả gửi, nhận văn bản điện tử, thực hiện Nghị định số 30/2020/NĐ-CP ngày "
    "05 tháng 3 năm 2020 của Chính phủ về công tác văn thư, Chủ tịch Ủy ban nhân dân tỉnh yêu "
    "cầu Thủ trưởng các sở, ban, ngành cấp tỉnh, Chủ tịch Ủy ban nhân dân các xã, phường tập "
    "trung thực hiện tốt các nhiệm vụ sau đây:"
)

# Each task: its paragraphs (the first is numbered when rendered).
_TASKS = (
    (
        "Thủ trưởng các sở, ban, ngành cấp tỉnh, Chủ tịch Ủy ban nhân dân các xã, phường:",
        "a) Quán triệt cán bộ, công chức, viên chức gửi, nhận văn bản điện tử là phương thức "
        "chủ yếu; văn bản đã gửi điện tử thì không gửi kèm văn bản giấy, trừ văn bản mật và văn "
        "bản mà pháp luật quy định phải gửi bản giấy;",
        "b) Văn bản điện tử do người có thẩm quyền ký số bằng chữ ký số cá nhân; văn thư cơ quan "
        "cấp số, thời gian ban hành và ký số của cơ quan, tổ chức trước khi phát hành; không dùng "
        "bản chụp văn bản giấy thay cho văn bản điện tử;",
        "c) Khi tiếp nhận văn bản điện tử, văn thư kiểm tra tính xác thực, toàn vẹn của văn bản, "
        "thông tin người ký và thời gian ký; văn bản không bảo đảm thì trả lại nơi gửi trên hệ "
        "thống và thông báo ngay trong ngày làm việc;",
        "d) Văn bản đến được đăng ký vào sổ và chuyển đến người có trách nhiệm giải quyết trong "
        "ngày làm việc; việc xử lý, theo dõi, đôn đốc giải quyết văn bản thực hiện trên hệ thống "
        "quản lý văn bản và điều hành, không để tồn đọng, chậm trễ.",
    ),
    (
        "Sở Khoa học và Công nghệ chủ trì, phối hợp với Văn phòng Ủy ban nhân dân tỉnh bảo đảm hệ "
        "thống quản lý văn bản và điều hành của tỉnh kết nối thông suốt với Trục liên thông văn "
        "bản quốc gia và các xã, phường; sao lưu dữ liệu định kỳ, có phương án dự phòng khi xảy "
        "ra sự cố; tổng hợp, báo cáo kết quả gửi, nhận văn bản điện tử hằng quý.",
    ),
    (
        "Công an tỉnh phối hợp với Sở Khoa học và Công nghệ kiểm tra, đánh giá an toàn thông tin "
        "của hệ thống quản lý văn bản và điều hành, kịp thời phát hiện, xử lý nguy cơ lộ, lọt "
        "thông tin; hướng dẫn các cơ quan, đơn vị không dùng thư điện tử công cộng, mạng xã hội "
        "để gửi, nhận văn bản của cơ quan nhà nước.",
    ),
    (
        "Sở Nội vụ đưa kết quả thực hiện Chỉ thị này vào tiêu chí đánh giá, xếp loại thi đua, "
        "khen thưởng hằng năm của cơ quan, đơn vị và người đứng đầu; hướng dẫn lập hồ sơ điện tử, "
        "nộp lưu hồ sơ, tài liệu điện tử vào Lưu trữ lịch sử tỉnh theo quy định.",
    ),
    (
        "Ủy ban nhân dân các xã, phường bố trí công chức văn thư đủ năng lực sử dụng hệ thống; "
        "bảo đảm đường truyền, máy tính và thiết bị ký số cho bộ phận văn thư; khi đường truyền "
        "gián đoạn vẫn tiếp nhận, xử lý văn bản và đồng bộ lại ngay khi kết nối được khôi phục.",
    ),
    (
        "Sở Tài chính tham mưu Ủy ban nhân dân tỉnh bố trí kinh phí đầu tư, nâng cấp hạ tầng kỹ "
        "thuật, trang bị thiết bị ký số và duy trì hệ thống quản lý văn bản và điều hành theo "
        "phân cấp ngân sách nhà nước hiện hành.",
    ),
    (
        "Sở Khoa học và Công nghệ hướng dẫn các cơ quan, đơn vị đề nghị cấp, gia hạn, thu hồi "
        "chứng thư số chuyên dùng kịp thời khi có thay đổi về tổ chức, nhân sự; tổ chức tập huấn "
        "cho văn thư và người có thẩm quyền ký số của các xã, phường trong quý II năm 2026.",
    ),
    (
        "Các cơ quan báo chí của tỉnh, Cổng thông tin điện tử tỉnh tăng cường thông tin, tuyên "
        "truyền về lợi ích của văn bản điện tử và chữ ký số trong hoạt động của cơ quan nhà nước, "
        "biểu dương cơ quan, đơn vị làm tốt, phê phán nơi thực hiện chưa nghiêm.",
    ),
)

_ORGANISATION = (
    "Văn phòng Ủy ban nhân dân tỉnh theo dõi, đôn đốc, kiểm tra việc thực hiện Chỉ thị này; "
    "tổng hợp khó khăn, vướng mắc phát sinh, báo cáo Chủ tịch Ủy ban nhân dân tỉnh xem xét, giải "
    "quyết."
)

_CLOSING = (
    "Chỉ thị này có hiệu lực kể từ ngày ký. Yêu cầu Thủ trưởng các sở, ban, ngành cấp tỉnh, Chủ "
    "tịch Ủy ban nhân dân các xã, phường và các cơ quan, đơn vị liên quan nghiêm túc thực hiện "
    "Chỉ thị này./."
)

_FIXED_DATE = dt.datetime(2026, 1, 5, 8, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))
_LINE_H = 7.0  # body line height (mm)
_PARA_GAP = 2.0  # space after a body paragraph (mm)
_INDENT = "      "  # first-line indent of a body paragraph


def _signer_block_height(recipients: Sequence[str]) -> float:
    """Height (mm) of the "Nơi nhận" list and the signer block side by side, as drawn below."""
    return max(6.5 + 38 + 6, 5.5 + 4.8 * len(recipients)) + 2


_LINE_COUNTS: dict[tuple[str, float], int] = {}
_SCRATCH: list[FPDF] = []  # the one document paragraphs are measured on
_MEASURE_LOCK = threading.Lock()


def _new_pdf() -> FPDF:
    pdf = FPDF(format="A4", unit="mm")
    pdf.add_font("Serif", "", str(fonts.path("serif")))
    pdf.add_font("Serif", "B", str(fonts.path("serif-bold")))
    pdf.add_font("Serif", "I", str(fonts.path("serif-italic")))
    pdf.add_font("Serif", "BI", str(fonts.path("serif-bold-italic")))
    return pdf


def _line_count(width: float, text: str) -> int:
    """Lines of ``text`` as a body paragraph. Measured on a scratch document: a dry run still
    adds the glyphs to the document's font subsets, and the draft must hold only its own."""
    key = (text, round(width, 3))
    with _MEASURE_LOCK:
        if key not in _LINE_COUNTS:
            if not _SCRATCH:
                _SCRATCH.append(_new_pdf())
                _SCRATCH[0].add_page()
                _SCRATCH[0].set_font("Serif", "", 14)
            lines = _SCRATCH[0].multi_cell(width, _LINE_H, _INDENT + text, align="J",
                                           dry_run=True, output="LINES")
            _LINE_COUNTS[key] = len(lines)
        return _LINE_COUNTS[key]


def _body(pdf: FPDF, width: float, pages: int, block: float) -> list[str]:
    """The body paragraphs for ``pages`` pages: the preamble and the organisation of the work
    always, the context and the tasks (numbered in order) while they fit, so that the body
    ends on the last page with ``block`` mm left below it. Paragraphs break across pages line
    by line, as ``multi_cell`` does; the layout is simulated from the current position."""
    bottom, top = pdf.page_break_trigger, pdf.t_margin
    start = (pdf.page_no(), pdf.get_y())

    def end(paragraphs: list[str]) -> tuple[int, float]:
        page, y = start
        for text in paragraphs:
            for _ in range(_line_count(width, text)):
                if y + _LINE_H > bottom:
                    page, y = page + 1, top
                y += _LINE_H
            y += _PARA_GAP
        return page, y

    def fits(paragraphs: list[str]) -> bool:
        page, y = end(paragraphs)
        return page < pages or page == pages and y + block <= bottom

    def text(context: bool, tasks: list[tuple[str, ...]]) -> list[str]:
        out = list(_CONTEXT) if context else []
        out.append(_PREAMBLE)
        for n, task in enumerate([*tasks, (_ORGANISATION,)], start=1):
            out += [f"{n}. {task[0]}", *task[1:]]
        return out

    context = fits(text(True, []))
    tasks: list[tuple[str, ...]] = []
    for task in _TASKS:  # first fit, in order
        if fits(text(context, [*tasks, task])):
            tasks.append(task)
    body = text(context, tasks)
    if not fits(body):
        raise ValueError("layout overflow: the signer block does not fit on the last page")
    if end(body)[0] < pages:
        raise ValueError(f"the directive's text does not fill {pages} pages")
    return body


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
    are left blank, as on a draft the competent person signs before the clerk numbers it. The
    body is one text, no paragraph twice: as many of its tasks as the pages hold (the text
    fills 1 to 3 pages; more raise ValueError, as does a signer block too tall for the page).
    """
    if pages < 1:
        raise ValueError("pages must be ≥ 1")
    pdf = _new_pdf()
    pdf.set_creation_date(_FIXED_DATE)
    pdf.set_producer("edoc drafting")
    pdf.set_title("CHỈ THỊ " + subject)
    pdf.set_lang("vi")
    pdf.set_margins(left=30, top=20, right=15)
    pdf.set_auto_page_break(auto=True, margin=20)
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

    # Body (box 6): as much of the text as fills the pages, the closing and the signer block
    # ending on the last one.
    pdf.set_font("Serif", "", 14)
    block = _LINE_H * _line_count(width, _CLOSING) + 6 + _signer_block_height(recipients)
    for text in _body(pdf, width, pages, block):
        pdf.multi_cell(width, _LINE_H, _INDENT + text, align="J", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(_PARA_GAP)
    if pdf.page_no() != pages:
        raise ValueError("layout overflow: the body does not end on the last page")
    pdf.multi_cell(width, _LINE_H, _INDENT + _CLOSING, align="J", new_x="LMARGIN", new_y="NEXT")
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
