"""The edXML bench keeps working: a quick run prints one JSON line with the figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "edxml.py"


def test_bench_quick_json() -> None:
    done = subprocess.run([sys.executable, str(BENCH), "--quick", "--json"], capture_output=True,
                          text=True, timeout=300, check=True)
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1
    figures = json.loads(lines[0])
    for key in ("packages_per_s", "status_packages_per_s", "lxml_parse_per_s",
                "ratio_vs_lxml", "status_ratio_vs_lxml", "packages_per_s_tuned_malloc"):
        assert figures[key] > 0, key
    assert figures["attachment_bytes"] > 1_000_000
