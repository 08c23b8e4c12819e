"""``edoc edxml``: parse/extract, build (and sign), status, verify, validate — and errors that
exit non-zero with the path and the reason."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from typer.testing import CliRunner

from api.cli.main import app
from edoc import edxml
from edoc.status import StatusCode
from signing.devpki import Manifest
from tests.paths import EDXML_SAMPLES

SAMPLES = EDXML_SAMPLES
runner = CliRunner()


def _run(*args: str):
    return runner.invoke(app, ["edxml", *args])


def test_parse_extract_build_round_trip(tmp_path: Path) -> None:
    sample = SAMPLES / "edoc_update.edxml"
    result = _run("parse", str(sample), "--json", "--extract", str(tmp_path / "files"))
    assert result.exit_code == 0, result.output
    meta = json.loads(result.stdout)
    assert meta["kind"] == "document" and meta["business"]["doc_type"] == 2
    extracted = tmp_path / "files" / "1896_QD-TTg_m_294779.doc"
    original = edxml.parse(sample.read_bytes())
    assert extracted.read_bytes() == original.attachments[0].data
    (tmp_path / "meta.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "out.edxml"
    result = _run("build", str(tmp_path / "meta.json"), "--attach", str(extracted), "-o",
                  str(out))
    assert result.exit_code == 0, result.output
    assert edxml.parse(out.read_bytes()) == original


def test_human_output_and_deviations() -> None:
    result = _run("parse", str(SAMPLES / "edoc_new.edxml"))
    assert result.exit_code == 0
    assert "000.28.22.H17" in result.stdout and "deviation" in result.stdout
    assert "rsa-sha1" in result.stdout


def test_errors_exit_non_zero_with_path_and_reason(tmp_path: Path) -> None:
    malformed = SAMPLES / "malformed" / "edoc_new_leading_garbage.edxml"
    result = _run("parse", str(malformed))
    assert result.exit_code == 2
    assert "line 1, column 1" in result.stderr and "dòng 1, cột 1" in result.stderr
    assert _run("parse", str(malformed), "--repair").exit_code == 0
    result = _run("parse", str(SAMPLES / "edoc_new.edxml"), "--strict")
    assert result.exit_code == 2 and "/To/OrganId" in result.stderr
    result = _run("parse", str(tmp_path / "missing.edxml"))
    assert result.exit_code == 2 and "cannot read" in result.stderr
    bad_meta = tmp_path / "bad.json"
    bad_meta.write_text(json.dumps({"kind": "document", "document": {
        "sender": {"organ_id": "000.00.00.H41"}, "recipients": [], "subject": "x"}}))
    out = tmp_path / "never.edxml"
    result = _run("build", str(bad_meta), "-o", str(out))
    assert result.exit_code == 2 and "recipient" in result.stderr and "/MessageHeader" in \
        result.stderr
    assert not out.exists()  # no partial output


def test_status_answers_a_document(tmp_path: Path) -> None:
    out = tmp_path / "s.edxml"
    result = _run("status", "--for", str(SAMPLES / "edoc_revocation.edxml"), "--code", "03",
                  "--as", "000.00.00.H14", "-o", str(out))
    assert result.exit_code == 0, result.output
    status = edxml.parse(out.read_bytes(), strict=True)
    assert status.code is StatusCode.ACCEPTED
    assert status.sender.organ_id == "000.00.00.H14"
    assert status.response_for.organ_id == "000.00.00.G22"
    assert status.response_for.code == "7816/VPCP-TTĐT"
    assert status.description == "Đã tiếp nhận"
    take_back = tmp_path / "13.edxml"
    assert _run("status", "--for", str(SAMPLES / "edoc_revocation.edxml"), "--code", "13",
                "-o", str(take_back)).exit_code == 0
    assert edxml.parse(take_back.read_bytes()).sender.organ_id == "000.00.00.G22"
    result = _run("status", "--for", str(SAMPLES / "edoc_revocation.edxml"), "--code", "02",
                  "-o", str(tmp_path / "x.edxml"))
    assert result.exit_code == 2 and "--reason" in result.stderr
    result = _run("status", "--for", str(SAMPLES / "edoc_revocation.edxml"), "--code", "03",
                  "--as", "000.00.00.G22", "-o", str(tmp_path / "x.edxml"))
    assert result.exit_code == 2 and "recipient" in result.stderr
    result = _run("status", "--for", str(SAMPLES / "status_inbox_01.edxml"), "--code", "03",
                  "-o", str(tmp_path / "x.edxml"))
    assert result.exit_code == 2
    assert _run("status", "--for", str(SAMPLES / "edoc_new.edxml"), "--code", "09",
                "-o", str(tmp_path / "x.edxml")).exit_code == 2


def test_build_signed_then_verify(tmp_path: Path, dev_pki: Manifest) -> None:
    official = dev_pki.entity("official-h41")
    sample = SAMPLES / "edoc_replacement.edxml"
    meta = tmp_path / "meta.json"
    parsed = _run("parse", str(sample), "--json", "--extract", str(tmp_path / "f"))
    meta.write_text(parsed.stdout, encoding="utf-8")
    out = tmp_path / "signed.edxml"
    result = _run("build", str(meta), "--attach", str(tmp_path / "f" / "1896_QD-TTg_m_294779.doc"),
                  "-o", str(out), "--sign", "--p12", str(official.p12), "--password",
                  official.password, "--form", "xmldsig")
    assert result.exit_code == 0, result.output
    trust_dir = tmp_path / "trust"
    trust_dir.mkdir()
    for path in [dev_pki.root, *dev_pki.intermediates]:
        (trust_dir / path.name).write_bytes(path.read_bytes())
    result = _run("verify", str(out), "--trust", str(trust_dir), "--development", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["valid"] and report["trusted"] and report["form"] == "xmldsig"
    assert _run("verify", str(SAMPLES / "edoc_new.edxml")).exit_code == 1
    assert _run("verify", str(SAMPLES / "status_inbox_01.edxml")).exit_code == 1
    wrong = _run("build", str(meta), "--attach", str(tmp_path / "f" / "1896_QD-TTg_m_294779.doc"),
                 "-o", str(tmp_path / "w.edxml"), "--sign", "--p12", str(official.p12),
                 "--password", "wrong")
    assert wrong.exit_code == 2 and "password" in wrong.stderr
    assert not (tmp_path / "w.edxml").exists()


def test_validate_and_console_script(tmp_path: Path) -> None:
    assert _run("validate", str(SAMPLES / "status_finish_06.edxml")).exit_code == 0
    broken = tmp_path / "b.edxml"
    broken.write_bytes((SAMPLES / "status_finish_06.edxml").read_bytes().replace(
        b"<edXML:StatusCode>06<", b"<edXML:StatusCode>07<"))
    result = _run("validate", str(broken))
    assert result.exit_code == 1 and "StatusCode" in result.stdout
    done = subprocess.run(["edoc", "edxml", "parse", str(SAMPLES / "status_finish_06.edxml"),
                           "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["code"] == "06"
