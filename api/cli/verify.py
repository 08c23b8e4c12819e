"""``edoc verify FILE``: validate the signatures of a PDF (or a .p7s with --content).

Exit status: 0 every signature TOTAL_PASSED, 1 any TOTAL_FAILED, 2 INDETERMINATE, 3 the file could
not be read at all. In development mode (``EDOC_MODE=development``) the development root in
``EDOC_PKI_DIR`` is trusted by default; production trusts only ``--trust``/``EDOC_TRUST`` dirs.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import typer

from api.settings import get_settings
from signing.trust import TrustStore, TrustStoreError
from signing.validation import verify_cms, verify_pdf
from signing.validation.html import render_html
from signing.validation.report import Indication

EXIT = {Indication.TOTAL_PASSED: 0, Indication.TOTAL_FAILED: 1, Indication.INDETERMINATE: 2}


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
        _print_text(report)
    raise typer.Exit(3 if unreadable else EXIT[report.indication])


def _print_text(report) -> None:
    typer.echo(
        f"{report.indication}{' / ' + str(report.sub_indication) if report.sub_indication else ''}"
    )
    typer.echo(report.summary_vi)
    typer.echo(f"({report.summary_en})")
    for err in report.errors:
        typer.echo(f"  ! {err}")
    for s in report.signatures:
        typer.echo(
            f"- [{s.field}] {s.indication}"
            f"{' / ' + str(s.sub_indication) if s.sub_indication else ''}"
        )
        typer.echo(f"  {s.summary_vi}")
        typer.echo(f"  ({s.summary_en})")
    d30 = getattr(report, "decree30", None)
    if d30 is not None and d30.applicable:
        typer.echo(f"Nghị định 30: {d30.message_vi} ({d30.message_en})")
