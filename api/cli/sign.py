"""``edoc sign``: Decree 30 signatures on PDFs (personal, agency seal, attachment, copy), one file
or a whole directory (``--batch DIR --out DIR``).

Thin wrapper over :mod:`signing`: it parses options, opens the key (PKCS#12 file or PKCS#11
token) and prints what was done. Errors are shown in Vietnamese with English in parentheses;
exit status 1 on any error (for a batch: if any file failed; the others are still signed).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from signing.errors import SigningError

AS_CHOICES = ("personal", "agency", "attachment", "copy")


def _fail(exc: SigningError, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({"ok": False, "error": exc.to_dict()}, ensure_ascii=False))
    else:
        typer.echo(f"Lỗi: {exc.message_vi}\n  ({exc.message_en})", err=True)
    raise typer.Exit(1)


def _usage(vi: str, en: str) -> SigningError:
    return SigningError(vi, en, code="usage")


def build_appearance(
    kind: str,
    signer,
    *,
    image: Path | None,
    field: str | None,
    box: str | None,
    signer_name: str | None,
    number: str | None,
    issue_date: str | None,
    copy_form: str | None,
    agency_name: str | None,
    seal_diameter: float,
):
    """Map CLI options to one of the four appearances (shared by single and batch modes)."""
    from signing.appearances import (
        AttachmentAppearance,
        Box,
        CopyAppearance,
        PersonalAppearance,
        SealAppearance,
    )

    if kind not in AS_CHOICES:
        raise _usage(
            f"--as phải là một trong {', '.join(AS_CHOICES)}.",
            f"--as must be one of {', '.join(AS_CHOICES)}",
        )
    parsed_box = Box.parse(box) if box else None
    if kind in ("personal", "agency") and image is None:
        raise _usage(
            "Cần --image: ảnh chữ ký (cá nhân) hoặc con dấu (cơ quan), PNG nền trong suốt.",
            "--image is required: the signature (personal) or seal (agency) PNG",
        )
    if kind == "personal":
        return PersonalAppearance(image, field=field, box=parsed_box, signer_name=signer_name)
    if kind == "agency":
        try:
            date = dt.date.fromisoformat(issue_date) if issue_date else None
        except ValueError as e:
            raise _usage(
                f"--issue-date '{issue_date}' sai; dùng dạng YYYY-MM-DD, ví dụ 2026-03-05.",
                f"--issue-date '{issue_date}' is invalid; use YYYY-MM-DD, e.g. 2026-03-05",
            ) from e
        return SealAppearance(
            image, diameter_mm=seal_diameter, number=number, issue_date=date, box=parsed_box
        )
    if kind == "attachment":
        if not number:
            raise _usage(
                "Ký tệp đính kèm cần --number (số, ký hiệu của văn bản chính).",
                "signing an attachment needs --number (the main document's number/notation)",
            )
        return AttachmentAppearance(number)
    return CopyAppearance(
        copy_form or "SAO Y", agency_name or signer.subject_name or "", None
    )


def close_signer(signer) -> None:
    """Log out of a token at the end of the command (a session left open blocks the next
    login in this process)."""
    close = getattr(signer, "close", None)
    if close is not None:
        close()


def open_signer(p12, password, pkcs11_lib, token, pin, key_label, pss, csc=None,
                csc_token=None, credential=None):
    if sum(bool(x) for x in (p12, pkcs11_lib, csc)) > 1:
        raise _usage(
            "Chỉ dùng một trong --p12, --pkcs11-lib hoặc --csc.",
            "use one of --p12, --pkcs11-lib or --csc",
        )
    if csc:
        if not (csc_token and credential and pin is not None):
            raise _usage("Ký từ xa cần --csc-token, --credential và --pin.",
                         "remote signing needs --csc-token, --credential and --pin")
        from signing.csc.client import CscRemoteSigner

        return CscRemoteSigner(csc, credential, token=csc_token, pin=pin, prefer_pss=pss)
    if p12:
        from signing.signers.pkcs12 import Pkcs12Signer

        return Pkcs12Signer.load(p12, password, prefer_pss=pss)
    if pkcs11_lib:
        if not token or pin is None:
            raise _usage("Token cần --token và --pin.", "a token needs --token and --pin")
        from signing.signers.pkcs11 import Pkcs11Signer

        return Pkcs11Signer.open(pkcs11_lib, token, pin, key_label, prefer_pss=pss)
    raise _usage(
        "Cần khóa ký: --p12 TỆP --password MẬT_KHẨU, --pkcs11-lib/--token/--pin hoặc "
        "--csc/--csc-token/--credential/--pin.",
        "a signing key is needed: --p12 FILE --password P, --pkcs11-lib/--token/--pin or "
        "--csc/--csc-token/--credential/--pin",
    )


def sign(
    input: Path | None = typer.Argument(None, help="PDF cần ký (PDF to sign)."),
    output: Path | None = typer.Argument(None, help="PDF đã ký (signed PDF)."),
    p12: Path | None = typer.Option(None, "--p12", help="Tệp PKCS#12 (.p12/.pfx)."),
    password: str | None = typer.Option(
        None, "--password", envvar="EDOC_P12_PASSWORD", help="Mật khẩu PKCS#12."
    ),
    pkcs11_lib: Path | None = typer.Option(None, "--pkcs11-lib", help="Thư viện PKCS#11 (.so)."),
    token: str | None = typer.Option(None, "--token", help="Nhãn token (token label)."),
    pin: str | None = typer.Option(None, "--pin", envvar="EDOC_PIN", help="PIN của token."),
    key_label: str | None = typer.Option(None, "--key-label", help="Nhãn khóa trên token."),
    csc: str | None = typer.Option(
        None, "--csc", help="Dịch vụ ký số từ xa CSC v2 (remote signing service URL)."),
    csc_token: str | None = typer.Option(
        None, "--csc-token", envvar="EDOC_CSC_TOKEN", help="Mã truy cập dịch vụ CSC."),
    credential: str | None = typer.Option(
        None, "--credential", help="Mã khóa ký trên dịch vụ CSC (credential ID)."),
    as_: str = typer.Option(
        "personal", "--as", help="personal | agency | attachment | copy"
    ),
    image: Path | None = typer.Option(None, "--image", help="Ảnh chữ ký/con dấu PNG."),
    field: str | None = typer.Option(None, "--field", help="Trường chữ ký có sẵn."),
    box: str | None = typer.Option(None, "--box", help="x1,y1,x2,y2,trang (points)."),
    signer_name: str | None = typer.Option(
        None, "--signer-name", help="Họ tên người ký như trên văn bản."
    ),
    number: str | None = typer.Option(None, "--number", help='Số, ký hiệu, ví dụ "123/QĐ-UBND".'),
    issue_date: str | None = typer.Option(
        None, "--issue-date", help="Ngày ban hành YYYY-MM-DD (mặc định: hôm nay)."
    ),
    copy_form: str | None = typer.Option(None, "--copy-form", help="SAO Y | SAO LỤC | TRÍCH SAO"),
    agency_name: str | None = typer.Option(None, "--agency-name", help="Tên cơ quan sao."),
    seal_diameter: float = typer.Option(36.0, "--seal-diameter", help="Đường kính dấu (mm)."),
    level: str = typer.Option("B-B", "--level", help="B-B | B-T | B-LT | B-LTA"),
    tsa: str | None = typer.Option(None, "--tsa", help="URL dịch vụ dấu thời gian (TSA)."),
    md: str = typer.Option("sha256", "--md", help="sha256 | sha384 | sha512"),
    pss: bool = typer.Option(False, "--pss", help="RSA-PSS thay cho PKCS#1 v1.5."),
    batch: Path | None = typer.Option(None, "--batch", help="Ký mọi PDF trong thư mục."),
    out: Path | None = typer.Option(None, "--out", help="Thư mục kết quả của --batch."),
    workers: int | None = typer.Option(None, "--workers", help="Số tiến trình song song."),
    no_revocation_check: bool = typer.Option(
        False, "--no-revocation-check", help="Bỏ kiểm tra OCSP/CRL trước khi ký (chỉ để thử)."
    ),
    as_json: bool = typer.Option(False, "--json", help="In kết quả JSON (print JSON)."),
) -> None:
    """Ký số văn bản PDF theo Nghị định 30/2020 (sign a PDF per Decree 30/2020)."""
    signer = None
    try:
        if batch is None and (input is None or output is None):
            raise _usage(
                "Cần IN.pdf OUT.pdf, hoặc --batch THƯ_MỤC --out THƯ_MỤC.",
                "give IN.pdf OUT.pdf, or --batch DIR --out DIR",
            )
        signer = open_signer(p12, password, pkcs11_lib, token, pin, key_label, pss, csc,
                             csc_token, credential)
        appearance = build_appearance(
            as_,
            signer,
            image=image,
            field=field,
            box=box,
            signer_name=signer_name,
            number=number,
            issue_date=issue_date,
            copy_form=copy_form,
            agency_name=agency_name,
            seal_diameter=seal_diameter,
        )
        kwargs = dict(appearance=appearance, level=level, tsa_url=tsa, md=md)
        if batch is not None:
            _run_batch(batch, out, p12, password, pss, signer, workers, not no_revocation_check,
                       kwargs, as_json)
            return
        from signing.pades import sign_file

        result = sign_file(
            input, output, signer, check_revocation=not no_revocation_check, **kwargs
        )
    except SigningError as exc:
        _fail(exc, as_json)
        return
    finally:
        close_signer(signer)
    done = dict(result.to_dict(), ok=True, input=str(input), output=str(output),
                signer=signer.subject_name)
    if as_json:
        typer.echo(json.dumps(done, ensure_ascii=False))
    else:
        typer.echo(
            f"Đã ký / signed: {output} ({done['appearance']}, {done['level']}, "
            f"{done['signing_time']}, {done['signer']})"
        )


def _run_batch(batch, out, p12, password, pss, signer, workers, check_revocation, kwargs,
               as_json):
    from signing.batch import Pkcs12Source, list_pdfs, sign_batch

    if out is None:
        raise _usage("--batch cần --out THƯ_MỤC.", "--batch needs --out DIR")
    if not batch.is_dir():
        raise _usage(f"{batch} không phải thư mục.", f"{batch} is not a directory")
    if batch.resolve() == out.resolve():
        raise _usage(
            "--out phải khác --batch (giữ nguyên bản gốc).",
            "--out must differ from --batch (originals are kept)",
        )
    files = list_pdfs(batch)
    key = Pkcs12Source(str(p12), password, pss) if p12 else None
    console = Console(stderr=True)
    with Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(), console=console, disable=as_json,
    ) as progress:
        task = progress.add_task("Đang ký / signing", total=len(files))
        report = sign_batch(
            files, out, key=key, signer=None if key else signer, workers=workers,
            progress=lambda _r: progress.advance(task), check_revocation=check_revocation,
            **kwargs,
        )
    summary = report.to_dict()
    if as_json:
        typer.echo(json.dumps(summary, ensure_ascii=False))
    else:
        typer.echo(
            f"Đã ký {summary['signed']}/{summary['total']} tệp, lỗi {summary['failed']} "
            f"({summary['docs_per_s']} tệp/giây, {summary['workers']} tiến trình) / signed "
            f"{summary['signed']}/{summary['total']}, failed {summary['failed']}"
        )
        for item in report.failed:
            typer.echo(f"  ✗ {item.source}: {item.message_vi} ({item.message_en})", err=True)
    if not report.ok:
        raise typer.Exit(1)
