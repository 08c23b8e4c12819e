"""SQL metadata: engine, models, Alembic migrations and the ``Database`` handle.

``Database(url)`` is what callers keep: its engine, a session factory and ``uow()`` for a unit of
work. The schema is created only by ``upgrade(url)`` (Alembic).
"""

from __future__ import annotations

from storage.db.engine import (
    READ_ONLY,
    UNAVAILABLE_MESSAGE,
    database_unavailable,
    dialect_name,
    is_postgres,
    make_engine,
    normalise_url,
    session_factory,
    upsert_insert,
)
from storage.db.migrate import current, downgrade, head, require_head, upgrade

__all__ = [
    "UNAVAILABLE_MESSAGE",
    "Database",
    "current",
    "database_unavailable",
    "dialect_name",
    "downgrade",
    "head",
    "is_postgres",
    "make_engine",
    "normalise_url",
    "require_head",
    "session_factory",
    "upgrade",
    "upsert_insert",
]


class Database:
    """An engine and its session factory for one URL."""

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = normalise_url(url)
        self.engine = make_engine(self.url, pool_size=pool_size)
        self.sessions = session_factory(self.engine)
        #: for look-ups that write nothing (``reader.connect()``): the same pool, but on SQLite
        #: a deferred BEGIN, so a hub's duplicate checks do not wait for the write lock
        self.reader = self.engine.execution_options(**{READ_ONLY: True})

    @property
    def is_postgres(self) -> bool:
        return is_postgres(self.engine)

    def uow(self):
        """A new unit of work (``with db.uow() as uow: ...; uow.commit()``)."""
        from storage.uow import UnitOfWork

        return UnitOfWork(self.sessions)

    def dispose(self) -> None:
        self.engine.dispose()
