"""``edoc verify FILE``: validate the signatures of a PDF (or a .p7s with --content).

Exit status: 0 every signature TOTAL_PASSED, 1 any TOTAL_FAILED, 2 INDETERMINATE, 3 the file could
not be read at all. In development mode (``EDOC_MODE=development``) the development root in
``EDOC_PKI_DIR`` is trusted by default; production trusts only ``--trust``/``EDOC_TRUST`` dirs.

Without ``--json`` it prints one block per signature (verdict first, then the signer, the signing
time in Vietnam time and where it comes from, the changes made after signing, warnings and
errors) and an overall verdict, in Vietnamese or, with ``--lang en``, in English.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

import typer

from api.settings import get_settings
from signing.trust import TrustStore, TrustStoreError
from signing.validation import verify_cms, verify_pdf
from signing.validation.html import render_html
from signing.validation.report import Indication, SignatureReport
from signing.validation.summary import warning_vi

EXIT = {Indication.TOTAL_PASSED: 0, Indication.TOTAL_FAILED: 1, Indication.INDETERMINATE: 2}


class Lang(StrEnum):
    VI = "vi"
    EN = "en"


def build_trust(dirs: list[Path], *, development: bool, pki_dir: Path | None) -> TrustStore:
    """The configured trust store; in development also the dev PKI's root and sub-CA if present."""
    paths = list(dirs)
    if development and pki_dir is not None and (pki_dir / "manifest.json").exists():
        from signing.devpki import Manifest

        manifest = Manifest.load(pki_dir)
        paths += [manifest.root, *manifest.intermediates]
    return TrustStore.from_dirs(paths, development=development)


def _parse_at(value: str | None) -> datetime | None:
    if not value:
        return None
    at = datetime.fromisoformat(value)
    if at.tzinfo is None:
        raise typer.BadParameter(
            "--at cần múi giờ, ví dụ 2025-07-01T09:00:00+07:00 (--at needs a time zone offset)"
        )
    return at.astimezone(UTC)


