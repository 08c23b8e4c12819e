"""Schema changes through Alembic only: ``upgrade(url)``, ``downgrade(url)``, ``current(url)``.

The Alembic scripts live inside the package (``storage/migrations``), so an installed edoc can
migrate its database with ``edoc db upgrade`` and no alembic.ini.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import make_url, text
from sqlalchemy.exc import OperationalError

from storage.db.engine import make_engine, normalise_url

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["url"] = normalise_url(url)  # not via set_main_option: '%' in passwords
    return cfg


#: pg_advisory_lock key serialising migrations of one database (any constant; "edoc").
MIGRATION_LOCK = 0x65646F63


@contextlib.contextmanager
def _reachable(url: str) -> Iterator[None]:
    """A database that cannot be reached (server down, wrong host, password or name) is one
    clear refusal naming it (password hidden) and the driver's reason, not a traceback."""
    from storage.errors import StoreConfigError

    try:
        yield
    except OperationalError as exc:
        shown = make_url(normalise_url(url)).render_as_string(hide_password=True)
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise StoreConfigError(
            f"Không kết nối được cơ sở dữ liệu {shown}: {reason}. Kiểm tra máy chủ cơ sở dữ "
            "liệu đang chạy, địa chỉ, tên và mật khẩu trong EDOC_DB / database_url",
            f"cannot connect to the database {shown}: {reason}. Check that the database "
            "server runs and the address, name and password in EDOC_DB / database_url",
        ) from None


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (creates the schema on an empty one).
    Every node process upgrades at start-up, so the workers of one node starting together on an
    empty PostgreSQL database would race in Alembic (all but one dying on duplicate tables):
    they take turns on an advisory lock, and the later ones find the schema at head."""
    with _reachable(url), _migration_lock(url):
        command.upgrade(alembic_config(url), revision)


@contextlib.contextmanager
def _migration_lock(url: str) -> Iterator[None]:
    """Hold a PostgreSQL session advisory lock, on a connection of its own, around a migration
    (SQLite needs none: its writers are serialised by the file lock)."""
    if make_url(normalise_url(url)).get_backend_name() != "postgresql":
        yield
        return
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK})
    finally:
        engine.dispose()


def downgrade(url: str, revision: str = "-1") -> None:
    """Step the schema back (default: one revision)."""
    with _reachable(url):
        command.downgrade(alembic_config(url), revision)


def current(url: str) -> str | None:
    """The revision the database is at (None for an empty database)."""
    engine = make_engine(url)
    try:
        with _reachable(url), engine.connect() as conn:
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
