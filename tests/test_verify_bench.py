"""The validation benchmark keeps working: run it quick and parse its JSON (no timing asserts)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(300)
def test_bench_verify_quick_json():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "verify.py"), "--quick", "--json"],
        capture_output=True,
        text=True,
        timeout=280,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout.strip().splitlines()
    assert len(out) == 1
    figures = json.loads(out[-1])
    for key in ("docs_per_s", "pyhanko_docs_per_s", "repeat_docs_per_s", "ratio_vs_pyhanko"):
        assert figures[key] > 0
    assert figures["all_total_passed"] and figures["pyhanko_all_valid"]
    assert figures["responder_down_docs_per_s"] > 0 and figures["responder_down_all_try_later"]
