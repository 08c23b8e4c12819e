"""The storage benchmark keeps working: ``bench/store.py --quick --json`` runs against its own
SeaweedFS and PostgreSQL database and prints one JSON object with the agreed figures. Timings are
reported, never asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.s3
@pytest.mark.postgres
def test_bench_quick_json() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "store.py"), "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert len(lines) == 1
    figures = json.loads(lines[-1])
    for name in ("put_ratio_vs_raw_sdk", "stream_peak_rss_mb", "numbers_per_s"):
        assert isinstance(figures[name], int | float) and figures[name] > 0
    assert figures["numbers_total"] == 200
