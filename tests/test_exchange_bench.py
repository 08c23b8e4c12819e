"""The fan-out bench keeps working: ``bench/fanout.py --quick --json`` runs and its JSON line has
the figures the issue asks for (no timing is asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_fanout_bench_quick_json() -> None:
    result = subprocess.run([sys.executable, str(ROOT / "bench" / "fanout.py"), "--quick",
                             "--json"], capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    for key in ("recipients", "fanout_seconds", "bytes_moved", "hub_docs_per_s"):
        assert key in figures
    assert figures["recipients"] == 198 and figures["transfers"] == 2
    assert figures["stored_once_per_node"] and figures["verified_once_per_node"]
    assert figures["bytes_moved"] > figures["document_bytes"]
