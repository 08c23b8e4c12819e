"""Storage benchmark: object-store puts against the raw minio SDK, streaming memory, numbering rate.

Starts its own SeaweedFS (``weed server -s3``) and a scratch PostgreSQL database, then measures:

* ``put_ratio_vs_raw_sdk``: 200 KB originals with COMPLIANCE retention through ``S3Store.put``
  (hash, key, conditional PUT with retention) against ``Minio.put_object`` of the same objects
  (same size, same content keys, same retention), on the same server, interleaved in rounds so
  both see the same load, as put rate with 4 concurrent writers per side; the one-writer
  (latency-bound) ratio is reported beside it as ``put_ratio_vs_raw_sdk_sequential`` (see
  ``bench_puts``);
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
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from minio.commonconfig import COMPLIANCE  # noqa: E402
from minio.retention import Retention  # noqa: E402

from storage.db import Database, upgrade  # noqa: E402
from storage.objects import key_for_bytes, open_store  # noqa: E402
from tests.fixtures.db import create_pg_database, drop_pg_database  # noqa: E402
from tests.fixtures.s3 import start_seaweedfs, stop_seaweedfs  # noqa: E402

SIZE = 200 * 1024


def log(quiet: bool, *args) -> None:
    if not quiet:
        print(*args, flush=True)


WRITERS = 4  # concurrent writers per side: a node stores from several workers at once


def bench_puts(server, n: int, quiet: bool) -> dict:
    """Three sides on one server, each run by one writer and by ``WRITERS`` concurrent writers,
    interleaved in small blocks that rotate their order so every side sees the same load:

    * ``raw``: ``Minio.put_object`` of the same objects S3Store writes (the bytes under their
      content key ``sha256/ab/cd/<hex>``, COMPLIANCE retention) — the baseline of the ratio, so
      that it measures what our code adds (hashing, the dedup condition, checks), not the key
      layout the issue prescribes;
    * ``flat``: the same puts under flat keys ``raw/<n>``, for context only (on SeaweedFS the
      nested layout itself costs a few percent of server time);
    * ``ours``: ``S3Store.put`` (hash, key, conditional PUT with retention).

    ``put_ratio_vs_raw_sdk`` compares put rates (throughput) with ``WRITERS`` writers: how a node
    stores, from its outbox workers and request handlers at once. Each round runs a block of every
    side back to back; the ratio is the median over rounds of raw time / our time (paired, so a
    stall of the shared server — a volume growing, a compaction — that hits one block does not
    decide the figure); the ratio of the totals is reported beside it. The one-writer ratio is
    reported too: there each put waits for the server's existence check of the dedup condition
    (two metadata lookups on SeaweedFS, about 1 ms; on MinIO the versioned put reads the object's
    metadata anyway), so it is the latency-bound figure.
    """
    store = open_store(server.url(retention_days=1))
    client = server.client()
    bucket = store.bucket
    rnd = os.urandom(SIZE)
    until = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    counter = itertools.count(1)

    def fresh() -> bytes:
        return next(counter).to_bytes(8, "big") + rnd[8:]

    def raw_put(data: bytes) -> None:
        client.put_object(bucket, key_for_bytes(data), io.BytesIO(data), len(data),
                          retention=Retention(COMPLIANCE, until))  # fmt: skip

    def flat_put(data: bytes) -> None:
        client.put_object(bucket, f"raw/{data[:8].hex()}", io.BytesIO(data), len(data),
                          retention=Retention(COMPLIANCE, until))  # fmt: skip

    sides = {"raw": raw_put, "flat": flat_put, "ours": store.put}
    names = list(sides)

    def block(put, writers: int, count: int) -> float:
        payloads = [fresh() for _ in range(count)]
        if writers == 1:
            t = time.perf_counter()
            for data in payloads:
                put(data)
            return time.perf_counter() - t
        with ThreadPoolExecutor(writers) as pool:
            list(pool.map(put, payloads[:writers]))  # threads and connections up
            t = time.perf_counter()
            list(pool.map(put, payloads[writers:]))
            return time.perf_counter() - t

    for put in sides.values():  # warm up connections on every side before timing
        block(put, WRITERS, 2 * WRITERS)
    results: dict = {"put_writers": WRITERS}
    for writers, suffix in ((1, "_sequential"), (WRITERS, "")):
        per = 5 * writers
        rounds = max(3, n // per)
        spent = dict.fromkeys(sides, 0.0)
        paired: list[float] = []
        for r in range(rounds):
            until = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
            took = {}
            for name in names[r % 3 :] + names[: r % 3]:
                took[name] = block(sides[name], writers, per + (writers if writers > 1 else 0))
                spent[name] += took[name]
            paired.append(took["raw"] / took["ours"])
        rate = {name: rounds * per / spent[name] for name in sides}
        ratio = statistics.median(paired)
        log(quiet, f"put 200 KB + retention, {writers} writer(s), {rounds * per} each: raw SDK "
                   f"{rate['raw']:.0f}/s (flat keys {rate['flat']:.0f}/s), S3Store "
                   f"{rate['ours']:.0f}/s; ratio: median of {rounds} paired rounds {ratio:.3f} "
                   f"(of the totals {rate['ours'] / rate['raw']:.3f})")  # fmt: skip
        results.update({
            f"raw_sdk_puts_per_s{suffix}": round(rate["raw"], 1),
            f"raw_sdk_flat_keys_puts_per_s{suffix}": round(rate["flat"], 1),
            f"store_puts_per_s{suffix}": round(rate["ours"], 1),
            f"put_ratio_vs_raw_sdk{suffix}": round(ratio, 3),
            f"put_ratio_of_totals{suffix}": round(rate["ours"] / rate["raw"], 3),
            f"put_rounds{suffix}": rounds,
        })  # fmt: skip
    return results


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
    n, mb, per_worker, workers = (20, 32, 25, 4) if args.quick else (400, 1024, 250, 8)
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
