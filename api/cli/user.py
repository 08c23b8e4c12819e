"""``edoc user``: operators manage the people of the agencies a node hosts, and ``edoc agency``
fills the node's agency directory (recipients are chosen from it).

They work on the node's database directly (the node may be running: every change is one
transaction, audited with the operator's name from ``$USER``).
"""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from api.cli.node import fail

app = typer.Typer(help="Người dùng văn phòng điện tử (e-office accounts).", no_args_is_help=True)
agency_app = typer.Typer(help="Danh bạ cơ quan của nút (the node's agency directory).",
                         no_args_is_help=True)

_CONFIG = typer.Option(Path("node.toml"), "--config", "-c", help="Tệp cấu hình nút (node.toml).")


def _database(config: Path):
    """The node's database, migrated, with its hosted agencies as rows."""
    from exchange_axis.config import load  # noqa: PLC0415
    from exchange_axis.state import NodeState  # noqa: PLC0415

    cfg = load(config)
    return NodeState(cfg.database_url, node_name=cfg.name, hosted=cfg.hosted()).db


def _operator() -> str:
    return f"operator:{os.environ.get('USER') or getpass.getuser()}"


def _password(given: str | None) -> str:
    if given:
        return given
    if os.environ.get("EDOC_PASSWORD"):
        return os.environ["EDOC_PASSWORD"]
    first = getpass.getpass("Mật khẩu (password): ")
    if getpass.getpass("Nhập lại (again): ") != first:
        raise typer.BadParameter("hai lần nhập không khớp (the two entries differ)")
    return first


@app.command("add")
def add(username: str = typer.Argument(..., help="tên đăng nhập"),
        agency: str = typer.Option(..., "--agency", help="mã định danh cơ quan (hosted here)"),
        full_name: str = typer.Option(..., "--name", help="họ và tên"),
        roles: str = typer.Option(..., "--roles",
                                  help="leader,clerk,specialist,operator,auditor"),
        position: str | None = typer.Option(None, "--position", help="chức vụ"),
        email: str | None = typer.Option(None, "--email"),
        password: str | None = typer.Option(None, "--password",
                                            help="(or EDOC_PASSWORD, or asked)"),
        oidc_subject: str | None = typer.Option(None, "--oidc-subject",
                                                help="SSO subject; no password needed"),
        signature_image: Path | None = typer.Option(None, "--signature-image",
                                                    help="PNG of the leader's signature"),
        config: Path = _CONFIG) -> None:
    """Tạo người dùng (add a person to a hosted agency)."""
    from api.office.authz import parse_roles  # noqa: PLC0415
    from api.office.context import hash_password  # noqa: PLC0415
    from storage.accounts import Accounts  # noqa: PLC0415
    from storage.audit import AuditLog  # noqa: PLC0415

    try:
        role_list = parse_roles(roles)
        secret = None if oidc_subject and not password else hash_password(_password(password))
        db = _database(config)
        profile = {}
        if signature_image is not None:
            from exchange_axis.config import load  # noqa: PLC0415
            from storage.objects import open_store  # noqa: PLC0415

            data = signature_image.read_bytes()
            if not data.startswith(b"\x89PNG"):
                raise ValueError(f"{signature_image} không phải PNG (not a PNG)")
            profile["signature_image"] = open_store(load(config).store_url).put(data)
        with db.sessions() as s, s.begin():
            user = Accounts(s).add_user(agency_code=agency, username=username,
                                        full_name=full_name, roles=role_list,
                                        password_hash=secret, position=position, email=email,
                                        oidc_subject=oidc_subject, profile=profile)
            AuditLog(s).append(_operator(), "user_added", f"user:{username}",
                               {"roles": role_list, "agency": agency})
            uid = user.id
        db.dispose()
    except (ValueError, OSError) as exc:
        fail(exc)
        return
    except Exception as exc:  # noqa: BLE001 - bilingual errors of the layers below
        if getattr(exc, "message_vi", None):
            fail(exc)
        raise
    typer.echo(f"Đã tạo người dùng {username} (id {uid}) — user created")


