"""``edoc pki``: create and serve the development PKI (root, sub-CA, signers, TSA, OCSP, CRL).

Thin wrapper over :mod:`signing.devpki`; it only parses options and prints. Errors are shown in
Vietnamese with the English text in parentheses, and exit with status 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from signing import devpki

app = typer.Typer(
    help="PKI phát triển: CA gốc, CA cấp dưới, chứng thư cán bộ, con dấu, TSA, OCSP, CRL "
    "(development PKI; never trusted in production).",
    no_args_is_help=True,
)

_DIR = typer.Option(Path("certs-dev"), "--dir", help="Thư mục PKI (PKI directory).")


def _fail(exc: devpki.DevPkiError) -> None:
    typer.echo(f"Lỗi: {exc.message_vi}\n  ({exc.message_en})", err=True)
    raise typer.Exit(1)


@app.command("init")
def init(
    directory: Path = _DIR,
    port: int = typer.Option(8765, help="Cổng của TSA/OCSP/CRL ghi vào chứng thư "
                                        "(port baked into the certificates)."),
    host: str = typer.Option("127.0.0.1", help="Địa chỉ dịch vụ (service host)."),
    force: bool = typer.Option(False, "--force", help="Tạo lại, xóa khóa cũ "
                                                      "(recreate, deleting old keys)."),
    config: Path | None = typer.Option(None, help="Tệp cấu hình cơ quan/cán bộ (TOML); mặc định "
                                                  "DIR/pki.toml hoặc mẫu có sẵn."),
    as_json: bool = typer.Option(False, "--json", help="In manifest.json (print the manifest)."),
) -> None:
    """Tạo PKI phát triển trong DIR (create the development PKI in DIR)."""
    try:
        manifest = devpki.create(directory, port=port, host=host, force=force, config=config)
    except devpki.DevPkiError as exc:
        _fail(exc)
        return
    if as_json:
        typer.echo(json.dumps(manifest.to_json(), ensure_ascii=False, indent=2))
        return
    table = Table(title=f"PKI phát triển / development PKI: {manifest.directory}")
    for column in ("id", "role", "agency", "name", "cert valid until"):
        table.add_column(column)
    for e in manifest.entities:
        table.add_row(e.id, e.role, e.agency_code or "", e.name,
                      e.not_after.date().isoformat() if e.not_after else "")
    Console().print(table)
    typer.echo(f"root: {manifest.root}\nTSA: {manifest.tsa_url}\nOCSP: {manifest.ocsp_url}\n"
               f"CRL: {manifest.crl_url}\nmanifest: {manifest.directory / 'manifest.json'}\n"
               f"Tiếp theo / next: edoc pki serve --dir {directory}")


@app.command("serve")
def serve(
    directory: Path = _DIR,
    host: str | None = typer.Option(None, help="Mặc định theo manifest (default from manifest)."),
    port: int | None = typer.Option(None, help="Mặc định theo manifest (default from manifest)."),
) -> None:
    """Chạy TSA (RFC 3161), OCSP và CRL qua HTTP (serve TSA, OCSP and CRLs; Ctrl-C stops)."""
    def announce(server) -> None:
        address = f"http://{server.server_address[0]}:{server.server_address[1]}"
        typer.echo(f"edoc dev PKI on {address}: TSA {manifest.tsa_url}, OCSP {manifest.ocsp_url}, "
                   f"CRL {manifest.crl_url} (Ctrl-C để dừng / to stop)")

    try:
        manifest = devpki.Manifest.load(directory)
        devpki.serve(directory, host, port, quiet=False, on_ready=announce)
    except devpki.DevPkiError as exc:
        _fail(exc)


@app.command("node")
def node(
    entity_id: str = typer.Argument(..., help="Mã thực thể mới, ví dụ node-xa-01 (new entity id)."),
    directory: Path = _DIR,
    agency: str = typer.Option("000.00.00.H41", help="Mã cơ quan vận hành nút (operating agency)."),
    name: str | None = typer.Option(None, help="Tên trong chứng thư (name in the certificate)."),
    expired: bool = typer.Option(False, "--expired", help="Đã hết hạn, để thử (already expired, "
                                                          "for tests)."),
) -> None:
    """Cấp thêm chứng thư TLS cho một nút (issue one more node TLS certificate)."""
    try:
        entity = devpki.issue_node(directory, entity_id, agency_code=agency, name=name,
                                   expired=expired)
    except devpki.DevPkiError as exc:
        _fail(exc)
        return
    from exchange_axis.transport import cert_fingerprint_file  # noqa: PLC0415

    typer.echo(f"{entity.id}: {entity.chain} (key {entity.key}), serial {entity.serial}, "
               f"valid until {entity.not_after:%Y-%m-%d}\n"
               f"fingerprint (cho [[peers]] / for [[peers]]): {cert_fingerprint_file(entity.cert)}")


@app.command("revoke")
def revoke(
    entity_id: str = typer.Argument(..., help="Mã thực thể (entity id, see manifest.json)."),
    directory: Path = _DIR,
) -> None:
    """Thu hồi chứng thư của một thực thể: CRL ký lại, OCSP báo thu hồi (revoke a certificate:
    the CRL is re-signed and OCSP answers revoked; running nodes refuse it at their next CRL
    refresh)."""
    try:
        devpki.revoke(directory, entity_id)
        manifest = devpki.Manifest.load(directory)
    except devpki.DevPkiError as exc:
        _fail(exc)
        return
    except KeyError as exc:  # no such entity: the manifest's message lists the known ones
        typer.echo(f"Lỗi: {exc.args[0]}", err=True)
        raise typer.Exit(1) from None
    entity = manifest.entity(entity_id)
    typer.echo(f"{entity_id}: serial {entity.serial} revoked at {entity.revoked_at:%Y-%m-%d %H:%M} "
               f"UTC; CRL {manifest.authority('subca').crl}")


@app.command("csc")
def csc(
    directory: Path = _DIR,
    host: str = typer.Option("127.0.0.1", help="Địa chỉ lắng nghe (listen address)."),
    port: int = typer.Option(8766, help="Cổng (port)."),
    token: str | None = typer.Option(
        None, "--token", envvar="EDOC_CSC_TOKEN",
        help="Mã truy cập API; mặc định sinh ngẫu nhiên (API access token; random by default)."),
) -> None:
    """Dịch vụ ký số từ xa CSC v2 thử nghiệm với các khóa của PKI phát triển
    (development CSC v2 remote signing service over the dev PKI's keys; Ctrl-C stops)."""
    import secrets

    import uvicorn

    from signing.csc.service import create_app, state_from_manifest

    try:
        manifest = devpki.Manifest.load(directory)
    except devpki.DevPkiError as exc:
        _fail(exc)
        return
    api_token = token or secrets.token_urlsafe(18)
    state = state_from_manifest(manifest, api_token)
    typer.echo(f"edoc dev CSC on http://{host}:{port}/csc/v2 — token {api_token}; credentials: "
               f"{', '.join(state.credentials)} (PIN: the .p12 password in manifest.json; "
               "development only / chỉ dùng thử nghiệm)")
    typer.echo(f"edoc sign FILE.pdf --csc http://{host}:{port} --csc-token {api_token} "
               "--credential official-h41 --pin PIN --as personal --image …")
    uvicorn.run(create_app(state), host=host, port=port, log_level="warning")
