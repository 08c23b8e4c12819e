"""Schema changes through Alembic only: ``upgrade(url)``, ``downgrade(url)``, ``current(url)``.

The Alembic scripts live inside the package (``storage/migrations``), so an installed edoc can
migrate its database with ``edoc db upgrade`` and no alembic.ini.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from storage.db.engine import make_engine, normalise_url

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["url"] = normalise_url(url)  # not via set_main_option: '%' in passwords
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (creates the schema on an empty one)."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "-1") -> None:
    """Step the schema back (default: one revision)."""
    command.downgrade(alembic_config(url), revision)


def current(url: str) -> str | None:
    """The revision the database is at (None for an empty database)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def head() -> str:
    """The newest revision shipped with this edoc."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def require_head(url: str) -> None:
    """Refuse to work on a database whose schema is not at this edoc's revision."""
    from storage.errors import StoreConfigError

    try:
        rev = current(url)
    except Exception as exc:  # noqa: BLE001 - unreachable or not a database: say so plainly
        raise StoreConfigError(
            f"Không mở được cơ sở dữ liệu: {exc.__class__.__name__}; kiểm tra EDOC_DB",
            f"cannot open the database ({exc}); check EDOC_DB",
        ) from exc
    if rev != head():
        raise StoreConfigError(
            f"Lược đồ cơ sở dữ liệu ở phiên bản {rev or '(trống)'}, cần {head()}: "
            "chạy `edoc db upgrade`",
            f"the database schema is at {rev or '(empty)'}, {head()} is needed: "
            "run `edoc db upgrade`",
        )