@app.command("list")
def list_users(agency: str | None = typer.Option(None, "--agency"),
               as_json: bool = typer.Option(False, "--json"), config: Path = _CONFIG) -> None:
    """Danh sách người dùng (list accounts)."""
    from storage.accounts import Accounts  # noqa: PLC0415

    try:
        db = _database(config)
        with db.sessions() as s:
            accounts = Accounts(s)
            agency_id = accounts.agency(agency).id if agency else None
            rows = [{"id": u.id, "username": u.username, "full_name": u.full_name,
                     "agency": code, "roles": list(u.roles or []), "disabled": u.disabled}
                    for u, code in accounts.list_users(agency_id)]
        db.dispose()
    except Exception as exc:  # noqa: BLE001
        if getattr(exc, "message_vi", None):
            fail(exc)
        raise
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(title="Người dùng (accounts)")
    for col in ("id", "username", "họ tên", "cơ quan", "vai trò", "khóa"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r["id"]), r["username"], r["full_name"], r["agency"],
                      ",".join(r["roles"]), "x" if r["disabled"] else "")
    Console().print(table)


def _change(config: Path, username: str, action: str, password: str | None = None) -> None:
    from api.office.context import hash_password  # noqa: PLC0415
    from storage.accounts import Accounts  # noqa: PLC0415
    from storage.audit import AuditLog  # noqa: PLC0415

    try:
        secret = hash_password(_password(password)) if action == "password_reset" else None
        db = _database(config)
        with db.sessions() as s, s.begin():
            accounts = Accounts(s)
            user = accounts.require(username)
            if secret is not None:
                accounts.set_password(user, secret)
            else:
                accounts.disable(user)
            AuditLog(s).append(_operator(), action, f"user:{username}", {})
        db.dispose()
    except ValueError as exc:
        fail(exc)
    except Exception as exc:  # noqa: BLE001
        if getattr(exc, "message_vi", None):
            fail(exc)
        raise


@app.command("disable")
def disable(username: str, config: Path = _CONFIG) -> None:
    """Khóa tài khoản, kết thúc mọi phiên (disable; ends every session)."""
    _change(config, username, "user_disabled")
    typer.echo(f"Đã khóa {username} (disabled)")


@app.command("reset")
def reset(username: str, password: str | None = typer.Option(None, "--password"),
          config: Path = _CONFIG) -> None:
    """Đặt lại mật khẩu, kết thúc mọi phiên (reset the password; ends every session)."""
    _change(config, username, "password_reset", password)
    typer.echo(f"Đã đặt lại mật khẩu của {username} (password reset)")


@agency_app.command("import")
def import_agencies(source: Path = typer.Argument(..., help="the axis agency list (JSON)"),
                    config: Path = _CONFIG) -> None:
    """Nhập danh sách cơ quan của trục (getAgenciesList JSON) vào danh bạ của nút."""
    from edoc.agency import AgencyRegistry  # noqa: PLC0415
    from storage.audit import AuditLog  # noqa: PLC0415
    from storage.documents import AgencyRepository  # noqa: PLC0415

    try:
        registry = AgencyRegistry.from_axis_json(source)
        db = _database(config)
        with db.sessions() as s, s.begin():
            repo = AgencyRepository(s)
            for a in registry:
                parent = registry.parent(a)
                repo.ensure(str(a.code), a.name, parent_code=str(parent.code) if parent else None)
            AuditLog(s).append(_operator(), "agencies_imported", f"file:{source.name}",
                               {"count": len(registry)})
        db.dispose()
    except Exception as exc:  # noqa: BLE001
        if getattr(exc, "message_vi", None):
            fail(exc)
        raise
    typer.echo(f"Đã nhập {len(registry)} cơ quan (agencies imported)")
