"""Engines for the two supported databases, tuned for correctness under concurrency.

SQLite (embedded default): WAL journal, foreign keys on, a busy timeout, and every transaction
opened with ``BEGIN IMMEDIATE``. Why IMMEDIATE: a deferred SQLite transaction that reads and then
writes can fail at once with "database is locked" when another writer got in between (the busy
timeout does not apply to the lock upgrade); taking the write lock at BEGIN makes concurrent
writers queue instead, which is what the registers and the outbox need.

PostgreSQL (deployment): psycopg 3, pre-ping, a pool sized for a few workers; row locks
(``FOR UPDATE [SKIP LOCKED]``, ``ON CONFLICT ... RETURNING``) give the same guarantees.

A PostgreSQL server that goes away (crash, restart, failover) is a passing condition, not a bug:
``database_unavailable(exc)`` tells callers which errors mean "the server cannot be reached right
now" so they answer "try again later" (HTTP 503) or back off, instead of failing for good. The
pool needs nothing more: a connection that broke is invalidated with the rest of the pool, and
pre-ping replaces the stale ones once the server is back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from storage.errors import StoreConfigError

#: execution option of the engine ``Database.reader`` hands out (SQLite: a deferred BEGIN)
READ_ONLY = "edoc_read_only"

#: SQLSTATEs of a PostgreSQL server going away or not back yet: 57P01 admin_shutdown (a fast
#: shutdown or restart), 57P02 crash_shutdown (another backend crashed), 57P03
#: cannot_connect_now (starting up, in crash recovery); class 08 is "connection exception"
UNAVAILABLE_STATES = frozenset({"57P01", "57P02", "57P03"})


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


#: page cache per SQLite connection (KiB) and how much of the file is read through mmap
SQLITE_CACHE_KIB = 16 * 1024
SQLITE_MMAP_BYTES = 256 * 1024 * 1024


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=FULL")
        # a hub's arrival touches ~70 B-tree pages of tables and indexes that outgrow the
        # default 2 MB page cache within minutes: each miss was a pread. Pages are kept
        # longer, and read through a memory map where they are not (no system call)
        cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cur.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        # a reader (``Database.reader``) never writes: a plain BEGIN reads the last committed
        # snapshot (WAL) without queueing behind the writers
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database server cannot be reached right now (down, restarting,
    in recovery, or it dropped our connection), so the same work may succeed later.

    PostgreSQL only: psycopg reports a refused or broken connection as an OperationalError
    with no SQLSTATE (nothing came from the server) or a class-08 / 57P0x one; SQLAlchemy also
    flags errors that invalidated the connection. SQLite's errors (a file, not a server) are
    not classified here. Deadlocks and serialisation failures (40P01/40001) are not "down":
    their callers run the transaction again."""
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, OperationalError | InterfaceError):
        return False
    orig = exc.orig
    if not hasattr(orig, "sqlstate"):  # not psycopg (SQLite)
        return False
    state = orig.sqlstate
    return state is None or state.startswith("08") or state in UNAVAILABLE_STATES


#: what a user or a peer is told while the database cannot be reached (HTTP 503, Retry-After)
UNAVAILABLE_MESSAGE = ("Cơ sở dữ liệu tạm thời không truy cập được; chưa có gì được ghi, hãy thử "
                       "lại sau ít phút",
                       "the database is unavailable for now; nothing was recorded: retry in a "
                       "few minutes")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (the callers return them)."""
    return sessionmaker(engine, expire_on_commit=False)


def is_postgres(bind: Any) -> bool:
    """Whether an Engine, a Connection or a Session works on PostgreSQL."""
    return dialect_name(bind) == "postgresql"


def dialect_name(bind: Any) -> str:
    """The database kind behind a Session or a Connection (Core statements on a hot path run
    on the session's Connection: half the per-statement cost of ``Session.execute``)."""
    dialect = getattr(bind, "dialect", None)
    return (dialect or bind.get_bind().dialect).name


def upsert_insert(dialect: str):
    """The dialect's ``insert`` that has ON CONFLICT (PostgreSQL, else SQLite), for statements
    built once per dialect and reused on the hot paths (inbox claims, register counters)."""
    from sqlalchemy.dialects import postgresql, sqlite  # noqa: PLC0415

    return postgresql.insert if dialect == "postgresql" else sqlite.insert
