"""Accounts of the caller's agency (operators), and the agency directory (everyone)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field, field_validator
from sqlalchemy import select

from api.office.auth import require
from api.office.authz import Action, parse_roles
from api.office.context import Office, hash_password, office
from api.office.errors import RowId, not_found
from storage.accounts import Accounts, Principal
from storage.db import models as m

router = APIRouter(prefix="/api/v1", tags=["accounts"])


class NewUser(BaseModel):
    username: str = Field(min_length=2, max_length=100, pattern=r"^[A-Za-z0-9._@-]+$")
    full_name: str = Field(min_length=1, max_length=200)
    roles: list[str] = Field(min_length=1, max_length=5)
    password: str = Field(min_length=8, max_length=1000)
    position: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=200)

    @field_validator("roles")
    @classmethod
    def _roles(cls, value: list[str]) -> list[str]:
        return parse_roles(value)


class Reset(BaseModel):
    password: str = Field(min_length=8, max_length=1000)


def user_row(u: m.User, code: str) -> dict[str, Any]:
    return {"id": u.id, "username": u.username, "full_name": u.full_name,
            "position": u.position, "email": u.email, "roles": list(u.roles or []),
            "agency": code, "disabled": u.disabled, "created_at": u.created_at.isoformat(),
            "sso": u.oidc_subject is not None}


def _own(accounts: Accounts, who: Principal, user_id: int) -> m.User:
    user = accounts.get(user_id)
    if user is None or user.agency_id != who.agency_id:
        raise not_found(f"người dùng {user_id}", f"user {user_id}")
    return user


@router.get("/users", summary="Người dùng của cơ quan (the agency's accounts)")
def list_users(who: Principal = Depends(require(Action.USER_MANAGE)),
               ctx: Office = Depends(office)) -> list[dict[str, Any]]:
    with ctx.session() as s:
        return [user_row(u, c) for u, c in Accounts(s).list_users(who.agency_id)]


@router.get("/colleagues", summary="Người cùng cơ quan, để giao việc (colleagues to assign to)")
def colleagues(who: Principal = Depends(require(Action.INBOX_READ)),
               ctx: Office = Depends(office)) -> list[dict[str, Any]]:
    with ctx.session() as s:
        return [{"id": u.id, "full_name": u.full_name, "position": u.position,
                 "roles": list(u.roles or [])}
                for u, _c in Accounts(s).list_users(who.agency_id) if not u.disabled]


@router.post("/users", summary="Tạo người dùng (create an account in my agency)")
def add_user(body: NewUser, who: Principal = Depends(require(Action.USER_MANAGE)),
             ctx: Office = Depends(office)) -> dict[str, Any]:
    with ctx.transaction() as s:
        user = Accounts(s).add_user(agency_code=who.agency_code, username=body.username,
                                    full_name=body.full_name, roles=body.roles,
                                    password_hash=hash_password(body.password),
                                    position=body.position, email=body.email)
        ctx.audit(s, who, "user_added", f"user:{user.username}", {"roles": user.roles})
        return user_row(user, who.agency_code)


@router.post("/users/{user_id}/disable", summary="Khóa tài khoản (disable; ends its sessions)")
def disable(user_id: RowId, who: Principal = Depends(require(Action.USER_MANAGE)),
            ctx: Office = Depends(office)) -> dict[str, Any]:
    with ctx.transaction() as s:
        accounts = Accounts(s)
        user = _own(accounts, who, user_id)
        accounts.disable(user)
        ctx.audit(s, who, "user_disabled", f"user:{user.username}")
        return user_row(user, who.agency_code)


@router.post("/users/{user_id}/reset", summary="Đặt lại mật khẩu (reset; ends its sessions)")
def reset(user_id: RowId, body: Reset, who: Principal = Depends(require(Action.USER_MANAGE)),
          ctx: Office = Depends(office)) -> dict[str, Any]:
    with ctx.transaction() as s:
        accounts = Accounts(s)
        user = _own(accounts, who, user_id)
        accounts.set_password(user, hash_password(body.password))
        ctx.audit(s, who, "password_reset", f"user:{user.username}")
        return user_row(user, who.agency_code)


@router.get("/agencies", summary="Danh bạ cơ quan để chọn nơi nhận (the agency directory)")
def agencies(q: str | None = Query(None, max_length=200),
             limit: int = Query(50, ge=1, le=500),
             who: Principal = Depends(require(Action.DIRECTORY_READ)),
             ctx: Office = Depends(office)) -> list[dict[str, Any]]:
    stmt = select(m.Agency.code, m.Agency.name)
    if q:
        like = f"%{q.strip()}%"
        stmt = stmt.where(m.Agency.code.ilike(like) | m.Agency.name.ilike(like))
    with ctx.session() as s:
        rows = s.execute(stmt.order_by(m.Agency.code).limit(limit)).all()
    hosted = ctx.node.hosted
    return [{"code": c, "name": n, "hosted_here": c in hosted} for c, n in rows]
