"""``edoc user`` and ``edoc agency``: operators manage accounts and the directory from a shell,
on the node's own database; mistakes get one clear bilingual line and change nothing."""

from __future__ import annotations

import json

from sqlalchemy import select
from typer.testing import CliRunner

from api.cli.main import app
from api.cluster import layout
from api.office.context import verify_password
from storage.db import Database
from storage.db import models as m
from tests.exchange_helpers import province_and_hub
from tests.office_helpers import axis_list


def _cli(*args: str):
    return CliRunner().invoke(app, list(args))


def _db(path):
    from exchange_axis.config import load

    return Database(load(path).database_url)


def test_user_lifecycle_from_the_shell(dev_pki, tmp_path):
    paths = layout(tmp_path / "nodes", dev_pki, province_and_hub())
    cfg = str(paths["province"])
    r = _cli("user", "add", "vanthu.h41", "--agency", "000.00.00.H41", "--name",
             "Trần Thị Bình", "--roles", "clerk", "--password", "mat-khau-dai", "--config", cfg)
    assert r.exit_code == 0, r.output
    listed = json.loads(_cli("user", "list", "--json", "--config", cfg).output)
    assert [(u["username"], u["roles"], u["agency"]) for u in listed] == [
        ("vanthu.h41", ["clerk"], "000.00.00.H41")]

    for args, words in [
        (["--agency", "000.09.00.H41", "--roles", "clerk"], "not hosted"),  # not on this node
        (["--agency", "000.00.00.H41", "--roles", "boss"], "unknown role"),
    ]:
        r = _cli("user", "add", "someone", *args, "--name", "X", "--password", "mat-khau-dai",
                 "--config", cfg)
        assert r.exit_code == 1 and words in r.output, r.output
    r = _cli("user", "add", "vanthu.h41", "--agency", "000.00.00.H41", "--name", "Y",
             "--roles", "clerk", "--password", "mat-khau-dai", "--config", cfg)
    assert r.exit_code == 1 and "already exists" in r.output
    r = _cli("user", "add", "short", "--agency", "000.00.00.H41", "--name", "Y",
             "--roles", "clerk", "--password", "ngan", "--config", cfg)
    assert r.exit_code == 1 and "8 characters" in r.output

    assert _cli("user", "reset", "vanthu.h41", "--password", "mat-khau-moi-2026",
                "--config", cfg).exit_code == 0
    assert _cli("user", "disable", "vanthu.h41", "--config", cfg).exit_code == 0
    r = _cli("user", "disable", "nobody", "--config", cfg)
    assert r.exit_code == 1 and "no user nobody" in r.output
    db = _db(paths["province"])
    with db.sessions() as s:
        users = s.execute(select(m.User)).scalars().all()
        assert len(users) == 1 and users[0].disabled
        assert verify_password(users[0].password_hash, "mat-khau-moi-2026")
        actions = s.execute(select(m.AuditEntry.action).order_by(m.AuditEntry.seq)).scalars()
        assert list(actions) == ["user_added", "password_reset", "user_disabled"]
    db.dispose()


def test_agency_import(dev_pki, tmp_path):
    paths = layout(tmp_path / "nodes", dev_pki, province_and_hub())
    source = tmp_path / "agencies.json"
    source.write_text(json.dumps(axis_list([("000.00.00.H41", "UBND tỉnh Nghệ An"),
                                            ("000.07.00.H41", "UBND xã Bảy")]),
                                 ensure_ascii=False), encoding="utf-8")
    r = _cli("agency", "import", str(source), "--config", str(paths["province"]))
    assert r.exit_code == 0, r.output
    db = _db(paths["province"])
    with db.sessions() as s:
        rows = dict(s.execute(select(m.Agency.code, m.Agency.parent_code)).all())
    db.dispose()
    assert rows["000.07.00.H41"] == "000.00.00.H41"
    source.write_text("{not json", encoding="utf-8")
    r = _cli("agency", "import", str(source), "--config", str(paths["province"]))
    assert r.exit_code == 1 and "not valid JSON" in r.output
