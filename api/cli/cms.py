"""``edoc cms sign IN OUT.p7s [--attached]``: CMS/PKCS#7 signature over any file (docx, xlsx,
zip, edXML), verifiable with ``openssl cms -verify -binary``.

The input is read as raw bytes (no line-ending conversion). Output appears only when complete.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import typer

from api.cli.sign import _fail, close_signer, open_signer
from signing.errors import InputError, SigningError

app = typer.Typer(
    help="Chữ ký CMS/PKCS#7 cho mọi loại tệp (CMS signatures for any file).",
    no_args_is_help=True,
)


@app.command("sign")
def sign(
    input: Path = typer.Argument(..., help="Tệp cần ký (file to sign)."),
    output: Path = typer.Argument(..., help="Chữ ký .p7s (tách rời) hoặc .p7m (kèm nội dung)."),
    attached: bool = typer.Option(False, "--attached", help="Kèm nội dung trong chữ ký."),
    p12: Path | None = typer.Option(None, "--p12", help="Tệp PKCS#12 (.p12/.pfx)."),
    password: str | None = typer.Option(None, "--password", envvar="EDOC_P12_PASSWORD"),
    pkcs11_lib: Path | None = typer.Option(None, "--pkcs11-lib"),
    token: str | None = typer.Option(None, "--token"),
    pin: str | None = typer.Option(None, "--pin", envvar="EDOC_PIN"),
    key_label: str | None = typer.Option(None, "--key-label"),
    tsa: str | None = typer.Option(None, "--tsa", help="URL TSA: thêm dấu thời gian chữ ký."),
    md: str = typer.Option("sha256", "--md", help="sha256 | sha384 | sha512"),
    pss: bool = typer.Option(False, "--pss"),
    no_revocation_check: bool = typer.Option(False, "--no-revocation-check"),
    as_json: bool = typer.Option(False, "--json", help="In kết quả JSON (print JSON)."),
) -> None:
    """Ký CMS tệp IN, ghi chữ ký vào OUT (CMS-sign IN into OUT)."""
    from signing.cms import sign_cms

    signer = None
    try:
        if not input.is_file():
            raise InputError(f"Không đọc được tệp {input}.", f"cannot read {input}",
                             code="input_missing")
        signer = open_signer(p12, password, pkcs11_lib, token, pin, key_label, pss)
        with input.open("rb") as fin:
            der = sign_cms(fin, signer, attached=attached, tsa_url=tsa, md=md,
                           check_revocation=not no_revocation_check)
        fd, tmp = tempfile.mkstemp(prefix=".edoc-", suffix=".part", dir=output.parent or ".")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(der)
            os.replace(tmp, output)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except SigningError as exc:
        _fail(exc, as_json)
        return
    finally:
        close_signer(signer)
    done = {"ok": True, "input": str(input), "output": str(output), "attached": attached,
            "md": md, "timestamp": bool(tsa), "signer": signer.subject_name, "bytes": len(der)}
    if as_json:
        typer.echo(json.dumps(done, ensure_ascii=False))
    else:
        typer.echo(f"Đã ký / signed: {output} ({'attached' if attached else 'detached'}, "
                   f"{signer.subject_name})")
