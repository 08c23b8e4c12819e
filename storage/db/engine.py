"""Engines for the two supported databases, tuned for correctness under concurrency.

SQLite (embedded default): WAL journal, foreign keys on, a busy timeout, and every transaction
opened with ``BEGIN IMMEDIATE``. Why IMMEDIATE: a deferred SQLite transaction that reads and then
writes can fail at once with "database is locked" when another writer got in between (the busy
timeout does not apply to the lock upgrade); taking the write lock at BEGIN makes concurrent
writers queue instead, which is what the registers and the outbox need.

PostgreSQL (deployment): psycopg 3, pre-ping, a pool sized for a few workers; row locks
(``FOR UPDATE [SKIP LOCKED]``, ``ON CONFLICT ... RETURNING``) give the same guarantees.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from storage.errors import StoreConfigError

#: execution option of the engine ``Database.reader`` hands out (SQLite: a deferred BEGIN)
READ_ONLY = "edoc_read_only"


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and use the psycopg 3 driver for them."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> Engine:
    """An engine for ``url`` (``sqlite:///path`` or ``postgresql+psycopg://...``)."""
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except Exception as exc:  # noqa: BLE001 - any parse failure is a configuration error
        raise StoreConfigError(
            f"EDOC_DB không hợp lệ: {url!r}", f"invalid EDOC_DB: {url!r} ({exc})"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, connect_args={"timeout": 30})
        _tune_sqlite(engine)
        return engine
    if backend == "postgresql":
        return create_engine(
            url, echo=echo, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size
        )
    raise StoreConfigError(
        f"Cơ sở dữ liệu {backend} không được hỗ trợ; dùng SQLite hoặc PostgreSQL",
        f"database {backend} is not supported; use SQLite or PostgreSQL",
    )


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=FULL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        # a reader (``Database.reader``) never writes: a plain BEGIN reads the last committed
        # snapshot (WAL) without queueing behind the writers
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (the callers return them)."""
    return sessionmaker(engine, expire_on_commit=False)


def is_postgres(bind) -> bool:
    return bind.dialect.name == "postgresql"