def verify(
    file: Path = typer.Argument(..., help="Tệp PDF hoặc .p7s (PDF or .p7s file)."),
    trust: list[Path] = typer.Option(
        [], "--trust", help="Thư mục chứng thư gốc tin cậy (trusted roots directory), repeatable."
    ),
    at: str | None = typer.Option(
        None, "--at", help="Thời điểm kiểm tra ISO 8601 (validation time)."
    ),
    as_json: bool = typer.Option(False, "--json", help="In JSON (print JSON)."),
    html: Path | None = typer.Option(None, "--html", help="Ghi báo cáo HTML (write HTML report)."),
    content: Path | None = typer.Option(
        None,
        "--content",
        help="Nội dung đã ký cho .p7s tách rời (signed content of a detached .p7s).",
    ),
    revocation: str = typer.Option("online", "--revocation", help="online | offline | off"),
    lang: Lang | None = typer.Option(
        None, "--lang", help="Ngôn ngữ thông báo: vi | en (language; default EDOC_LANG or vi)."
    ),
) -> None:
    """Kiểm tra chữ ký số của FILE (verify the signatures in FILE)."""
    settings = get_settings()
    try:
        data = file.read_bytes()
    except OSError as exc:
        typer.echo(
            f"Lỗi: không đọc được tệp {file} ({exc.strerror})\n  (error: cannot read {file})",
            err=True,
        )
        raise typer.Exit(3) from None
    try:
        store = build_trust(
            list(trust) or list(settings.trust),
            development=settings.development,
            pki_dir=settings.pki_dir,
        )
        moment = _parse_at(at)
    except (TrustStoreError, ValueError) as exc:
        typer.echo(f"Lỗi cấu hình: {exc}", err=True)
        raise typer.Exit(3) from None
    is_cms = content is not None or file.suffix.lower() in (".p7s", ".p7m", ".p7b")
    if is_cms:
        report = verify_cms(
            data,
            content.read_bytes() if content else None,
            trust=store,
            at=moment,
            revocation=revocation,
        )
        unreadable = not report.signatures
    else:
        report = verify_pdf(data, trust=store, at=moment, revocation=revocation)
        unreadable = not report.signatures and report.indication is Indication.TOTAL_FAILED
    if html is not None and not is_cms:
        html.write_text(render_html(report), encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        language = lang or (Lang.EN if settings.lang == "en" else Lang.VI)
        pki = settings.pki_dir if settings.development else None
        typer.echo(render_text(report, language, pki_dir=pki), nl=False)
    raise typer.Exit(3 if unreadable else EXIT[report.indication])


# --- the human-readable report ---------------------------------------------------------------

_LABELS = {
    Lang.VI: {
        "signature": "Chữ ký",
        "field": "trường",
        "verdict": "Kết quả",
        "signer": "Người ký",
        "subject": "Chứng thư cấp cho",
        "ids": "Định danh",
        "issuer": "Tổ chức cấp",
        "validity": "Hiệu lực chứng thư",
        "time": "Thời điểm ký",
        "level": "Mức chữ ký",
        "revocation": "Tình trạng thu hồi",
        "changes": "Thay đổi sau khi ký",
        "warnings": "Cảnh báo",
        "errors": "Lỗi",
        "overall": "Kết luận",
        "decree30": "Nghị định 30",
        "hint": "Gợi ý",
        "none": "không có",
        "unknown": "không rõ",
        "no_signature": "Không tìm thấy chữ ký nào.",
    },
    Lang.EN: {
        "signature": "Signature",
        "field": "field",
        "verdict": "Verdict",
        "signer": "Signer",
        "subject": "Certificate subject",
        "ids": "Identifiers",
        "issuer": "Issuing CA",
        "validity": "Certificate validity",
        "time": "Signing time",
        "level": "Level",
        "revocation": "Revocation status",
        "changes": "Changes after signing",
        "warnings": "Warnings",
        "errors": "Errors",
        "overall": "Overall",
        "decree30": "Decree 30",
        "hint": "Hint",
        "none": "none",
        "unknown": "unknown",
        "no_signature": "No signature found.",
    },
}

# which of the validator's warnings say the time-stamp proves nothing
_TS_REFUSED = ("time-stamp not used as proof", "time-stamp token does not verify")
_URL = re.compile(r"https?://[^\s;,()]+")


def _first_sentence(text: str) -> str:
    """The verdict phrase the summary opens with (``"Chữ ký hợp lệ. Người ký: …"``)."""
    return text.split(". ", 1)[0].rstrip(".").strip()


def _vn_time(value: datetime, lang: Lang) -> str:
    from edoc.document import VIETNAM  # noqa: PLC0415

    local = value.astimezone(VIETNAM)
    offset = local.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    tz = f"{'+' if minutes >= 0 else '-'}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    if lang is Lang.VI:
        return f"{local:%H:%M:%S %d/%m/%Y} ({tz})"
    return f"{local:%Y-%m-%d %H:%M:%S} {tz}"


def _verdict(ind: Indication, sub, summary: str) -> str:
    code = f"{ind}{' / ' + str(sub) if sub else ''}"
    phrase = _first_sentence(summary)
    return f"{code} — {phrase}" if phrase else code


def _signing_time(s: SignatureReport, lang: Lang) -> str:
    vi = lang is Lang.VI
    refused = any(w.startswith(_TS_REFUSED) for w in s.warnings)
    if s.timestamp_time is not None and not refused:
        when = _vn_time(s.timestamp_time, lang)
        return when + (", theo dấu thời gian (RFC 3161)" if vi
                       else ", from a time-stamp (RFC 3161)")
    if s.signing_time is not None:
        when = _vn_time(s.signing_time, lang)
        if s.timestamp_time is not None:
            return when + (", do máy người ký tự ghi; dấu thời gian không được chấp nhận "
                           "làm bằng chứng (xem cảnh báo)" if vi else
                           ", as claimed by the signer's computer; the time-stamp is not "
                           "accepted as proof (see warnings)")
        return when + (", do máy người ký tự ghi, không có dấu thời gian" if vi
                       else ", as claimed by the signer's computer, no time-stamp")
    return _LABELS[lang]["unknown"]


def _revocation(s: SignatureReport, lang: Lang) -> str | None:
    rev = s.revocation
    if rev is None or s.signer is None:
        return None
    vi = lang is Lang.VI
    source = rev.source or ""
    if vi:
        source = {"embedded OCSP": "OCSP nhúng trong tài liệu",
                  "embedded CRL": "CRL nhúng trong tài liệu"}.get(source, source)
    status = str(rev.status)
    if status == "good":
        return (f"chưa bị thu hồi (theo {source})" if vi else f"not revoked (per {source})")
    if status == "revoked":
        at = _vn_time(rev.revoked_at, lang) if rev.revoked_at else "—"
        return (f"ĐÃ BỊ THU HỒI lúc {at} (theo {source})" if vi
                else f"REVOKED at {at} (per {source})")
    if status == "unknown":
        return ("không xác định được" if vi else "could not be established")
    return ("không kiểm tra" if vi else "not checked")


def _signature_block(i: int, n: int, s: SignatureReport, lang: Lang, *, is_pdf: bool) -> list[str]:
    L = _LABELS[lang]  # noqa: N806
    vi = lang is Lang.VI
    head = f"{L['signature']} {i}/{n}"
    if s.field:
        head += f" ({L['field']} {s.field})"
    rows: list[tuple[str, str]] = [
        (L["verdict"], _verdict(s.indication, s.sub_indication,
                                s.summary_vi if vi else s.summary_en)),
    ]
    p = s.signer
    if p is not None:
        name = p.name or L["unknown"]
        same = p.agency is None or p.agency.casefold() == name.casefold()
        rows.append((L["signer"], name if same else f"{name} — {p.agency}"))
        if p.subject:
            rows.append((L["subject"], p.subject))
        if p.ids:
            rows.append((L["ids"], ", ".join(f"{k}: {v}" for k, v in p.ids.items())))
    else:
        rows.append((L["signer"], L["unknown"]))
    if s.issuer:
        rows.append((L["issuer"], s.issuer))
    if p is not None and p.not_before and p.not_after:
        a, b = _vn_time(p.not_before, lang), _vn_time(p.not_after, lang)
        rows.append((L["validity"], f"từ {a} đến {b}" if vi else f"from {a} to {b}"))
    rows.append((L["time"], _signing_time(s, lang)))
    if str(s.level) != "UNKNOWN":
        rows.append((L["level"], str(s.level)))
    rev = _revocation(s, lang)
    if rev:
        rows.append((L["revocation"], rev))
    labels = [label for label, _ in rows] + ([L["changes"]] if is_pdf else [])
    width = max(len(label) for label in labels) + 2
    lines = [head] + [f"  {label + ':':<{width}}{value}" for label, value in rows]

    def section(label: str, items: list[str]) -> None:
        lines.append(f"  {label}:")
        lines.extend(f"    - {item}" for item in items)

    if s.changes:
        allowed = ("được phép", "KHÔNG được phép") if vi else ("allowed", "NOT allowed")
        section(L["changes"], [
            f"[{allowed[0] if c.allowed else allowed[1]}] "
            + (c.description_vi if vi else c.description_en)
            for c in s.changes
        ])
    elif is_pdf:
        lines.append(f"  {L['changes'] + ':':<{width}}{L['none']}")
    if s.warnings:
        section(L["warnings"], [warning_vi(w) if vi else w for w in s.warnings])
    if s.errors:
        section(L["errors"], list(s.errors))
    return lines


def _unreachable(report) -> list[str]:
    """URLs of revocation services that did not answer, for signatures left TRY_LATER."""
    urls: list[str] = []
    for s in report.signatures:
        if str(s.sub_indication) != "TRY_LATER":
            continue
        for text in [*s.warnings, *(s.revocation.details if s.revocation else [])]:
            for url in _URL.findall(text):
                url = url.rstrip(":.")
                if url not in urls:
                    urls.append(url)
    return urls


def _dev_pki_url(pki_dir: Path | None) -> str | None:
    if pki_dir is None or not (pki_dir / "manifest.json").exists():
        return None
    from signing.devpki import DevPkiError, Manifest  # noqa: PLC0415

    try:
        return Manifest.load(pki_dir).base_url
    except (DevPkiError, OSError, ValueError, KeyError):
        return None


def _hint(report, lang: Lang, pki_dir: Path | None) -> str | None:
    urls = _unreachable(report)
    if not urls:
        return None
    vi = lang is Lang.VI
    listed = ", ".join(urls)
    base = _dev_pki_url(pki_dir)
    if base and any(u.startswith(base + "/") or u == base for u in urls):
        if vi:
            return (f"không liên lạc được dịch vụ kiểm tra thu hồi {listed} của PKI phát triển "
                    f"({pki_dir}); hãy chạy `edoc pki serve --dir {pki_dir}` rồi kiểm tra lại "
                    "(văn bản ký ở mức B-LT/B-LTA mang sẵn dữ liệu thu hồi, không cần dịch vụ "
                    "này).")
        return (f"the revocation services {listed} of the development PKI ({pki_dir}) did not "
                f"answer; run `edoc pki serve --dir {pki_dir}` and verify again (documents "
                "signed at B-LT/B-LTA carry their revocation data and need no service).")
    if vi:
        return (f"không liên lạc được dịch vụ kiểm tra thu hồi {listed}; kiểm tra kết nối mạng "
                "rồi kiểm tra lại.")
    return f"the revocation services {listed} did not answer; check the network and try again."


def render_text(report, lang: Lang = Lang.VI, *, pki_dir: Path | None = None) -> str:
    """The report for a person: one block per signature, then the overall verdict."""
    L = _LABELS[lang]  # noqa: N806
    vi = lang is Lang.VI
    is_pdf = hasattr(report, "decree30")
    lines: list[str] = []
    n = len(report.signatures)
    for i, s in enumerate(report.signatures, 1):
        lines += _signature_block(i, n, s, lang, is_pdf=is_pdf)
        lines.append("")
    if not n:
        lines.append(L["no_signature"])
    for err in report.errors:
        lines.append(f"{L['errors']}: {err}")
    lines.append(f"{L['overall']}: " + _verdict(report.indication, report.sub_indication,
                                                  report.summary_vi if vi else report.summary_en))
    d30 = getattr(report, "decree30", None)
    if d30 is not None and d30.applicable:
        lines.append(f"{L['decree30']}: {d30.message_vi if vi else d30.message_en}")
    hint = _hint(report, lang, pki_dir)
    if hint:
        lines.append(f"{L['hint']}: {hint}")
    return "\n".join(lines) + "\n"
