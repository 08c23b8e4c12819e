"""``edoc verify``: exit codes 0/1/2/3, JSON shape, HTML report, dev root trusted only in dev."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from api.cli.main import app
from tests.report_keys import SIGNATURE_KEYS
from tests.test_verify_pdf import _append_page, incremental, personal_then_seal

pytestmark = pytest.mark.timeout(120)
runner = CliRunner()


@pytest.fixture(scope="module")
def files(pki_server, tmp_path_factory):
    from api.drafting import render_directive

    d = tmp_path_factory.mktemp("cli")
    signed = personal_then_seal(pki_server, render_directive())
    (d / "signed.pdf").write_bytes(signed)
    (d / "appended.pdf").write_bytes(incremental(signed, _append_page))
    (d / "not.pdf").write_bytes(b"hello")
    return d


def env(pki, mode="development"):
    return {"EDOC_MODE": mode, "EDOC_PKI_DIR": str(pki.directory), "EDOC_TRUST": "[]"}


def test_pass_exit_0_with_json_and_html(files, pki_server):
    out_html = files / "report.html"
    result = runner.invoke(
        app,
        ["verify", str(files / "signed.pdf"), "--json", "--html", str(out_html)],
        env=env(pki_server),
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["indication"] == "TOTAL_PASSED" and len(data["signatures"]) == 2
    for key in SIGNATURE_KEYS:
        assert key in data["signatures"][0]
    html = out_html.read_text(encoding="utf-8")
    assert "Chữ ký hợp lệ" in html and "<script" not in html


def test_forbidden_change_exit_1(files, pki_server):
    result = runner.invoke(app, ["verify", str(files / "appended.pdf")], env=env(pki_server))
    assert result.exit_code == 1, result.output
    assert "TOTAL_FAILED" in result.stdout and "trang được thêm" in result.stdout


def test_production_refuses_dev_root_exit_2(files, pki_server):
    result = runner.invoke(
        app,
        ["verify", str(files / "signed.pdf"), "--revocation", "off"],
        env=env(pki_server, "production"),
    )
    assert result.exit_code == 2, result.output
    assert "NO_CERTIFICATE_CHAIN_FOUND" in result.stdout


def test_explicit_trust_dir_in_production(files, pki_server):
    # a production install may not trust a dev root even if pointed at it explicitly
    result = runner.invoke(
        app,
        ["verify", str(files / "signed.pdf"), "--trust", str(pki_server.root.parent)],
        env=env(pki_server, "production"),
    )
    assert result.exit_code == 2


def test_unreadable_exit_3(files, pki_server):
    for args in (["verify", str(files / "not.pdf")], ["verify", str(files / "missing.pdf")]):
        result = runner.invoke(app, args, env=env(pki_server))
        assert result.exit_code == 3, result.output


def test_at_needs_timezone(files, pki_server):
    result = runner.invoke(
        app, ["verify", str(files / "signed.pdf"), "--at", "2026-01-01T00:00"], env=env(pki_server)
    )
    assert result.exit_code != 0
    ok = runner.invoke(
        app,
        [
            "verify",
            str(files / "signed.pdf"),
            "--json",
            "--revocation",
            "off",
            "--at",
            "2030-01-01T09:00:00+07:00",
        ],
        env=env(pki_server),
    )
    assert json.loads(ok.stdout)["validation_time"].startswith("2030-01-01T02:00")
