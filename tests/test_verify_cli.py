"""``edoc verify``: exit codes 0/1/2/3, JSON shape, HTML report, dev root trusted only in dev;
the human report (one block per signature, Vietnamese or English)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from zoneinfo import ZoneInfo

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


# --- the human-readable report: one block per signature, in Vietnamese or English ------------

VN = ZoneInfo("Asia/Ho_Chi_Minh")
WORDS = {
    "vi": {"signature": "Chữ ký", "field": "trường", "verdict": "Kết quả", "signer": "Người ký",
           "subject": "Chứng thư cấp cho", "time": "Thời điểm ký",
           "changes": "Thay đổi sau khi ký", "overall": "Kết luận", "decree30": "Nghị định 30",
           "valid": "Chữ ký hợp lệ", "doc_valid": "Tài liệu hợp lệ", "allowed": "[được phép]",
           "stamped": "theo dấu thời gian", "unstamped": "không có dấu thời gian",
           "none": "không có"},
    "en": {"signature": "Signature", "field": "field", "verdict": "Verdict", "signer": "Signer",
           "subject": "Certificate subject", "time": "Signing time",
           "changes": "Changes after signing", "overall": "Overall", "decree30": "Decree 30",
           "valid": "Signature valid", "doc_valid": "Document valid", "allowed": "[allowed]",
           "stamped": "from a time-stamp", "unstamped": "no time-stamp", "none": "none"},
}


@pytest.fixture(scope="module")
def stamped(files, pki_server):
    """Personal signature then seal, both time-stamped (PAdES B-T)."""
    from api.drafting import render_directive

    path = files / "stamped.pdf"
    path.write_bytes(personal_then_seal(pki_server, render_directive(), level="B-T",
                                        tsa_url=pki_server.tsa_url))
    return path


def _blocks(text: str) -> list[list[str]]:
    return [block.splitlines() for block in text.strip().split("\n\n")]


def _row(block: list[str], label: str) -> str:
    """The value of the ``  label:   value`` line of a block."""
    found = [line for line in block if line.strip().startswith(label + ":")]
    assert len(found) == 1, (label, block)
    return found[0].split(":", 1)[1].strip()


def _vn_time(iso: str, lang: str) -> str:
    t = dt.datetime.fromisoformat(iso).astimezone(VN)
    return f"{t:%H:%M:%S %d/%m/%Y} (+07:00)" if lang == "vi" else f"{t:%Y-%m-%d %H:%M:%S} +07:00"


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_text_report_block_per_signature(stamped, pki_server, lang):
    data = json.loads(runner.invoke(app, ["verify", str(stamped), "--json"],
                                    env=env(pki_server)).stdout)
    args = ["verify", str(stamped)] + (["--lang", lang] if lang == "en" else [])
    result = runner.invoke(app, args, env={**env(pki_server), "EDOC_LANG": None})  # default: vi
    assert result.exit_code == 0, result.output
    w = WORDS[lang]
    *blocks, tail = _blocks(result.stdout)
    assert len(blocks) == len(data["signatures"]) == 2, result.stdout
    for n, (block, sig) in enumerate(zip(blocks, data["signatures"], strict=True), 1):
        assert block[0] == f"{w['signature']} {n}/2 ({w['field']} {sig['field']})"
        # the verdict comes first, then who signed
        assert block[1].strip().startswith(w["verdict"] + ":")
        assert _row(block, w["verdict"]) == f"TOTAL_PASSED — {w['valid']}"
        assert block[2].strip().startswith(w["signer"] + ":")
        assert _row(block, w["signer"]).startswith(sig["signer"]["name"])
        assert _row(block, w["subject"]) == sig["signer"]["subject"]
        when = _row(block, w["time"])
        assert when == f"{_vn_time(sig['timestamp_time'], lang)}, {w['stamped']} (RFC 3161)"
    # the personal signature was followed by the seal (number and date filled in, a signature
    # added): its changes are listed in the chosen language; nothing came after the seal
    after = blocks[0][blocks[0].index(f"  {w['changes']}:") + 1:]
    changes = list(itertools.takewhile(lambda line: line.startswith("    - "), after))
    described = {c[f"description_{lang}"] for c in data["signatures"][0]["changes"]}
    assert described and {line.strip() for line in changes} == {
        f"- {w['allowed']} {d}" for d in described}
    assert _row(blocks[1], w["changes"]) == w["none"]
    assert tail[0] == f"{w['overall']}: TOTAL_PASSED — {w['doc_valid']}: 2/2 " + (
        "chữ ký hợp lệ" if lang == "vi" else "signatures valid")
    assert tail[1].startswith(w["decree30"] + ": ")
    other = WORDS["en" if lang == "vi" else "vi"]
    for word in ("signer", "overall", "changes", "time"):
        assert other[word] + ":" not in result.stdout


def test_text_report_says_when_no_time_stamp(files, pki_server):
    for lang in ("vi", "en"):
        result = runner.invoke(app, ["verify", str(files / "signed.pdf"), "--lang", lang],
                               env=env(pki_server))
        assert result.exit_code == 0, result.output
        data = json.loads(runner.invoke(app, ["verify", str(files / "signed.pdf"), "--json"],
                                        env=env(pki_server)).stdout)
        for block, sig in zip(_blocks(result.stdout), data["signatures"], strict=False):
            assert sig["timestamp_time"] is None
            when = _row(block, WORDS[lang]["time"])
            assert when.startswith(_vn_time(sig["signing_time"], lang))
            assert WORDS[lang]["unstamped"] in when


def test_text_report_language_from_edoc_lang_and_bad_lang(files, pki_server):
    result = runner.invoke(app, ["verify", str(files / "signed.pdf")],
                           env={**env(pki_server), "EDOC_LANG": "en"})
    assert result.exit_code == 0 and "Overall: TOTAL_PASSED" in result.stdout
    bad = runner.invoke(app, ["verify", str(files / "signed.pdf"), "--lang", "fr"],
                        env=env(pki_server))
    assert bad.exit_code == 2 and "TOTAL_PASSED" not in bad.stdout


def test_text_report_names_unreachable_dev_revocation_service(pki_server):
    """TRY_LATER because the dev PKI's OCSP/CRL did not answer: the URL and `edoc pki serve`."""
    from api.cli.verify import Lang, render_text
    from signing.validation.report import (
        Indication,
        PdfReport,
        RevocationInfo,
        RevocationStatus,
        SignatureReport,
        SubIndication,
    )

    ocsp = f"{pki_server.base_url}/ocsp"
    crl = f"{pki_server.base_url}/crl/subca.crl"
    details = [f"OCSP {ocsp}: ConnectError [Errno 111] Connection refused",
               f"CRL {crl}: ConnectError [Errno 111] Connection refused"]
    sig = SignatureReport(
        field="Signature1", indication=Indication.INDETERMINATE,
        sub_indication=SubIndication.TRY_LATER,
        revocation=RevocationInfo(RevocationStatus.UNKNOWN, details=details),
        warnings=["revocation status could not be established (Circular 15/2025 warning): "
                  + "; ".join(details)],
        summary_vi="Chưa xác định được tính hợp lệ của chữ ký: chưa kiểm tra được. Người ký: x.",
        summary_en="Signature validity could not be established: try later. Signer: x.",
    )
    report = PdfReport(Indication.INDETERMINATE, SubIndication.TRY_LATER, [sig],
                       summary_vi="Chưa xác định", summary_en="Undetermined")
    for lang in (Lang.VI, Lang.EN):
        text = render_text(report, lang, pki_dir=pki_server.directory)
        hint = text.strip().splitlines()[-1]
        assert hint.startswith("Gợi ý: " if lang is Lang.VI else "Hint: "), text
        assert ocsp in hint and crl in hint
        assert f"edoc pki serve --dir {pki_server.directory}" in hint
        # not the development PKI: the URLs, without the advice to run it
        other = render_text(report, lang, pki_dir=None).strip().splitlines()[-1]
        assert ocsp in other and "edoc pki serve" not in other
