"""People, sessions and login throttling of the e-office application, inside the caller's session.

Why here (storage) and not in the web layer: the CLI (``edoc user``), the HTTP app and every worker
process share these rows, and the throttle must hold across workers, so it lives in SQL next to the
documents it protects. Nothing here knows HTTP; passwords arrive already hashed (``api.office``
owns the argon2 parameters).

Tokens are random (256 bits) and only their SHA-256 is stored: a stolen database copy opens no
session, and a lookup is one indexed equality.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from storage.db.models import Agency, LoginThrottle, User, UserSession, utcnow
from storage.errors import StorageError


class AccountError(StorageError):
    """An account operation refused (unknown agency or user, duplicate username)."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Principal:
    """Who is calling: the user, the agency they act for, and the session that proves it."""

    user_id: int
    username: str
    full_name: str
    position: str | None
    agency_id: int
    agency_code: str
    agency_name: str
    roles: frozenset[str]
    session_id: int
    session_kind: str  # cookie | bearer
    profile: dict


@dataclass(frozen=True)
class Throttle:
    """The verdict of the throttle for one login attempt."""

    allowed: bool
    retry_after_s: int = 0


class Accounts:
    """Repository of users, sessions and the login throttle (one SQLAlchemy session)."""

    def __init__(self, session: Session) -> None:
        self.s = session

    # -- users ---------------------------------------------------------------------------------
    def agency(self, code: str) -> Agency:
        agency = self.s.execute(select(Agency).where(Agency.code == code)).scalar()
        if agency is None:
            raise AccountError(f"Cơ quan {code} không thuộc nút này",
                               f"agency {code} is not hosted at this node")
        return agency

    def add_user(self, *, agency_code: str, username: str, full_name: str, roles: list[str],
                 password_hash: str | None, position: str | None = None,
                 email: str | None = None, oidc_subject: str | None = None,
                 profile: dict | None = None) -> User:
        agency = self.agency(agency_code)
        if self.by_username(username) is not None:
            raise AccountError(f"Tên đăng nhập {username} đã có",
                               f"username {username} already exists")
        user = User(agency_id=agency.id, username=username, full_name=full_name,
                    roles=sorted(set(roles)), password_hash=password_hash, position=position,
                    email=email, oidc_subject=oidc_subject, disabled=False,
                    profile=profile or {},
                    password_changed_at=utcnow() if password_hash else None)
        self.s.add(user)
        self.s.flush()
        return user

    def by_username(self, username: str) -> User | None:
        return self.s.execute(select(User).where(User.username == username)).scalar()

    def by_subject(self, subject: str) -> User | None:
        return self.s.execute(select(User).where(User.oidc_subject == subject)).scalar()

    def get(self, user_id: int) -> User | None:
        return self.s.get(User, user_id)

    def require(self, username: str) -> User:
        user = self.by_username(username)
        if user is None:
            raise AccountError(f"Không có người dùng {username}", f"no user {username}")
        return user

    def list_users(self, agency_id: int | None = None) -> list[tuple[User, str]]:
        stmt = select(User, Agency.code).join(Agency, Agency.id == User.agency_id)
        if agency_id is not None:
            stmt = stmt.where(User.agency_id == agency_id)
        return [(u, code) for u, code in self.s.execute(stmt.order_by(User.id)).all()]

    def set_password(self, user: User, password_hash: str) -> None:
        """A new password ends every session the user had (a reset after a leak must)."""
        user.password_hash = password_hash
        user.password_changed_at = utcnow()
        self.revoke_all(user.id)

    def disable(self, user: User) -> None:
        user.disabled = True
        self.revoke_all(user.id)

    def revoke_all(self, user_id: int) -> None:
        now = utcnow()
        for sess in self.s.execute(select(UserSession).where(
                UserSession.user_id == user_id, UserSession.revoked_at.is_(None))).scalars():
            sess.revoked_at = now

    # -- sessions --------------------------------------------------------------------------------
    def open_session(self, user: User, kind: str, ttl: dt.timedelta,
                     label: str | None = None) -> tuple[str, UserSession]:
        """A new session; the token is returned once and only its hash is kept."""
        token = secrets.token_urlsafe(32)
        now = utcnow()
        row = UserSession(token_hash=token_hash(token), user_id=user.id, kind=kind, label=label,
                          created_at=now, expires_at=now + ttl, last_seen_at=now)
        self.s.add(row)
        self.s.flush()
        return token, row

    def principal(self, token: str, kind: str | None, *, idle: dt.timedelta | None
                  ) -> tuple[Principal | None, str]:
        """The principal behind ``token``, or (None, why): ``unknown``, ``expired``,
        ``revoked``, ``disabled``. ``idle``: a cookie session unused that long has expired."""
        found = self.s.execute(
            select(UserSession, User, Agency)
            .join(User, User.id == UserSession.user_id)
            .join(Agency, Agency.id == User.agency_id)
            .where(UserSession.token_hash == token_hash(token))).first()
        if found is None:
            return None, "unknown"
        sess, user, agency = found
        if kind is not None and sess.kind != kind:
            return None, "unknown"
        now = utcnow()
        if sess.revoked_at is not None:
            return None, "revoked"
        if user.disabled:
            return None, "disabled"
        if sess.expires_at <= now or (idle is not None and sess.last_seen_at + idle <= now):
            return None, "expired"
        if (now - sess.last_seen_at).total_seconds() > 60:  # one write a minute at most
            sess.last_seen_at = now
        return Principal(user.id, user.username, user.full_name, user.position, agency.id,
                         agency.code, agency.name, frozenset(user.roles or ()), sess.id,
                         sess.kind, dict(user.profile or {})), "ok"

    def close_session(self, session_id: int) -> None:
        sess = self.s.get(UserSession, session_id)
        if sess is not None and sess.revoked_at is None:
            sess.revoked_at = utcnow()

    def purge_expired(self, before: dt.datetime) -> int:
        result = self.s.execute(delete(UserSession).where(UserSession.expires_at < before))
        return result.rowcount or 0

    # -- throttle --------------------------------------------------------------------------------
    def throttle_check(self, keys: list[tuple[str, int]], window: dt.timedelta) -> Throttle:
        """Whether a login may be tried now: each (key, limit) locked after ``limit`` failures
        inside ``window``."""
        now = utcnow()
        wait = 0
        for key, _limit in keys:
            row = self.s.get(LoginThrottle, key)
            if row is not None and row.locked_until is not None and row.locked_until > now:
                wait = max(wait, int((row.locked_until - now).total_seconds()) + 1)
        return Throttle(wait == 0, wait)

    def throttle_fail(self, keys: list[tuple[str, int]], window: dt.timedelta,
                      lock: dt.timedelta) -> None:
        """Count one failure per key; a key over its limit is locked for ``lock`` (doubled at
        each further failure, at most a day)."""
        now = utcnow()
        for key, limit in keys:
            row = self.s.get(LoginThrottle, key, with_for_update=True)
            if row is None:
                row = LoginThrottle(key=key, failures=0, first_failure_at=now)
                self.s.add(row)
            elif row.first_failure_at + window <= now and (
                    row.locked_until is None or row.locked_until <= now):
                row.failures, row.first_failure_at = 0, now
            row.failures += 1
            if row.failures >= limit:
                extra = min(lock * (2 ** (row.failures - limit)), dt.timedelta(days=1))
                row.locked_until = now + extra
        self.s.flush()

    def throttle_clear(self, key: str) -> None:
        self.s.execute(delete(LoginThrottle).where(LoginThrottle.key == key))
