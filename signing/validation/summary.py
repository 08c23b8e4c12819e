"""Plain-language summaries of a signature, in Vietnamese (shown to clerks) and English.

Circular 15/2025 lists what the result must show: valid or not, the signer, the issuing CA, the
signing time or time-stamp, integrity, and the certificate's validity period.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from signing.validation.report import Indication, SignatureReport

VN = ZoneInfo("Asia/Ho_Chi_Minh")

_VERDICT = {
    Indication.TOTAL_PASSED: ("Chữ ký hợp lệ", "Signature valid"),
    Indication.TOTAL_FAILED: ("Chữ ký không hợp lệ", "Signature invalid"),
    Indication.INDETERMINATE: (
        "Chưa xác định được tính hợp lệ của chữ ký",
        "Signature validity could not be established",
    ),
}
_SUB_VI = {
    "HASH_FAILURE": "nội dung đã bị thay đổi sau khi ký",
    "SIG_CRYPTO_FAILURE": "giá trị chữ ký không khớp với chứng thư",
    "FORMAT_FAILURE": "định dạng chữ ký hoặc tài liệu không hợp lệ",
    "REVOKED": "chứng thư đã bị thu hồi trước thời điểm ký",
    "REVOKED_NO_POE": "chứng thư đã bị thu hồi, không có bằng chứng ký trước khi thu hồi",
    "REVOKED_CA_NO_POE": "chứng thư của tổ chức cấp đã bị thu hồi",
    "EXPIRED": "chứng thư đã hết hạn trước thời điểm ký",
    "NOT_YET_VALID": "chứng thư chưa có hiệu lực tại thời điểm ký",
    "OUT_OF_BOUNDS_NO_POE": "chứng thư đã hết hạn, không có dấu thời gian chứng minh ký trong hạn",
    "NO_CERTIFICATE_CHAIN_FOUND": "không xây dựng được chuỗi chứng thư tới gốc tin cậy",
    "NO_SIGNING_CERTIFICATE_FOUND": "không tìm thấy chứng thư của người ký",
    "TRY_LATER": "chưa kiểm tra được tình trạng thu hồi chứng thư, hãy thử lại sau",
    "CRYPTO_CONSTRAINTS_FAILURE": "thuật toán hoặc độ dài khóa không đáp ứng quy định",
    "CRYPTO_CONSTRAINTS_FAILURE_NO_POE": "thuật toán hoặc độ dài khóa không đáp ứng quy định",
    "CHAIN_CONSTRAINTS_FAILURE": "chuỗi chứng thư không thỏa ràng buộc",
    "CERTIFICATE_CHAIN_GENERAL_FAILURE": "lỗi khi kiểm tra chuỗi chứng thư",
    "SIG_CONSTRAINTS_FAILURE": "chữ ký không thỏa ràng buộc",
}
_SUB_EN = {
    "HASH_FAILURE": "the content was changed after signing",
    "SIG_CRYPTO_FAILURE": "the signature value does not match the certificate",
    "FORMAT_FAILURE": "the signature or document format is invalid",
    "REVOKED": "the certificate was revoked before signing",
    "REVOKED_NO_POE": "the certificate is revoked and nothing proves signing before revocation",
    "REVOKED_CA_NO_POE": "the issuing CA certificate is revoked",
    "EXPIRED": "the certificate had expired before signing",
    "NOT_YET_VALID": "the certificate was not yet valid at signing",
    "OUT_OF_BOUNDS_NO_POE": "the certificate has expired and no time-stamp proves signing in time",
    "NO_CERTIFICATE_CHAIN_FOUND": "no chain to a trusted root could be built",
    "NO_SIGNING_CERTIFICATE_FOUND": "the signer's certificate was not found",
    "TRY_LATER": "revocation status could not be checked; try again later",
    "CRYPTO_CONSTRAINTS_FAILURE": "algorithm or key size does not meet the rules",
    "CRYPTO_CONSTRAINTS_FAILURE_NO_POE": "algorithm or key size does not meet the rules",
    "CHAIN_CONSTRAINTS_FAILURE": "the certificate chain violates constraints",
    "CERTIFICATE_CHAIN_GENERAL_FAILURE": "the certificate chain could not be checked",
    "SIG_CONSTRAINTS_FAILURE": "the signature violates constraints",
}


#: Vietnamese for the phrases of the warnings the validator writes, applied in order (the
#: technical detail stays as written: names, times, library messages).
_WARNING_VI = (
    ("time-stamp not used as proof of the signing time: ",
     "dấu thời gian không được dùng làm bằng chứng thời điểm ký: "),
    ("check visually: page ", "cần xem lại bằng mắt: trang "),
    (" annotation added after signing covers signed text: ",
     " (chú thích thêm sau khi ký) che phần chữ đã ký: "),
    (": a ", ": chú thích "),
    ("algorithm below Circular 15/2025 requirements: ",
     "thuật toán không đáp ứng Thông tư 15/2025: "),
    ("revocation status could not be established (Circular 15/2025 warning): ",
     "không xác định được tình trạng thu hồi (cảnh báo theo Thông tư 15/2025): "),
    ("revocation status was not checked (checking switched off)",
     "không kiểm tra tình trạng thu hồi (đã tắt kiểm tra)"),
    ("document time-stamp ", "dấu thời gian tài liệu "),
    ("time-stamp token does not verify: ", "dấu thời gian không kiểm tra được: "),
)


def warning_vi(text: str) -> str:
    """A validator warning in Vietnamese (its known phrases translated)."""
    for en, vi in _WARNING_VI:
        text = text.replace(en, vi, 1)
    return text


def _t(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(VN).strftime("%H:%M:%S %d/%m/%Y (UTC+7)")


def summarise(sig: SignatureReport) -> tuple[str, str]:
    verdict_vi, verdict_en = _VERDICT[sig.indication]
    sub = str(sig.sub_indication) if sig.sub_indication else ""
    forbidden = [c for c in sig.changes if not c.allowed]
    if sub == "FORMAT_FAILURE" and forbidden and not sig.facts.format_problems:
        verdict_vi += ": tài liệu bị sửa đổi không được phép sau khi ký"
        verdict_en += ": the document was modified in a forbidden way after signing"
    elif sub:
        verdict_vi += f": {_SUB_VI.get(sub, sub)}"
        verdict_en += f": {_SUB_EN.get(sub, sub)}"
    signer = sig.signer
    name = signer.name if signer and signer.name else "không rõ"
    name_en = signer.name if signer and signer.name else "unknown"
    org = f" ({signer.agency})" if signer and signer.agency else ""
    ids = ", ".join(f"{k}: {v}" for k, v in (signer.ids.items() if signer else []))
    ids = f" [{ids}]" if ids else ""
    validity_vi = validity_en = "—"
    if signer and signer.not_before and signer.not_after:
        validity_vi = f"từ {_t(signer.not_before)} đến {_t(signer.not_after)}"
        validity_en = f"from {_t(signer.not_before)} to {_t(signer.not_after)}"
    allowed = [c for c in sig.changes if c.allowed]
    integ_vi = "toàn vẹn" if sig.intact else "KHÔNG toàn vẹn (nội dung đã ký bị thay đổi)"
    integ_en = "intact" if sig.intact else "NOT intact (signed bytes changed)"
    if sig.intact and forbidden:
        integ_vi = "dữ liệu ký toàn vẹn nhưng tài liệu bị sửa sau khi ký: " + "; ".join(
            c.description_vi for c in forbidden
        )
        integ_en = "signed bytes intact but the document was modified after signing: " + "; ".join(
            c.description_en for c in forbidden
        )
    elif allowed:
        integ_vi += "; thay đổi được phép sau khi ký: " + "; ".join(
            c.description_vi for c in allowed
        )
        integ_en += "; allowed changes after signing: " + "; ".join(
            c.description_en for c in allowed
        )
    ts_vi = f"; dấu thời gian: {_t(sig.timestamp_time)}" if sig.timestamp_time else ""
    ts_en = f"; time-stamp: {_t(sig.timestamp_time)}" if sig.timestamp_time else ""
    rev = sig.revocation
    rev_vi = {
        "good": f"chưa bị thu hồi (kiểm tra qua {rev.source})",
        "revoked": f"ĐÃ BỊ THU HỒI lúc {_t(rev.revoked_at)} (theo {rev.source})",
        "unknown": "CẢNH BÁO: không kiểm tra được tình trạng thu hồi",
        "not_checked": "không kiểm tra tình trạng thu hồi",
    }[str(rev.status)]
    rev_en = {
        "good": f"not revoked (checked by {rev.source})",
        "revoked": f"REVOKED at {_t(rev.revoked_at)} (per {rev.source})",
        "unknown": "WARNING: revocation status could not be checked",
        "not_checked": "revocation status not checked",
    }[str(rev.status)]
    vi = (
        f"{verdict_vi}. Người ký: {name}{org}{ids}. Tổ chức cấp chứng thư: {sig.issuer or '—'}. "
        f"Thời gian ký: {_t(sig.signing_time)}{ts_vi}. Tính toàn vẹn: {integ_vi}. "
        f"Thời hạn chứng thư: {validity_vi}. Tình trạng chứng thư: {rev_vi}."
    )
    en = (
        f"{verdict_en}. Signer: {name_en}{org}{ids}. Issuing CA: {sig.issuer or '—'}. "
        f"Signing time: {_t(sig.signing_time)}{ts_en}. Integrity: {integ_en}. "
        f"Certificate validity: {validity_en}. Certificate status: {rev_en}."
    )
    if sig.warnings:
        vi += " Cảnh báo: " + "; ".join(warning_vi(w) for w in sig.warnings) + "."
        en += " Warnings: " + "; ".join(sig.warnings) + "."
    return vi, en
