"""``edoc edxml``: read, write, answer and verify edXML (QCVN 102) packages.

``parse`` prints the model (``--json``) and writes attachments out (``--extract``); ``build``
makes a package from the same JSON plus files (and signs it); ``status`` answers a document
package with a status package; ``verify`` reports the envelope signature; ``validate`` checks
the project's XSD. Any refusal exits non-zero with the element path and the reason in
Vietnamese and English; outputs are written whole or not at all.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import typer

from edoc import edxml
from edoc.document import DocumentPackage, Organization, ResponseFor, StaffInfo, now_vietnam
from edoc.edxml.jsonmodel import from_json, to_json
from edoc.errors import EdocError
from edoc.status import Role, StatusCode, StatusError, StatusMessage
from signing.errors import SigningError

app = typer.Typer(help="Gói tin edXML QCVN 102 (edXML packages).", no_args_is_help=True,
                  pretty_exceptions_enable=False)


def _fail(vi: str, en: str, path: str | None = None, code: int = 2) -> typer.Exit:
    where = f" [{path}]" if path else ""
    typer.echo(f"Lỗi: {vi}{where}\nError: {en}{where}", err=True)
    return typer.Exit(code)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise _fail(f"không đọc được tệp {path}: {exc.strerror}",
                    f"cannot read {path}: {exc.strerror}") from None


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _load(path: Path, *, strict: bool = False, repair: bool = False):
    data = _read(path)
    if repair:
        data, notes = edxml.repair(data)
        for note in notes:
            typer.echo(f"Đã sửa (repaired): {note}", err=True)
    try:
        return edxml.parse(data, strict=strict)
    except edxml.EdxmlError as exc:
        where = exc.path or (f"line {exc.line}, column {exc.column}" if exc.line else None)
        raise _fail(exc.message_vi, exc.message_en, where) from None


def _safe_name(name: str) -> str:
    base = Path(name.replace("\\", "/")).name
    if base in ("", ".", "..") or base.startswith("."):
        raise _fail(f"tên tệp đính kèm không an toàn {name!r}",
                    f"unsafe attachment name {name!r}")
    return base


@app.command("parse")
def parse_cmd(
    file: Path = typer.Argument(..., help="Tệp .edxml"),
    as_json: bool = typer.Option(False, "--json", help="In mô hình dạng JSON (print JSON)."),
    extract: Path | None = typer.Option(None, "--extract", help="Ghi tệp đính kèm vào thư mục "
                                        "(write attachments to DIR)."),
    strict: bool = typer.Option(False, "--strict", help="Từ chối mọi sai lệch (refuse any "
                                "deviation, validate the XSD)."),
    repair: bool = typer.Option(False, "--repair", help="Bỏ byte lạ trước khai báo XML "
                                "(strip stray leading bytes)."),
) -> None:
    """Đọc gói tin edXML (read an edXML package)."""
    package = _load(file, strict=strict, repair=repair)
    if extract is not None and isinstance(package, DocumentPackage):
        names = [_safe_name(a.name) for a in package.attachments]
        if len(set(names)) != len(names):
            raise _fail("trùng tên tệp đính kèm", "duplicate attachment names")
        written: list[Path] = []
        try:
            for name, attachment in zip(names, package.attachments, strict=True):
                _write_atomic(extract / name, attachment.data)
                written.append(extract / name)
        except OSError as exc:
            for path in written:  # all or nothing
                path.unlink(missing_ok=True)
            raise _fail(f"không ghi được tệp đính kèm: {exc.strerror}",
                        f"cannot write attachments: {exc.strerror}", str(extract)) from None
    if as_json:
        typer.echo(json.dumps(to_json(package), ensure_ascii=False, indent=2))
        return
    if isinstance(package, DocumentPackage):
        doc = package.document
        typer.echo(f"Gói văn bản (document) {doc.code or ''} — {doc.subject}")
        typer.echo(f"  Từ (from): {doc.sender.organ_id} {doc.sender.name or ''}")
        for recipient in doc.recipients:
            typer.echo(f"  Đến (to): {recipient.organ_id} {recipient.name or ''}")
        for attachment in package.attachments:
            typer.echo(f"  Đính kèm (attachment): {attachment.name} ({len(attachment.data)} B)")
    else:
        typer.echo(f"Gói trạng thái (status) {package.code.value} {package.code.meaning_vi} "
                   f"từ {package.sender.organ_id} cho {package.response_for.code}")
    for deviation in package.deviations:
        typer.echo(f"  Sai lệch (deviation): {deviation}")
    if package.signature is not None:
        typer.echo(f"  Chữ ký phong bì (envelope signature): {package.signature.form} "
                   f"{package.signature.signature_method}")


@app.command("build")
def build_cmd(
    meta: Path = typer.Argument(..., help="META.json (như `edxml parse --json`)"),
    attach: list[Path] = typer.Option([], "--attach", help="Tệp đính kèm (attachment), "
                                      "repeatable."),
    out: Path = typer.Option(..., "-o", "--out", help="Tệp .edxml ra (output file)."),
    sign: bool = typer.Option(False, "--sign", help="Ký phong bì (sign the envelope)."),
    p12: Path | None = typer.Option(None, "--p12", help="Tệp PKCS#12 của người ký."),
    password: str | None = typer.Option(None, "--password", envvar="EDOC_P12_PASSWORD",
                                        help="Mật khẩu PKCS#12."),
    form: str = typer.Option("sdk", "--form", help="sdk | xmldsig"),
) -> None:
    """Tạo gói văn bản từ JSON và tệp (build a package from JSON and files)."""
    try:
        data = json.loads(_read(meta))
    except ValueError as exc:
        raise _fail(f"META.json không phải JSON hợp lệ: {exc}", f"META.json is not JSON: {exc}",
                    str(meta)) from None
    files = {}
    for path in attach:
        files[path.name] = _read(path)
    try:
        package = from_json(data, files)
        result = edxml.build(package)
    except edxml.EdxmlError as exc:
        raise _fail(exc.message_vi, exc.message_en, exc.path) from None
    if sign:
        result = _sign(result, p12, password, form)
    _write_atomic(out, result)
    typer.echo(f"Đã ghi (written) {out} ({len(result)} B)")


def _sign(data: bytes, p12: Path | None, password: str | None, form: str) -> bytes:
    from signing.signers.pkcs12 import Pkcs12Signer
    from signing.xmlsig import sign_envelope

    if p12 is None:
        raise _fail("--sign cần --p12", "--sign needs --p12")
    try:
        signer = Pkcs12Signer.load(p12, password)
        return sign_envelope(data, signer, form=form)
    except SigningError as exc:
        raise _fail(exc.message_vi, exc.message_en) from None


@app.command("status")
def status_cmd(
    for_doc: Path = typer.Option(..., "--for", help="Gói văn bản được trả lời (DOC.edxml)."),
    code: str = typer.Option(..., "--code", help="01–06, 13, 15, 16"),
    reason: str | None = typer.Option(None, "--reason", help="Lý do / mô tả (description)."),
    as_organ: str | None = typer.Option(None, "--as", help="Mã cơ quan gửi trạng thái "
                                        "(default: first recipient; the sender for 13)."),
    staff: str | None = typer.Option(None, "--staff", help="Cán bộ xử lý (staff name)."),
    out: Path = typer.Option(..., "-o", "--out", help="Tệp .edxml ra (output file)."),
) -> None:
    """Tạo gói trạng thái trả lời một văn bản (answer a document with a status)."""
    package = _load(for_doc)
    if not isinstance(package, DocumentPackage):
        raise _fail("--for phải là gói văn bản, không phải gói trạng thái",
                    "--for must be a document package, not a status package", str(for_doc))
    try:
        status_code = StatusCode.parse(code)
    except StatusError as exc:
        raise _fail(exc.message_vi, exc.message_en) from None
    if status_code is StatusCode.REJECTED and not reason:
        raise _fail("từ chối (02) cần --reason", "a rejection (02) needs --reason")
    doc = package.document
    sender = _status_sender(doc, status_code, as_organ)
    response = ResponseFor(
        organ_id=doc.sender.organ_id,
        code=str(doc.code) if doc.code else None,
        promulgation_date=doc.promulgation_date,
        document_id=doc.document_id,
    )
    message = StatusMessage(sender=sender, response_for=response, code=status_code,
                            timestamp=now_vietnam(),
                            description=reason or status_code.meaning_vi,
                            staff=StaffInfo(staff=staff) if staff else None)
    try:
        result = edxml.build(message)
    except edxml.EdxmlError as exc:
        raise _fail(exc.message_vi, exc.message_en, exc.path) from None
    _write_atomic(out, result)
    typer.echo(f"Đã ghi (written) {out}: {status_code.value} {status_code.meaning_vi}")


def _status_sender(doc, code: StatusCode, as_organ: str | None) -> Organization:
    candidates = [doc.sender] if code.sent_by is Role.SENDER else list(doc.recipients)
    if as_organ is None:
        chosen = candidates[0]
    else:
        from edoc.agency import AgencyCodeError, normalise

        try:
            wanted = normalise(as_organ)
        except AgencyCodeError as exc:
            raise _fail(exc.message_vi, exc.message_en) from None
        matches = [c for c in candidates if c.organ_id == wanted]
        if not matches:
            who = "bên gửi" if code.sent_by is Role.SENDER else "bên nhận"
            raise _fail(f"{wanted} không phải {who} của văn bản cho mã {code.value}",
                        f"{wanted} is not the document's {code.sent_by.value} "
                        f"(who sends {code.value})")
        chosen = matches[0]
    return Organization(organ_id=chosen.organ_id, name=chosen.name,
                        organization_in_charge=chosen.organization_in_charge,
                        address=chosen.address, email=chosen.email,
                        telephone=chosen.telephone, fax=chosen.fax, website=chosen.website)


@app.command("verify")
def verify_cmd(
    file: Path = typer.Argument(..., help="Tệp .edxml"),
    trust: list[Path] = typer.Option([], "--trust", help="Thư mục/tệp chứng thư gốc tin cậy."),
    development: bool = typer.Option(False, "--development", help="Chấp nhận gốc phát triển "
                                     "(accept development roots)."),
    as_json: bool = typer.Option(False, "--json", help="In JSON."),
) -> None:
    """Kiểm tra chữ ký phong bì (verify the envelope signature). Exit 0 valid, 1 not valid or
    absent, 2 unreadable."""
    from signing.trust import TrustStore, TrustStoreError
    from signing.xmlsig import verify_envelope

    data = _read(file)
    store = None
    if trust:
        try:
            store = TrustStore.from_dirs(trust, development=development)
        except TrustStoreError as exc:
            raise _fail(exc.message_vi, exc.message_en) from None
    report = verify_envelope(data, trust=store)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
        typer.echo(report.summary_vi)
        typer.echo(report.summary_en)
        if report.certificate_subject or report.subject_name:
            typer.echo(f"  Chứng thư (certificate): "
                       f"{report.certificate_subject or report.subject_name}")
    if not report.found and report.reasons_en:
        raise typer.Exit(2)
    raise typer.Exit(0 if report.valid else 1)


@app.command("validate")
def validate_cmd(file: Path = typer.Argument(..., help="Tệp .edxml")) -> None:
    """Kiểm tra theo lược đồ XSD của dự án (validate against the project's XSD)."""
    try:
        findings = edxml.validate(_read(file))
    except EdocError as exc:
        raise _fail(exc.message_vi, exc.message_en, getattr(exc, "path", None)) from None
    for finding in findings:
        typer.echo(str(finding))
    if findings:
        raise typer.Exit(1)
    typer.echo("Hợp lệ theo XSD (valid against the XSD)")
