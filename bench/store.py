"""Storage benchmark: object-store puts against the raw minio SDK, streaming memory, numbering rate.

Starts its own SeaweedFS (``weed server -s3``) and a scratch PostgreSQL database, then measures:

* ``put_ratio_vs_raw_sdk``: 200 KB originals with COMPLIANCE retention through ``S3Store.put``
  (hash, key, conditional PUT with retention) against ``Minio.put_object`` of the same size with
  the same retention, on the same server, interleaved in rounds so both see the same load;
* ``stream_peak_rss_mb``: peak RSS of a fresh process that puts a 1 GB file (``--quick``: 64 MB)
  and downloads it back verified — multipart streaming, never the whole file in memory;
* ``numbers_per_s``: outgoing-register numbers allocated per second on PostgreSQL by 8 threads
  (``--quick``: 4), one transaction each (the real path: unit of work, counter row lock,
  register row, commit); ``numbers_per_s_processes`` the same with separate processes.

Usage: ``python bench/store.py [--quick] [--json]``. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from minio.commonconfig import COMPLIANCE  # noqa: E402
from minio.retention import Retention  # noqa: E402

from storage.db import Database, upgrade  # noqa: E402
from storage.objects import open_store  # noqa: E402
from tests.fixtures.db import create_pg_database, drop_pg_database  # noqa: E402
from tests.fixtures.s3 import start_seaweedfs, stop_seaweedfs  # noqa: E402

SIZE = 200 * 1024


def log(quiet: bool, *args) -> None:
    if not quiet:
        print(*args, flush=True)


def bench_puts(server, n: int, quiet: bool) -> dict:
    store = open_store(server.url(retention_days=1))
    client = server.client()
    bucket = store.bucket
    rnd = os.urandom(SIZE)
    until = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    for i in range(5):  # warm up connections on both sides before timing
        warm = i.to_bytes(8, "big") + b"warm-up" + rnd[15:]
        client.put_object(bucket, f"warm/{i}", io.BytesIO(warm), SIZE,
                          retention=Retention(COMPLIANCE, until))  # fmt: skip
        store.put(warm[::-1])
    raw_t = ours_t = 0.0
    per = min(10, n)
    rounds = max(1, n // per)
    counter = 1000

    def raw_block(payloads: list[bytes]) -> float:
        t = time.perf_counter()
        for i, data in enumerate(payloads):
            client.put_object(
                bucket, f"raw/{counter}-{i}", io.BytesIO(data), len(data),
                retention=Retention(COMPLIANCE, until),
            )  # fmt: skip
        return time.perf_counter() - t

    def store_block(payloads: list[bytes]) -> float:
        t = time.perf_counter()
        for data in payloads:
            store.put(data)
        return time.perf_counter() - t

    for r in range(rounds):  # small blocks, alternating which side goes first: same load
        payloads = []
        for _ in range(2 * per):
            counter += 1
            payloads.append(counter.to_bytes(8, "big") + rnd[8:])
        until = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        if r % 2 == 0:
            raw_t += raw_block(payloads[:per])
            ours_t += store_block(payloads[per:])
        else:
            ours_t += store_block(payloads[per:])
            raw_t += raw_block(payloads[:per])
    total = rounds * per
    raw_rate, ours_rate = total / raw_t, total / ours_t
    log(quiet, f"put 200 KB + retention: raw SDK {raw_rate:.0f}/s, S3Store {ours_rate:.0f}/s "
               f"({total} each)")  # fmt: skip
    return {
        "raw_sdk_puts_per_s": round(raw_rate, 1),
        "store_puts_per_s": round(ours_rate, 1),
        "put_ratio_vs_raw_sdk": round(ours_rate / raw_rate, 3),
    }


CHILD = """
import sys, time, json
sys.path.insert(0, {root!r})
from storage.objects import open_store
store = open_store({url!r})
t = time.perf_counter()
key = store.put(__import__("pathlib").Path({src!r}))
put_s = time.perf_counter() - t
t = time.perf_counter()
size = store.download(key, {dst!r})
get_s = time.perf_counter() - t
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(json.dumps({{"put_s": put_s, "get_s": get_s, "size": size, "hwm_kb": int(hwm)}}))
"""


def bench_stream(server, mb: int, quiet: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="edoc-bench-") as tmp:
        src, dst = Path(tmp) / "big.bin", Path(tmp) / "back.bin"
        block = os.urandom(1 << 20)
        with open(src, "wb") as f:
            for i in range(mb):
                f.write(i.to_bytes(8, "big") + block[8:])
        code = CHILD.format(root=str(ROOT), url=server.url(retention_days=1), src=str(src),
                            dst=str(dst))  # fmt: skip
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(out.stderr)
        res = json.loads(out.stdout.strip().splitlines()[-1])
        same = src.stat().st_size == dst.stat().st_size == res["size"]
    rss = res["hwm_kb"] / 1024
    put_rate, get_rate = mb / res["put_s"], mb / res["get_s"]
    log(quiet, f"stream {mb} MB: put {put_rate:.0f} MB/s, get+verify {get_rate:.0f} MB/s, "
               f"peak RSS {rss:.0f} MB, sizes match: {same}")  # fmt: skip
    return {
        "stream_mb": mb,
        "stream_put_mb_per_s": round(mb / res["put_s"], 1),
        "stream_get_mb_per_s": round(mb / res["get_s"], 1),
        "stream_peak_rss_mb": round(rss, 1),
    }


def _issuer(url: str, agency_id: int, count: int, barrier, out) -> None:
    """One issuing process (a web worker): warm connection, wait for the start, issue."""
    db = Database(url, pool_size=1)
    at = dt.datetime.now(dt.timezone(dt.timedelta(hours=7)))
    with db.uow() as uow:  # warm the connection outside the timed part
        uow.agencies.by_code("000.00.00.H41")
    barrier.wait()
    for _ in range(count):
        with db.uow() as uow:
            uow.registers.issue_outgoing(agency_id, "QĐ-UBND", at)
            uow.commit()
    out.put(time.perf_counter())
    db.dispose()


def bench_numbers(per_worker: int, workers: int, quiet: bool) -> dict:
    """Concurrent issuers, as threads of one process (like the 8 x 500 test) and as separate
    processes (like web workers): both figures are reported; ``numbers_per_s`` is the threads'
    one. On a saturated machine either is bounded by how fast the lock holder gets the CPU back
    between its statement and its COMMIT."""
    import multiprocessing as mp

    url = create_pg_database("edoc_bench")
    try:
        upgrade(url)
        db = Database(url, pool_size=workers)
        with db.uow() as uow:
            agency = uow.agencies.ensure("000.00.00.H41", "Ủy ban nhân dân tỉnh Nghệ An")
            uow.commit()
        at = dt.datetime.now(dt.timezone(dt.timedelta(hours=7)))

        ctx = mp.get_context("spawn")
        barrier, out = ctx.Barrier(workers + 1), ctx.Queue()
        procs = [
            ctx.Process(target=_issuer, args=(url, agency.id, per_worker, barrier, out))
            for _ in range(workers)
        ]
        for p in procs:
            p.start()
        barrier.wait()
        t = time.perf_counter()
        ends = [out.get(timeout=600) for _ in procs]
        proc_elapsed = max(ends) - t
        for p in procs:
            p.join()

        def worker() -> None:
            for _ in range(per_worker):
                with db.uow() as uow:
                    uow.registers.issue_outgoing(agency.id, "QĐ-UBND", at)
                    uow.commit()

        pool = [threading.Thread(target=worker) for _ in range(workers)]
        t = time.perf_counter()
        for th in pool:
            th.start()
        for th in pool:
            th.join()
        thread_elapsed = time.perf_counter() - t
        with db.uow() as uow:
            seqs = [e.seq for e in uow.registers.outgoing(agency.id, at.year)]
        db.dispose()
        total = per_worker * workers
        ok = seqs == list(range(1, 2 * total + 1))
        rate, thread_rate = total / proc_elapsed, total / thread_elapsed
        log(quiet, f"outgoing numbers on PostgreSQL: {rate:.0f}/s ({workers} processes x "
                   f"{per_worker}); {thread_rate:.0f}/s ({workers} threads of one process); "
                   f"all {2 * total} consecutive without gaps: {ok}")  # fmt: skip
        if not ok:
            raise RuntimeError("register numbers are not consecutive")
        return {
            "numbers_per_s": round(thread_rate, 1),
            "numbers_per_s_processes": round(rate, 1),
            "numbers_total": 2 * total,
        }
    finally:
        drop_pg_database(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short run (for tests)")
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    args = parser.parse_args()
    quiet = args.json
    n, mb, per_worker, workers = (20, 32, 25, 4) if args.quick else (200, 1024, 250, 8)
    results: dict = {"quick": args.quick}
    with tempfile.TemporaryDirectory(prefix="edoc-bench-weed-") as base:
        proc, server = start_seaweedfs(Path(base))
        try:
            results.update(bench_puts(server, n, quiet))
            results.update(bench_stream(server, mb, quiet))
        finally:
            stop_seaweedfs(proc)
    results.update(bench_numbers(per_worker, workers, quiet))
    results["loadavg_1m"] = round(os.getloadavg()[0], 2)  # the machine may be shared: context
    print(json.dumps(results))


if __name__ == "__main__":
    main()
