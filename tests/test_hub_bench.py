"""The hub bench keeps working: ``bench/hub.py --quick --json`` signs (or reuses) a small cached
corpus, runs one hub node under several sender processes over mutual TLS and prints one JSON
object with the agreed figures. Nothing may be lost or doubled, every duplicate must get the
first receipt back; speeds are reported, never asserted here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("tls", "parse", "verify", "store", "sql", "receipt")


def _quick_json(*extra: str) -> dict:
    """Run the quick bench as a user would; ``--json`` prints exactly one line."""
    command = [sys.executable, str(ROOT / "bench" / "hub.py"), "--quick", "--json", *extra]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=ROOT)
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
    assert figures["hub_rss_mb_end"] > 0 and figures["workers"] == 1
    assert len(figures["hub_rss_mb_series"]) >= 2 and min(figures["hub_rss_mb_series"]) > 0


@pytest.mark.postgres
def test_hub_bench_scales_workers_on_simulated_hosts() -> None:
    """``--workers 1,2 --netns --host-cpu 0.75``: the hub once as one worker, then as two
    workers on two simulated hosts (network namespaces, one core each, 75 % of it by a CPU
    quota) sharing one PostgreSQL; each run on a fresh database, nothing lost or doubled in
    either, both rates and their ratio reported."""
    figures = _quick_json("--postgres", "--workers", "1,2", "--netns", "--host-cpu", "0.75",
                          "--corpus", "120")
    runs = figures["scaling"]
    assert [r["workers"] for r in runs] == [1, 2] and figures["netns"] is True
    assert figures["host_cpu"] == 0.75
    for r in runs:
        assert r["errors"] == 0 and r["lost"] == 0 and r["doubled"] == 0, r
        assert r["hub_docs_per_s"] > 0 and r["hub_rss_mb_end"] > 0
    assert figures["scaling_2_vs_1"] == pytest.approx(
        runs[1]["hub_docs_per_s"] / runs[0]["hub_docs_per_s"], abs=0.01)


def test_hub_bench_refuses_what_it_cannot_measure() -> None:
    """Impossible combinations fail at once with the reason, before anything is signed or run."""
    for extra, reason in ((["--workers", "1,2"], "needs --postgres"),
                          (["--workers", "two"], "counts like 1,2,4"),
                          (["--communes", "10"], "at least 200"),
                          (["--host-cpu", "0.5"], "with --netns")):
        done = subprocess.run([sys.executable, str(ROOT / "bench" / "hub.py"), "--quick",
                               *extra], capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert done.returncode == 2 and reason in done.stderr, (extra, done.stderr[-500:])
