"""A self-contained HTML page of a validation report: for clerks; no scripts, no external assets."""

from __future__ import annotations

from html import escape
from typing import Any

from signing.validation.report import Indication, PdfReport

_COLOURS = {
    Indication.TOTAL_PASSED: "#1b7f3b",
    Indication.TOTAL_FAILED: "#b3261e",
    Indication.INDETERMINATE: "#b36b00",
}


def render_html(report: PdfReport, *, title: str = "Kết quả kiểm tra chữ ký số") -> str:
    return render_report_dict(report.to_dict(), title=title)


def _colour(indication: str | None) -> str:
    try:
        return _COLOURS[Indication(indication)]
    except ValueError:
        return _COLOURS[Indication.INDETERMINATE]


def render_report_dict(report: dict[str, Any], *,
                       title: str = "Kết quả kiểm tra chữ ký số") -> str:
    """The page from a report's JSON form (``PdfReport.to_dict()``): the one renderer, so a
    report kept as JSON (the e-office keeps each arrival's) shows exactly like a fresh one."""
    e = escape
    rows = []
    for s in report.get("signatures", []):
        signer = s.get("signer") or {}
        changes = (
            "".join(
                f"<li class='{'ok' if c.get('allowed') else 'bad'}'>"
                f"{e(str(c.get('description_vi', '')))} "
                f"<small>({e(str(c.get('description_en', '')))})</small></li>"
                for c in s.get("changes", [])
            )
            or "<li>Không có (none)</li>"
        )
        warnings = "".join(f"<li>{e(str(w))}</li>" for w in s.get("warnings", []))
        ids = ", ".join(f"{k}: {v}" for k, v in (signer.get("ids") or {}).items())
        revocation = s.get("revocation") or {}
        rows.append(f"""
<section style="border-left:6px solid {_colour(s.get("indication"))};padding:0 1em;margin:1em 0">
  <h2>{e(s.get("field") or "—")}: {e(str(s.get("indication")))}
      {e(str(s.get("sub_indication") or ""))}</h2>
  <p>{e(str(s.get("summary_vi", "")))}</p>
  <p lang="en"><i>{e(str(s.get("summary_en", "")))}</i></p>
  <table>
    <tr><th>Người ký (signer)</th><td>{e(signer.get("name") or "—")}</td></tr>
    <tr><th>Cơ quan (agency)</th><td>{e(signer.get("agency") or "—")}</td></tr>
    <tr><th>Định danh (ids)</th><td>{e(ids)}</td></tr>
    <tr><th>Tổ chức cấp (issuer)</th><td>{e(str(s.get("issuer") or "—"))}</td></tr>
    <tr><th>Thời gian ký (signing time)</th><td>{e(str(s.get("signing_time") or "—"))}</td></tr>
    <tr><th>Dấu thời gian (time-stamp)</th><td>{e(str(s.get("timestamp_time") or "—"))}</td></tr>
    <tr><th>Mức (level)</th><td>{e(str(s.get("level")))}</td></tr>
    <tr><th>Toàn vẹn (intact)</th><td>{"có (yes)" if s.get("intact") else "KHÔNG (no)"}</td></tr>
    <tr><th>Phạm vi (coverage)</th><td>{e(str(s.get("coverage")))}</td></tr>
    <tr><th>Thu hồi (revocation)</th><td>{e(str(revocation.get("status")))}
        {e(str(revocation.get("source") or ""))}</td></tr>
  </table>
  <h3>Thay đổi sau khi ký (changes after signing)</h3><ul>{changes}</ul>
  {f"<h3>Cảnh báo (warnings)</h3><ul>{warnings}</ul>" if warnings else ""}
</section>""")
    d30 = report.get("decree30")
    d30_html = (
        f"<p><b>Nghị định 30/2020:</b> {e(str(d30.get('message_vi')))} "
        f"<i>({e(str(d30.get('message_en')))})</i></p>"
        if d30
        else ""
    )
    errors = "".join(f"<li>{e(str(x))}</li>" for x in report.get("errors", []))
    return f"""<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>{e(title)}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:auto}}th{{text-align:left;padding-right:1em}}
li.bad{{color:#b3261e}} li.ok{{color:#1b7f3b}}</style></head>
<body>
<h1 style="color:{_colour(report.get("indication"))}">{e(str(report.get("summary_vi", "")))}</h1>
<p lang="en">{e(str(report.get("summary_en", "")))} — {e(str(report.get("indication")))}</p>
<p>SHA-256: <code>{e(str(report.get("sha256")))}</code>, {int(report.get("size") or 0)} bytes,
   kiểm tra lúc (validated at) {e(str(report.get("validation_time")))}</p>
{d30_html}
{f"<ul>{errors}</ul>" if errors else ""}
{"".join(rows)}
</body></html>
"""
