"""bench/sign.py keeps working: run it with --quick --json and read its one JSON line (figures
are printed, never asserted: timings depend on the machine)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_quick_json():
    r = subprocess.run([sys.executable, str(ROOT / "bench" / "sign.py"), "--quick", "--json"],
                       capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = [ln for ln in r.stdout.splitlines() if ln.strip()]
    assert len(lines) == 1  # --json prints only the JSON object
    data = json.loads(lines[-1])
    for key in ("docs_per_s", "stock_pyhanko_docs_per_s", "speedup_vs_stock_pyhanko",
                "batch_docs_per_s", "large_pdf_peak_rss_over_file_size", "docs_per_cpu_s"):
        assert isinstance(data[key], int | float) and data[key] > 0, key
    assert data["quick"] is True and data["batch_workers"] == 2
