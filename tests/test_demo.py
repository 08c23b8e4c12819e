"""``edoc demo`` as a user runs it: a real command, real node processes, a real PKI; the summary
has the documented shape and the signed PDF passes an independent verifier (poppler's pdfsig)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from api.cluster import free_port


def test_demo_with_two_communes(tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "api.cli.main", "demo", "--communes", "2", "--out", str(out),
         "--pki-dir", str(tmp_path / "pki"), "--pki-port", str(free_port())],
        capture_output=True, text=True, timeout=400)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert set(summary) == {"ok", "document", "recipients", "audit"} and summary["ok"] is True
    assert set(summary["audit"]) == {"province", "district", "hub"}
    assert all(a["ok"] and a["entries"] >= 2 for a in summary["audit"].values())
    assert summary["document"]["number"] == "01/CT-UBND"
    assert len(summary["document"]["sha256"]) == 64
    codes = {r["agency_code"] for r in summary["recipients"]}
    assert codes == {"000.01.00.H41", "000.02.00.H41", "000.05.32.H41"}
    for r in summary["recipients"]:
        assert set(r) == {"agency_code", "name", "status", "indication", "received_at"}
        assert r["status"] == "03" and r["indication"] == "TOTAL_PASSED"
        assert r["received_at"].endswith("+07:00")
    assert "TOTAL_PASSED" in result.stdout and "Nghi Long" in result.stdout
    pdf = out / "directive-signed.pdf"
    assert list((out / "packages").glob("*.edxml"))
    assert (out / "reports" / "verification.json").exists()
    # the hub stored the signed original once, though it hosts three recipients on two paths
    sha = summary["document"]["sha256"]
    assert len(list((out / "nodes" / "hub" / "objects").rglob(sha))) == 1
    if shutil.which("pdfsig"):
        check = subprocess.run(["pdfsig", "-nocert", str(pdf)], capture_output=True, text=True)
        assert check.stdout.count("Signature Validation: Signature is Valid") == 2, check.stdout
