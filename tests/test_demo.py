"""``edoc demo`` as a user runs it: a real command, real node processes, a real PKI; the summary
has the documented shape and the signed PDF passes an independent verifier (poppler's pdfsig)
and, once the demo's PKI server is gone, ``edoc verify`` (B-LT: the revocation data is inside).
The demo's PKI server: an ``edoc pki serve`` of the same PKI is used, a busy port is not."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from api.cli.demo import _serves, _start_pki
from api.cluster import free_port
from signing.devpki.server import make_server


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
    # `edoc verify` on the demo's output, the demo's TSA/OCSP/CRL server gone with it: the
    # signatures are B-LT and carry the OCSP/CRL answers a verifier needs
    manifest = json.loads((tmp_path / "pki" / "manifest.json").read_text(encoding="utf-8"))
    with pytest.raises(OSError):
        socket.create_connection((manifest["host"], manifest["port"]), timeout=2).close()
    verify = subprocess.run(
        [sys.executable, "-m", "api.cli.main", "verify", str(pdf), "--json"],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "EDOC_MODE": "development", "EDOC_PKI_DIR": str(tmp_path / "pki"),
             "EDOC_TRUST": "[]"})
    assert verify.returncode == 0, verify.stdout[-3000:] + verify.stderr[-3000:]
    report = json.loads(verify.stdout)
    assert report["indication"] == "TOTAL_PASSED" and len(report["signatures"]) == 2
    for sig in report["signatures"]:
        assert sig["level"] == "PAdES-BASELINE-LT"
        assert sig["revocation"]["source"] in ("embedded OCSP", "embedded CRL"), sig["revocation"]


def test_demo_uses_a_running_pki_serve_of_the_same_pki(pki_server) -> None:
    """`edoc pki serve` runs in another terminal: the demo uses it instead of failing with
    "cannot listen on 127.0.0.1:PORT"."""
    manifest, server = _start_pki(pki_server.directory.resolve(), pki_server.port)
    assert server is None
    assert manifest.port == pki_server.port and _serves(manifest)


def test_demo_pki_port_busy(pki_server, dev_pki, tmp_path: Path) -> None:
    """A new PKI takes a free port when the asked one is busy; an existing PKI whose port is held
    by another PKI's service is refused, naming the port and the way out."""
    fresh = tmp_path / "pki"
    manifest, server = _start_pki(fresh, pki_server.port)  # busy: pki_server listens there
    assert server is not None
    try:
        assert manifest.port != pki_server.port and _serves(manifest)
    finally:
        server.shutdown()
        server.server_close()
    # now another PKI (the session's) is served on the port baked into the fresh PKI
    other = make_server(dev_pki.directory, manifest.host, manifest.port)
    thread = threading.Thread(target=other.serve_forever, daemon=True)
    thread.start()
    try:
        assert not _serves(manifest)
        with pytest.raises(RuntimeError, match=f"{manifest.host}:{manifest.port}") as refused:
            _start_pki(fresh, pki_server.port)
        assert "--pki-dir" in str(refused.value) and "edoc pki serve" in str(refused.value)
    finally:
        other.shutdown()
        other.server_close()
        thread.join(timeout=10)
