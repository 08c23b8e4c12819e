"""What every e-office request works with: the node (database, store, routing, outbox), the
office settings, the password hasher and the audit trail, behind one small object.

The app keeps one ``Office`` in ``app.state.office``; routes receive it through ``office()``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from fastapi import Request
from sqlalchemy.orm import Session

from api.office.settings import OfficeSettings
from edoc.document import VIETNAM
from storage.accounts import Principal
from storage.audit import AuditLog

#: argon2id with the library's defaults (RFC 9106 "second recommended" profile).
HASHER = PasswordHasher()
#: verified against when the username is unknown, so both cases cost the same time
_DUMMY_HASH = HASHER.hash("edoc: no such user")


def hash_password(password: str) -> str:
    if len(password) < 8:
        raise ValueError("mật khẩu cần ít nhất 8 ký tự (a password needs at least 8 characters)")
    return HASHER.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return HASHER.verify(stored or _DUMMY_HASH, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def vn_date(value: dt.datetime | None) -> str | None:
    """A due date as people read it: the calendar day in Vietnam (stored as 23:59 +07:00)."""
    return value.astimezone(VIETNAM).date().isoformat() if value else None


def actor(who: Principal) -> str:
    """How the audit log names a person: ``user:<username>@<agency code>``."""
    return f"user:{who.username}@{who.agency_code}"


@dataclass
class Office:
    node: Any  # exchange_axis.node.Node
    settings: OfficeSettings
    started: dt.datetime = field(default_factory=lambda: dt.datetime.now(VIETNAM))
    metrics: Any = None  # api.office.metrics.Metrics
    principals: Any = None  # api.office.auth.PrincipalCache (None: every request asks the db)

    @property
    def store(self) -> Any:
        return self.node.store

    def now(self) -> dt.datetime:
        return dt.datetime.now(VIETNAM)

    def session(self) -> Session:
        return self.node.state.session()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One transaction (committed on success): every write of a step with its audit.
        Sessions checked before it may be stale now (logout, disabling…): forget them."""
        with self.session() as s, s.begin():
            yield s
        if self.principals is not None:
            self.principals.clear()

    @staticmethod
    def audit(s: Session, who: Principal | str, action: str, subject: str,
              details: dict[str, Any] | None = None) -> None:
        AuditLog(s).append(who if isinstance(who, str) else actor(who), action, subject,
                           details or {})


async def office(request: Request) -> Office:
    """The app's ``Office`` (async: a dependency FastAPI need not run in a thread)."""
    return request.app.state.office
