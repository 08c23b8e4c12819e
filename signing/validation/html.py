"""A self-contained HTML page of a validation report: for clerks; no scripts, no external assets."""

from __future__ import annotations

from html import escape

from signing.validation.report import Indication, PdfReport

_COLOURS = {
    Indication.TOTAL_PASSED: "#1b7f3b",
    Indication.TOTAL_FAILED: "#b3261e",
    Indication.INDETERMINATE: "#b36b00",
}


def render_html(report: PdfReport, *, title: str = "Kết quả kiểm tra chữ ký số") -> str:
    e = escape
    rows = []
    for s in report.signatures:
        signer = s.signer
        changes = (
            "".join(
                f"<li class='{'ok' if c.allowed else 'bad'}'>{e(c.description_vi)} "
                f"<small>({e(c.description_en)})</small></li>"
                for c in s.changes
            )
            or "<li>Không có (none)</li>"
        )
        warnings = "".join(f"<li>{e(w)}</li>" for w in s.warnings)
        rows.append(f"""
<section style="border-left:6px solid {_COLOURS[s.indication]};padding:0 1em;margin:1em 0">
  <h2>{e(s.field or "—")}: {e(str(s.indication))}
      {e(str(s.sub_indication) if s.sub_indication else "")}</h2>
  <p>{e(s.summary_vi)}</p>
  <p lang="en"><i>{e(s.summary_en)}</i></p>
  <table>
    <tr><th>Người ký (signer)</th><td>{e(signer.name or "—") if signer else "—"}</td></tr>
    <tr><th>Cơ quan (agency)</th><td>{e((signer.agency or "—") if signer else "—")}</td></tr>
    <tr><th>Định danh (ids)</th><td>{
            e(", ".join(f"{k}: {v}" for k, v in signer.ids.items()) if signer else "")
        }</td></tr>
    <tr><th>Tổ chức cấp (issuer)</th><td>{e(s.issuer or "—")}</td></tr>
    <tr><th>Thời gian ký (signing time)</th><td>{e(str(s.signing_time or "—"))}</td></tr>
    <tr><th>Dấu thời gian (time-stamp)</th><td>{e(str(s.timestamp_time or "—"))}</td></tr>
    <tr><th>Mức (level)</th><td>{e(str(s.level))}</td></tr>
    <tr><th>Toàn vẹn (intact)</th><td>{"có (yes)" if s.intact else "KHÔNG (no)"}</td></tr>
    <tr><th>Phạm vi (coverage)</th><td>{e(s.facts.coverage)}</td></tr>
    <tr><th>Thu hồi (revocation)</th><td>{e(str(s.revocation.status))}
        {e(s.revocation.source or "")}</td></tr>
  </table>
  <h3>Thay đổi sau khi ký (changes after signing)</h3><ul>{changes}</ul>
  {f"<h3>Cảnh báo (warnings)</h3><ul>{warnings}</ul>" if warnings else ""}
</section>""")
    d30 = report.decree30
    d30_html = (
        f"<p><b>Nghị định 30/2020:</b> {e(d30.message_vi)} <i>({e(d30.message_en)})</i></p>"
        if d30
        else ""
    )
    errors = "".join(f"<li>{e(x)}</li>" for x in report.errors)
    return f"""<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>{e(title)}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:auto}}th{{text-align:left;padding-right:1em}}
li.bad{{color:#b3261e}} li.ok{{color:#1b7f3b}}</style></head>
<body>
<h1 style="color:{_COLOURS[report.indication]}">{e(report.summary_vi)}</h1>
<p lang="en">{e(report.summary_en)} — {e(str(report.indication))}</p>
<p>SHA-256: <code>{e(report.sha256)}</code>, {report.size} bytes,
   kiểm tra lúc (validated at) {e(str(report.validation_time))}</p>
{d30_html}
{f"<ul>{errors}</ul>" if errors else ""}
{"".join(rows)}
</body></html>
"""
