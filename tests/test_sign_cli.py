"""``edoc sign`` end to end: personal → seal with number/date, attachment, copy, levels, and
``--batch`` (parallel workers, summary, non-zero exit if a file failed, the others signed)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from api.cli.main import app
from tests.sign_helpers import (
    assert_pdfsig_valid,
    text_of,
)

runner = CliRunner()


def _key(pki, entity: str) -> list[str]:
    e = pki.entity(entity)
    return ["--p12", str(e.p12), "--password", e.password]


def test_personal_then_seal(pki_server, directive, nss_db, tmp_path):
    src = tmp_path / "chi-thi.pdf"
    src.write_bytes(directive)
    p = tmp_path / "ca-nhan.pdf"
    e = pki_server.entity("official-h41")
    r = runner.invoke(app, ["sign", str(src), str(p), *_key(pki_server, "official-h41"),
                            "--as", "personal", "--image", str(e.image), "--json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["ok"] and info["appearance"] == "personal" and info["level"] == "B-B"
    assert info["signing_time"].endswith("+07:00")
    s = tmp_path / "ban-hanh.pdf"
    a = pki_server.entity("agency-h41")
    r = runner.invoke(app, ["sign", str(p), str(s), *_key(pki_server, "agency-h41"),
                            "--as", "agency", "--image", str(a.image), "--number", "45/CT-UBND",
                            "--issue-date", "2026-01-09", "--level", "B-T", "--tsa",
                            pki_server.tsa_url, "--json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["info"]["filled"] == ["EdocSoKyHieu", "EdocNgayBanHanh"]
    assert_pdfsig_valid(s, nss_db, count=2)
    text = text_of(s.read_bytes(), tmp_path, 1)
    assert "Số: 45/CT-UBND" in text and "ngày 09 tháng 01 năm 2026" in text


def test_attachment_and_copy(pki_server, directive, nss_db, tmp_path):
    src = tmp_path / "phu-luc.pdf"
    src.write_bytes(directive)
    out = tmp_path / "phu-luc-ky.pdf"
    r = runner.invoke(app, ["sign", str(src), str(out), *_key(pki_server, "agency-h41"),
                            "--as", "attachment", "--number", "45/CT-UBND"])
    assert r.exit_code == 0, r.output
    assert_pdfsig_valid(out, nss_db, count=1)
    assert "45/CT-UBND" in text_of(out.read_bytes(), tmp_path, 1)
    out2 = tmp_path / "ban-sao.pdf"
    r = runner.invoke(app, ["sign", str(src), str(out2), *_key(pki_server, "agency-c1"),
                            "--as", "copy", "--copy-form", "TRÍCH SAO"])
    assert r.exit_code == 0, r.output
    text = text_of(out2.read_bytes(), tmp_path, 1)
    assert "TRÍCH SAO" in text
    assert pki_server.entity("agency-c1").name in text


def test_usage_errors(pki_server, tmp_path):
    r = runner.invoke(app, ["sign", *_key(pki_server, "official-h41")])
    assert r.exit_code == 1 and "--batch" in r.stderr
    r = runner.invoke(app, ["sign", "a.pdf", "b.pdf", "--image", "x.png"])
    assert r.exit_code == 1 and "--p12" in r.stderr


def test_batch(pki_server, directive, tmp_path):
    from api.drafting import render_directive

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for i in range(6):
        (inbox / f"cv-{i:02d}.pdf").write_bytes(render_directive(subject=f"Về việc số {i}"))
    (inbox / "hong.pdf").write_bytes(b"%PDF-1.7\nnot really\n")
    (inbox / "ghi-chu.txt").write_text("bỏ qua")
    outdir = tmp_path / "signed"
    e = pki_server.entity("official-h41")
    r = runner.invoke(app, ["sign", "--batch", str(inbox), "--out", str(outdir),
                            *_key(pki_server, "official-h41"), "--as", "personal", "--image",
                            str(e.image), "--workers", "2", "--json"])
    assert r.exit_code == 1, r.output
    summary = json.loads(r.stdout)
    assert summary["total"] == 7 and summary["signed"] == 6 and summary["failed"] == 1
    assert summary["workers"] == 2
    bad = [i for i in summary["items"] if not i["ok"]]
    assert bad[0]["source"].endswith("hong.pdf") and bad[0]["error_code"] == "truncated_pdf"
    assert sorted(p.name for p in outdir.iterdir()) == [f"cv-{i:02d}.pdf" for i in range(6)]
    from tests.sign_helpers import validate_all

    for p in outdir.iterdir():
        (_n, st), = validate_all(p.read_bytes(), pki_server)
        assert st.intact and st.valid and st.trusted
    # all good: exit 0, human summary
    (inbox / "hong.pdf").unlink()
    r = runner.invoke(app, ["sign", "--batch", str(inbox), "--out", str(tmp_path / "s2"),
                            *_key(pki_server, "official-h41"), "--image", str(e.image)])
    assert r.exit_code == 0, r.output
    assert "6/6" in r.stdout


def test_bad_options_are_clear(pki_server, directive, tmp_path):
    src = tmp_path / "in.pdf"
    src.write_bytes(directive)
    a = pki_server.entity("agency-h41")
    for extra, needle in [(["--as", "agency", "--issue-date", "2026-13-01"], "--issue-date"),
                          (["--as", "personal", "--box", "1,2,x"], "--box"),
                          (["--as", "seal"], "--as"),
                          (["--as", "copy", "--copy-form", "BẢN CHỤP"], "SAO Y"),
                          (["--as", "attachment"], "--number"),
                          (["--as", "attachment", "--number", "1/X", "--level", "B-X"], "B-LTA"),
                          (["--as", "attachment", "--number", "1/X", "--level", "B-T"], "--tsa")]:
        args = ["sign", str(src), str(tmp_path / "out.pdf"), *_key(pki_server, "agency-h41"),
                "--image", str(a.image), *extra]
        r = runner.invoke(app, args)
        assert r.exit_code == 1 and needle in r.stderr, (extra, r.output)
        assert not (tmp_path / "out.pdf").exists()
