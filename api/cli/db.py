"""``edoc db``: bring the SQL schema (``EDOC_DB``) to the version this edoc ships (Alembic)."""

from __future__ import annotations

import typer

from api.cli.store import fail
from api.settings import get_settings
from edoc.errors import EdocError
from storage import db as storage_db

app = typer.Typer(
    help="Cơ sở dữ liệu: nâng cấp lược đồ bằng Alembic (database schema migrations).",
    no_args_is_help=True,
)

_DB = typer.Option(None, "--db", help="URL SQLAlchemy, mặc định EDOC_DB (database URL).")


def _url(url: str | None) -> str:
    return url or get_settings().database_url()


@app.command("upgrade")
def upgrade(revision: str = typer.Argument("head"), db: str | None = _DB) -> None:
    """Nâng cấp lược đồ lên REVISION (mặc định head) (upgrade the schema)."""
    url = _url(db)
    try:
        storage_db.upgrade(url, revision)
        typer.echo(f"Lược đồ ở phiên bản {storage_db.current(url)} (schema at revision)")
    except EdocError as exc:
        fail(exc)


@app.command("downgrade")
def downgrade(revision: str = typer.Argument("-1"), db: str | None = _DB) -> None:
    """Hạ lược đồ về REVISION (mặc định lùi một bước) (downgrade the schema)."""
    url = _url(db)
    try:
        storage_db.downgrade(url, revision)
        typer.echo(f"Lược đồ ở phiên bản {storage_db.current(url)} (schema at revision)")
    except EdocError as exc:
        fail(exc)


@app.command("current")
def current(db: str | None = _DB) -> None:
    """In phiên bản lược đồ hiện tại (print the current revision)."""
    try:
        typer.echo(storage_db.current(_url(db)) or "(trống / empty)")
    except EdocError as exc:
        fail(exc)
