"""``edoc audit``: verify the hash-chained audit log and anchor its head with a TSA time-stamp.

Storage keeps the chain and takes the time-stamping as a callable; this module wires the real
TSA (RFC 3161 over HTTP, through pyHanko) and checks the tokens: the message imprint must be the
SHA-256 of the head hash, and, when trust roots are known (the dev PKI root in development, the
trust store otherwise), the TSA's signature must validate.
"""

from __future__ import annotations

from pathlib import Path

import typer

from api.cli.store import fail
from api.settings import Settings, get_settings
from edoc.errors import EdocError
from signing.tsa import timestamper, token_verifier
from storage.db import Database, require_head

app = typer.Typer(
    help="Nhật ký kiểm toán chuỗi băm: kiểm tra, đóng dấu thời gian đầu chuỗi "
    "(hash-chained audit log: verify, time-stamp the head).",
    no_args_is_help=True,
)

_DB = typer.Option(None, "--db", help="URL SQLAlchemy, mặc định EDOC_DB (database URL).")


def tsa_url(settings: Settings) -> str:
    if settings.tsa_url:
        return settings.tsa_url
    from signing.devpki import Manifest

    return Manifest.load(settings.pki_dir).tsa_url


def _roots(settings: Settings) -> list[Path]:
    roots: list[Path] = []
    if settings.development:
        try:
            from signing.devpki import Manifest

            roots.append(Path(Manifest.load(settings.pki_dir).root))
        except Exception:  # noqa: BLE001 - no dev PKI: imprint check only
            pass
    for directory in settings.trust:
        roots.extend(sorted(Path(directory).glob("*.pem")) + sorted(Path(directory).glob("*.crt")))
    return roots


@app.command("verify")
def verify(db: str | None = _DB) -> None:
    """Kiểm tra chuỗi băm và các mốc thời gian; chỉ ra bản ghi hỏng đầu tiên
    (verify the chain and anchors; name the first bad entry)."""
    settings = get_settings()
    url = db or settings.database_url()
    try:
        require_head(url)
    except EdocError as exc:
        fail(exc)
    database = Database(url)
    try:
        with database.uow() as uow:
            report = uow.audit.verify(token_verifier=token_verifier(_roots(settings)))
    except EdocError as exc:
        fail(exc)
        return
    finally:
        database.dispose()
    if report.ok:
        typer.echo(f"{report.summary('vi')} ({report.summary('en')})")
        return
    typer.echo(f"Lỗi: {report.reason_vi}\n  ({report.reason_en})", err=True)
    typer.echo(f"first_bad={report.first_bad}")
    raise typer.Exit(1)


@app.command("anchor")
def anchor(
    db: str | None = _DB,
    tsa: str | None = typer.Option(None, "--tsa", help="URL TSA (RFC 3161), mặc định EDOC_TSA_URL"),
) -> None:
    """Đóng dấu thời gian đầu chuỗi qua TSA (time-stamp the chain head through the TSA)."""
    settings = get_settings()
    url = db or settings.database_url()
    try:
        require_head(url)
    except EdocError as exc:
        fail(exc)
    database = Database(url)
    try:
        with database.uow() as uow:
            a = uow.audit.anchor(timestamper(tsa or tsa_url(settings)))
            uow.commit()
    except EdocError as exc:
        fail(exc)
        return
    finally:
        database.dispose()
    typer.echo(f"Đã đóng dấu bản ghi {a.seq} ({a.head_hash}) (anchored entry {a.seq})")
