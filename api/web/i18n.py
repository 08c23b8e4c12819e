"""The page's words in Vietnamese (the default) and English.

Templates and pages write English source strings (``_("Inbox")``); ``VI`` holds each one's
Vietnamese. A string without a Vietnamese line would show English to a Vietnamese reader, so
``tests/test_web_i18n.py`` fails on any ``_("…")`` of the templates and pages missing here.
The language is the ``edoc_lang`` cookie (set by ``/lang/vi`` or ``/lang/en``), else the
node's ``[office] lang``.
"""

from __future__ import annotations

from collections.abc import Callable

LANGS = ("vi", "en")
COOKIE = "edoc_lang"

VI: dict[str, str] = {
    # frame
    "E-office": "Văn phòng điện tử",
    "Skip to content": "Bỏ qua, đến nội dung",
    "Main menu": "Trình đơn chính",
    "Inbox": "Văn bản đến",
    "Outgoing": "Văn bản đi",
    "Registers": "Sổ văn bản",
    "Dashboard": "Bảng theo dõi",
    "My account": "Tài khoản",
    "Log out": "Đăng xuất",
    "Log in": "Đăng nhập",
    "Username": "Tên đăng nhập",
    "Password": "Mật khẩu",
    "Language": "Ngôn ngữ",
    "unread": "chưa đọc",
    "Unread": "Chưa đọc",
    "Log in with your agency's account": "Đăng nhập bằng tài khoản của cơ quan",
    "Log in with single sign-on": "Đăng nhập một lần (SSO)",
    "Something went wrong": "Có lỗi",
    "Back": "Quay lại",
    "Not found": "Không tìm thấy",
    "Not allowed": "Không được phép",
    "You are logged out.": "Bạn đã đăng xuất.",
    # inbox and search
    "Incoming documents": "Văn bản đến",
    "Search": "Tìm kiếm",
    "Subject": "Trích yếu",
    "Number": "Số/ký hiệu",
    "Sender": "Nơi gửi",
    "From": "Từ ngày",
    "To": "Đến ngày",
    "State": "Trạng thái",
    "All": "Tất cả",
    "Assigned to me": "Giao cho tôi",
    "Filter": "Lọc",
    "Clear": "Xóa lọc",
    "Arrived": "Ngày đến",
    "Arrival no.": "Số đến",
    "Urgency": "Độ khẩn",
    "Due": "Hạn xử lý",
    "Signatures": "Chữ ký số",
    "No documents match.": "Không có văn bản nào phù hợp.",
    "Page": "Trang",
    "of": "trên",
    "Previous": "Trang trước",
    "Next": "Trang sau",
    "documents": "văn bản",
    "overdue": "quá hạn",
    "due today": "hạn hôm nay",
    "due soon": "sắp đến hạn",
    # states
    "arrived": "Mới đến",
    "accepted": "Đã tiếp nhận",
    "assigned": "Đã giao xử lý",
    "processing": "Đang xử lý",
    "done": "Hoàn thành",
    "rejected": "Đã từ chối",
    "withdrawn": "Đã thu hồi",
    "draft": "Dự thảo",
    "signed": "Đã ký",
    "numbered": "Đã cấp số",
    "sealed": "Đã đóng dấu",
    "issued": "Đã ban hành",
    "updated": "Đã cập nhật",
    "replaced": "Đã thay thế",
    # urgency
    "Normal": "Thường",
    "Urgent": "Khẩn",
    "Very urgent": "Thượng khẩn",
    "Express": "Hỏa tốc",
    "Express, timed": "Hỏa tốc hẹn giờ",
    # verdicts
    "Valid signatures": "Chữ ký hợp lệ",
    "Invalid signature": "Chữ ký không hợp lệ",
    "Could not be confirmed": "Chưa xác định được",
    "Not signed": "Không có chữ ký số",
    "All signatures are valid: the document is intact and signed by the people named.":
        "Mọi chữ ký đều hợp lệ: văn bản còn nguyên vẹn và do đúng người, đúng cơ quan ký.",
    "A signature is invalid: do not rely on this document; ask the sender.":
        "Có chữ ký không hợp lệ: không dùng văn bản này; liên hệ nơi gửi.",
    "A signature could not be confirmed (e.g. the certificate's status could not be checked).":
        "Chưa xác định được một chữ ký (ví dụ chưa kiểm tra được trạng thái chứng thư số).",
    # document page
    "Document": "Văn bản",
    "Signatures and checks": "Chữ ký số và kết quả kiểm tra",
    "Signed by": "Người ký",
    "Agency": "Cơ quan",
    "Signing time": "Thời gian ký",
    "Time-stamp": "Dấu thời gian",
    "Issuer": "Tổ chức cấp chứng thư",
    "Changes after signing": "Thay đổi sau khi ký",
    "Warnings": "Cảnh báo",
    "None": "Không có",
    "Full report": "Báo cáo đầy đủ",
    "Download the signed original (PDF)": "Tải bản gốc đã ký (PDF)",
    "History": "Lịch sử xử lý",
    "Files": "Tệp",
    "Assigned to": "Người xử lý",
    "Type": "Loại văn bản",
    "Accept": "Tiếp nhận",
    "Reject": "Từ chối",
    "Assign": "Giao xử lý",
    "Start processing": "Bắt đầu xử lý",
    "Mark as done": "Hoàn thành xử lý",
    "Reason for rejecting": "Lý do từ chối",
    "Reject the document": "Từ chối văn bản",
    "Cancel": "Hủy",
    "Assign to": "Giao cho",
    "Note": "Ghi chú",
    "The sender is told at once.": "Nơi gửi được báo ngay.",
    "Accepted: it is in the incoming register.": "Đã tiếp nhận: văn bản đã vào sổ văn bản đến.",
    "Rejected: the sender has been told why.": "Đã từ chối: nơi gửi đã được báo lý do.",
    "Assigned.": "Đã giao xử lý.",
    "Marked as being processed.": "Đã chuyển sang đang xử lý.",
    "Marked as done.": "Đã hoàn thành xử lý.",
    "Page image": "Ảnh trang",
    "Actions": "Thao tác",
    # outgoing
    "Outgoing documents": "Văn bản đi",
    "New draft": "Soạn văn bản mới",
    "Draft": "Dự thảo",
    "Created": "Ngày tạo",
    "Recipients": "Nơi nhận",
    "Next step": "Bước tiếp theo",
    "Steps": "Các bước",
    "Prepared for the USB token": "Chuẩn bị ký bằng USB token",
    "Nothing for you to do at this step.": "Ở bước này bạn không có thao tác nào.",
    "Upload a PDF": "Tải lên tệp PDF",
    "or draft from the directive template": "hoặc soạn từ mẫu chỉ thị",
    "Notation": "Ký hiệu",
    "Document type": "Tên loại văn bản",
    "Due date": "Hạn xử lý",
    "Choose the recipients": "Chọn nơi nhận",
    "Save the draft": "Lưu dự thảo",
    "Sign with my USB token": "Ký bằng USB token",
    "Sign with the key the agency keeps": "Ký bằng khóa do cơ quan quản lý",
    "Key password": "Mật khẩu khóa",
    "Sign": "Ký số",
    "Give the number": "Cấp số",
    "Seal": "Đóng dấu",
    "Issue": "Ban hành",
    "Signing agent": "Phần mềm ký số (edoc agent)",
    "Agent address": "Địa chỉ phần mềm ký",
    "Pairing code": "Mã ghép nối",
    "Save": "Lưu",
    "Run edoc agent on your computer with your token plugged in; type the code it shows once.":
        "Chạy edoc agent trên máy tính có cắm USB token; nhập mã ghép nối nó hiển thị một lần.",
    "Signing…": "Đang ký…",
    "Signed.": "Đã ký.",
    "Numbered.": "Đã cấp số.",
    "Sealed.": "Đã đóng dấu.",
    "Issued: the recipients receive it now.": "Đã ban hành: văn bản đang được gửi tới nơi nhận.",
    "Draft saved.": "Đã lưu dự thảo.",
    "Tracking": "Theo dõi gửi nhận",
    "Recipient": "Nơi nhận",
    "Status": "Trạng thái",
    "Signature verdict": "Kết quả kiểm tra chữ ký",
    "Waiting for": "Đang chờ",
    "the leader signs it": "lãnh đạo ký số",
    "the clerk numbers it": "văn thư cấp số",
    "the clerk seals it": "văn thư đóng dấu",
    "the clerk issues it": "văn thư ban hành",
    "Choose at least one recipient.": "Chọn ít nhất một nơi nhận.",
    "PDF file": "Tệp PDF",
    "Upload and save": "Tải lên và lưu",
    "Draft from the template": "Soạn từ mẫu",
    # registers
    "Incoming register": "Sổ văn bản đến",
    "Outgoing register": "Sổ văn bản đi",
    "Year": "Năm",
    "No.": "Số",
    "Issued": "Ngày ban hành",
    "Original number": "Số/ký hiệu gốc",
    "The register is empty for this year.": "Sổ chưa có văn bản nào trong năm này.",
    # dashboard
    "Period": "Khoảng thời gian",
    "Show": "Xem",
    "Sent": "Đã gửi",
    "Received": "Đã nhận",
    "Digitally signed": "Có chữ ký số",
    "share digitally signed (sent)": "tỷ lệ văn bản đi có chữ ký số",
    "share with valid signatures (received)": "tỷ lệ văn bản đến có chữ ký hợp lệ",
    "Handling against due dates": "Xử lý so với hạn",
    "early": "trước hạn",
    "on time": "đúng hạn",
    "late": "trễ hạn",
    "open, overdue": "chưa xong, quá hạn",
    "open": "chưa xong, còn hạn",
    "Received per day": "Văn bản đến theo ngày",
    "Sent per day": "Văn bản đi theo ngày",
    "Delivery latency": "Thời gian chuyển tới nơi nhận",
    "Rejections": "Văn bản bị từ chối",
    "Per agency": "Theo từng cơ quan",
    "Total": "Tổng cộng",
    "Download CSV": "Tải CSV",
    "median": "trung vị",
    "No rejections.": "Không có văn bản bị từ chối.",
    "Reason": "Lý do",
    "Rejected at": "Thời điểm từ chối",
    "Documents sent and received": "Văn bản gửi và nhận",
    "Include the agencies below mine": "Gồm các cơ quan cấp dưới",
    # account
    "Roles": "Vai trò",
    "Position": "Chức vụ",
    "How you can sign here": "Cách ký số của bạn",
    "A USB token through edoc agent": "USB token qua edoc agent",
    "A key the agency keeps for you": "Khóa do cơ quan quản lý cho bạn",
    "Remote signing (CSC)": "Ký số từ xa (CSC)",
    "yes": "có",
    "no": "không",
}

_MISSING: set[str] = set()


def pick(cookie: str | None, default: str) -> str:
    """The reader's language: the cookie they chose, else the node's default (the page is for
    Vietnamese agencies: a browser set to English does not switch it by itself)."""
    if cookie in LANGS:
        return cookie
    return default if default in LANGS else "vi"


def translator(lang: str) -> Callable[[str], str]:
    """``_`` for one language: English source strings, their Vietnamese from ``VI``."""
    if lang == "en":
        return lambda text: text

    def vi(text: str) -> str:
        found = VI.get(text)
        if found is None:
            _MISSING.add(text)
            return text
        return found

    return vi
