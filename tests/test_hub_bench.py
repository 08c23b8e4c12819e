"""The hub bench keeps working: ``bench/hub.py --quick --json`` signs (or reuses) a small cached
corpus, runs one hub node under several sender processes over mutual TLS and prints one JSON
object with the agreed figures. Nothing may be lost or doubled, every duplicate must get the
first receipt back; speeds are reported, never asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("tls", "parse", "verify", "store", "sql", "receipt")


def _quick_json() -> dict:
    """Run the quick bench as a user would; ``--json`` prints exactly one line."""
    command = [sys.executable, str(ROOT / "bench" / "hub.py"), "--quick", "--json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    (line,) = done.stdout.strip().splitlines()
    return json.loads(line)


def test_hub_bench_quick_json() -> None:
    figures = _quick_json()
    for key in ("hub_docs_per_s", "p50_ack_ms", "p99_ack_ms", "cpu_ms_per_doc",
                "senders_cpu_share", "documents", "duplicates", "errors", "lost", "doubled",
                "stage_ms", "baseline_docs_per_s", "ratio_vs_baseline", "seconds", "cpus"):
        assert key in figures, key
    assert figures["errors"] == 0, figures["first_errors"]
    assert figures["lost"] == 0 and figures["doubled"] == 0
    assert figures["duplicates"] > 0
    assert figures["duplicates_first_receipt"] == figures["duplicates"]
    assert figures["baseline_refused"] == 0
    assert figures["hub_docs_per_s"] > 0 and figures["documents"] > 0
    assert figures["p99_ack_ms"] >= figures["p50_ack_ms"] > 0
    assert figures["cpu_ms_per_doc"] > 0 and figures["baseline_docs_per_s"] > 0
    assert all(figures["stage_ms"][k] > 0 for k in STAGES), figures["stage_ms"]
