"""Hub bench: a national year in a day, through one province hub.

Issue: a province hub receiving the national volume (10 M documents a year) needs ≥ 116
documents/s sustained: received over mutual TLS, edXML parsed, signatures verified, original
stored, registered, receipt signed, 01 sent back, nothing lost. This bench is the measuring
instrument; it asserts nothing about speed.

Set-up (everything real, on loopback):
- the dev PKI with its TSA/OCSP/CRL server in a thread of this process (as ``bench/fanout.py``);
- ONE hub node process (``edoc node serve``, laid out by ``api.cluster.layout``) hosting 200
  generated communes, revocation "online" and the dev trust, SQLite (or ``--postgres``: a fresh
  database on 127.0.0.1:5432, as ``bench/api.py`` does). Its one declared peer is the province
  node (``node-province``), laid out but NOT started: the sender processes speak with its TLS
  certificate and key, so the hub sees an ordinary upstream peer (one trace, direct peer: the
  receipt is the whole answer, nothing is relayed and nothing is queued back).

Corpus (cached): distinct Decree-30 directives of 200 KB–2 MB (``--quick``: 200–400 KB), each
with the leader's personal signature and the province seal (``api.directive.sign_directive``,
PAdES B-T, a time-stamp each), numbered ``i+1`` so every DocumentId differs, wrapped in an edXML
package addressed to 1–5 of the hub's communes, ~10 % urgent (priority 3). Signing costs
≈ 0.25 s of CPU per document (two appearances, two time-stamps; ≈ 2.5 documents/s on a shared
2-core machine), so the corpus is made once by worker processes (2 × cores, to overlap the TSA
round trips) and kept under ``$EDOC_BENCH_CACHE`` (default ``~/.cache/edoc-bench/hub/``) with
the PKI it was signed with; the PKI is reused while the port baked into its certificates is free
(or already served by this PKI: a concurrent run) and its certificates are valid, else both are
made again. Cheap distinctness: each worker renders the draft once and opens each PKCS#12 signer
once (``api.drafting.render_directive`` and ``Pkcs12Signer.load`` are memoised inside the
worker), and only the padding length (the size) changes, but every document still carries its
own number and its own two signatures and time-stamps over all its bytes, so the hub can reuse
no verdict. Packages older than 20 days are signed again (the hub refuses
packages older than ``max_package_age_days``). The default corpus holds
min(116/s, 1.1 × cores × the baseline's documents/s) × (seconds + warm-up) documents: the hub
runs the same code as the one-process baseline, so even with every core to itself it cannot go
faster than that, and a hub meeting the floor needs no more; ``--corpus N`` overrides it (the
cache grows incrementally, only missing documents are signed). If the hub outruns the corpus
anyway, senders stop, the bench says so (``corpus_exhausted``) and reports what it measured up
to the first sender running dry; it never loops over the same documents.
Disk: ≈ 1.5 MB per cached package, and the hub stores ≈ 2.6 MB per accepted document.

Load: ``--senders`` processes (default 4), each with ``--concurrency`` requests in flight (closed
loop, keep-alive HTTP/1.1 over mutual TLS with the province certificate, on the event loop's own
TLS transport: ``_Lane``), POST the packages of their
share to ``/exchange/v1/packages`` for ``--seconds`` (after ``--warmup``). ~3 % of the sends are
exact duplicates of a package the same sender sent earlier (sent once its first answer is back):
the hub must answer them with the first receipt, byte for byte. Every answer's receipt is opened
(``exchange_axis.receipts.open_sealed``: CMS signed by the hub's pinned certificate) and every
recipient must have 01. arrival→01 latency = answer time − send start.

Figures (steady window only, warm-up excluded):
- ``hub_docs_per_s``: distinct documents answered with 01 for every recipient in the window;
  p50/p99 of their arrival→01 latency;
- ``cpu_ms_per_doc``: user+system CPU of the hub process and its descendants (``/proc``: every
  thread, and processes whose parent chain leads to the hub) over the window per document;
  ``senders_cpu_share`` / ``hub_cpu_share`` / ``machine_busy_share``: fractions of all cores,
  since the senders compete with the hub for the same cores; ``hub_cpu_ms_per_doc_series`` and
  ``page_cache_mb_series``, every 10 s of the window: a CPU per document that climbs with the
  host's page cache is the kernel reclaiming pages on the hub's write path (docs/scaling.md).
  The senders drop the pages of what they read (real senders are other machines);
- ``lost``: distinct packages without 01 for each recipient in their receipt, or whose 01 has no
  incoming document in the hub's database; ``doubled``: (sender, DocumentId, recipient) with more
  than one incoming document, or incoming documents without exactly one register entry;
- ``stage_ms`` — the baseline, the same pipeline alone in this process (hub stopped, before the
  load), on a sample of the corpus, CPU ms per document: ``tls`` (an asyncio TLS server with the
  hub's certificate and client-certificate requirement receiving the package over a kept-alive
  connection from the province's client context, server-thread CPU; the handshake measured
  alone is amortised over the documents per connection of the load), and the node's own code:
  a ``exchange_axis.node.Node`` built from the hub's node.toml (own database and store) runs
  ``receiver.process`` per package, with timers around ``edoc.edxml.parse`` (``parse``), the
  verifier (``verify``), the object store's ``put`` (``store``), the node state's inbox look-ups
  and arrival transaction minus the receipt signing done inside it (``sql``) and the receipt
  signer (``receipt``); ``other`` is what ``process`` spends outside them (hashing, routing).
  The sum is the one-process pipeline's cost; ``baseline_docs_per_s`` = 1000 / sum and
  ``ratio_vs_baseline`` = hub_docs_per_s / baseline_docs_per_s. Stage timers use the calling
  thread's CPU clock, so the PKI server (another thread of this process) is not counted.
- the hub's own split (``hub_stage_ms``) only with ``--profile``: py-spy samples the hub during
  the window (raw stacks, all threads) and each sample goes to the stage of the innermost
  recognised frame; the shares scale the hub's CPU per document. Without ``--profile`` the split
  is the baseline's only.

Usage: ``python bench/hub.py [--quick] [--json] [--seconds S] [--senders N] [--concurrency C]
[--corpus N] [--postgres] [--profile] [--keep]``. Last line: one JSON object (``--json`` prints only
that). ``--quick``: 60 small documents, ~10 s of load, for the test.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import datetime as dt
import itertools
import json
import math
import multiprocessing
import os
import random
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from api.cluster import PROVINCE, NodeProcess, NodeSpec, free_port, layout  # noqa: E402
from bench import netns  # noqa: E402
from bench.api import percentile  # noqa: E402
from exchange_axis.config import GeneratedCommunes, generated_communes  # noqa: E402

TARGET_RATE = 116.0  # documents/s: 10 M a year in working hours (the floor)
COMMUNES = 200
RSS_EVERY_S = 10.0  # how often the hub's memory is read during the window
PG_PORT = 5432  # the PostgreSQL the bench's hub databases live on (tests.fixtures.db)
URGENT_SHARE = 0.10
DUPLICATE_SHARE = 0.03
MAX_AGE = dt.timedelta(days=20)  # re-sign cached packages before the hub finds them stale
SIGNATURE_BYTES = 137_000  # what two B-T signatures with appearances add to the draft
KINDS = {"full": (200_000, 2_000_000), "quick": (200_000, 400_000)}
NOTATIONS = {"full": "CT-UBND", "quick": "TB-UBND"}
STAGES = ("tls", "parse", "verify", "store", "sql", "receipt")
#: the figures kept for each worker count of a scaling run (``--workers 1,2,4``)
SCALING_KEYS = ("workers", "hub_docs_per_s", "p50_ack_ms", "p99_ack_ms", "cpu_ms_per_doc",
                "hub_cpu_share", "machine_busy_share", "errors", "lost", "doubled",
                "hub_rss_mb_end")


# -- the cache: PKI and corpus --------------------------------------------------------------------
def cache_root() -> Path:
    return Path(os.environ.get("EDOC_BENCH_CACHE") or Path.home() / ".cache" / "edoc-bench"
                ) / "hub"


def _cached_pki(directory: Path):
    """The cached PKI's manifest if it is complete and its certificates stay valid longer than
    a cached package may live, else None."""
    from signing.devpki import Manifest

    try:
        manifest = Manifest.load(directory)
    except Exception:  # noqa: BLE001 - absent or damaged: make a new one
        return None
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=MAX_AGE.days + 1)
    if any(e.not_after is not None and e.not_after < soon for e in manifest.entities
           if e.role in ("official", "agency", "tsa", "ocsp", "node")):
        return None
    return manifest


def _serves_it(manifest) -> bool:
    """Whether the PKI's port already answers with this very PKI's server (a concurrent run of
    this bench): the sub-CA certificate it hands out is byte for byte ours."""
    import urllib.request

    try:
        authority = manifest.authority("subca")
        with urllib.request.urlopen(authority.cert_url, timeout=5) as answer:
            served = answer.read()
        return served == ssl.PEM_cert_to_DER_cert(authority.cert.read_text("ascii"))
    except Exception:  # noqa: BLE001 - anything else: not ours
        return False


def open_pki(cache: Path, log) -> tuple:
    """(manifest, the server this run started or None, reused?). The cached PKI is reused when
    its port is free (or served by this PKI already); else a new one is made, and since the
    corpus was signed under the old one, every cached corpus goes with it."""
    from api.cluster import free_port
    from signing.devpki import DevPkiError, create, make_server

    manifest = _cached_pki(cache / "pki")
    server = None
    if manifest is not None:
        with contextlib.suppress(DevPkiError):  # port taken
            server = make_server(manifest.directory, manifest.host, manifest.port)
        if server is None and _serves_it(manifest):
            return manifest, None, True
    reused = server is not None
    if server is None:
        shutil.rmtree(cache, ignore_errors=True)
        cache.mkdir(parents=True)
        manifest = create(cache / "pki", port=free_port())
        server = make_server(manifest.directory, manifest.host, manifest.port)
        log(f"dev PKI created in {cache / 'pki'} (port {manifest.port}); cached corpora dropped")
    threading.Thread(target=server.serve_forever, name="devpki", daemon=True).start()
    return manifest, server, reused


@dataclass
class Entry:
    """One cached package: which file, what it carries, when it was signed."""

    index: int
    file: str
    pdf_bytes: int
    package_bytes: int
    recipients: list[str]
    priority: int
    document_id: str
    built: str  # ISO time of signing

    @property
    def fresh(self) -> bool:
        return dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(self.built) < MAX_AGE


def _spec(kind: str, index: int) -> dict:
    """The deterministic shape of corpus document ``index``: size, recipients, urgency."""
    rng = random.Random(f"edoc-hub-{kind}-{index}")
    low, high = KINDS[kind]
    communes = [c for c, _ in generated_communes(GeneratedCommunes(count=COMMUNES))]
    return {"index": index, "kind": kind, "size": rng.randint(low, high),
            "recipients": rng.sample(communes, rng.randint(1, 5)),
            "priority": 3 if rng.random() < URGENT_SHARE else 0}


_WORKER: dict = {}


def _worker_init(pki_dir: str) -> None:
    """Per worker: the manifest, and the draft rendered once (memoised ``render_directive``:
    the pages are the same, the number, signatures and time-stamps are each document's own)."""
    import api.drafting
    from signing.devpki import Manifest

    _WORKER["manifest"] = Manifest.load(Path(pki_dir))
    render, drafts = api.drafting.render_directive, {}

    def memoised(**kwargs):
        key = repr(sorted(kwargs.items()))
        if key not in drafts:
            drafts[key] = render(**kwargs)
        return drafts[key]

    api.drafting.render_directive = memoised
    _reuse_signers()


def _reuse_signers() -> None:
    """Per worker: open each PKCS#12 signer once (the signer also keeps its pre-signing
    certificate check for a while), as a clerk's signing session does for a batch."""
    from signing.signers.pkcs12 import Pkcs12Signer

    load, signers = Pkcs12Signer.load.__func__, {}

    def memoised(cls, path, password, **kwargs):
        key = (cls, str(path), password, repr(sorted(kwargs.items())))
        if key not in signers:
            signers[key] = load(cls, path, password, **kwargs)
        return signers[key]

    Pkcs12Signer.load = classmethod(memoised)


def _sign_one(job: tuple[dict, str]) -> dict:
    """Sign one corpus document and write its package (atomically) under ``directory``."""
    from api.directive import document_json, sign_directive
    from edoc.edxml import build

    spec, directory = job
    number = str(spec["index"] + 1)
    directive = sign_directive(_WORKER["manifest"], lambda _notation: number,
                               notation=NOTATIONS[spec["kind"]],
                               pad_to_bytes=max(0, spec["size"] - SIGNATURE_BYTES))
    names = dict(generated_communes(GeneratedCommunes(count=COMMUNES)))
    body = document_json(directive, PROVINCE, [(c, names[c]) for c in spec["recipients"]],
                         priority=spec["priority"])
    package = _package(body, directive.pdf, f"{directive.number}-{directive.notation}.pdf")
    data = build(package)
    path = Path(directory) / f"{spec['index']:06d}.edxml"
    tmp = path.with_suffix(".part")
    tmp.write_bytes(data)
    tmp.rename(path)
    return asdict(Entry(spec["index"], path.name, len(directive.pdf), len(data),
                        spec["recipients"], spec["priority"], package.document.document_id,
                        dt.datetime.now(dt.UTC).isoformat()))


def _package(body: dict, pdf: bytes, name: str):
    """The package the province's node would send for this issue body (``Node.issue``): its
    DocumentId, a NEW business block, one trace from the sender, the signed PDF attached."""
    from dataclasses import replace

    from edoc.document import (
        VIETNAM,
        Attachment,
        Business,
        BusinessType,
        DocumentPackage,
        TraceHeader,
    )
    from exchange_axis.node import document_from_json

    document = document_from_json(body["document"])
    document = replace(document, document_id=document.make_document_id())
    return DocumentPackage(document=document, business=Business(BusinessType.NEW),
                           traces=[TraceHeader(PROVINCE[0], dt.datetime.now(VIETNAM))],
                           attachments=[Attachment(name=name, data=pdf)])


def corpus(cache: Path, manifest, kind: str, count: int, log) -> tuple[list[Entry], dict]:
    """The first ``count`` documents of the ``kind`` corpus, signing only what the cache lacks
    (missing, or stale); returns them and how long the signing took."""
    directory = cache / kind
    directory.mkdir(parents=True, exist_ok=True)
    index = directory / "index.jsonl"
    known: dict[int, Entry] = {}
    if index.exists():
        for line in index.read_text("utf-8").splitlines():
            with contextlib.suppress(ValueError, TypeError):
                e = Entry(**json.loads(line))
                known[e.index] = e
    wanted = [i for i in range(count) if i not in known or not known[i].fresh
              or not (directory / known[i].file).exists()]
    t = time.perf_counter()
    if wanted:
        workers = 2 * (os.cpu_count() or 1)
        log(f"signing {len(wanted)} {kind} corpus documents with {workers} worker processes "
            f"(cache: {directory})…")
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(workers, initializer=_worker_init, initargs=(str(manifest.directory),)
                      ) as pool, index.open("a", encoding="utf-8") as out:
            jobs = [(_spec(kind, i), str(directory)) for i in wanted]
            for done, row in enumerate(pool.imap_unordered(_sign_one, jobs, chunksize=2), 1):
                out.write(json.dumps(row) + "\n")
                out.flush()
                known[row["index"]] = Entry(**row)
                if done % 500 == 0:
                    log(f"  {done}/{len(wanted)} signed ({time.perf_counter() - t:.0f} s)")
    seconds = time.perf_counter() - t
    entries = [known[i] for i in range(count)]
    return entries, {"signed": len(wanted), "seconds": round(seconds, 1),
                     "s_per_doc": round(seconds / len(wanted), 3) if wanted else None}


# -- the hub --------------------------------------------------------------------------------------
def lay_out_hub(work: Path, manifest, database_url: str | None,
                verify_processes: int | None = None, communes: int = COMMUNES) -> dict[str, Path]:
    """node.toml of the hub (``communes`` generated communes, 200 by default: the corpus is
    addressed to the first 200; its upstream peer the province) and of the province, whose
    identity the senders borrow (it is never started). ``verify_processes``: the node's setting
    of that name when given (else the node's default)."""
    specs = [NodeSpec("hub", "node-hub", generated=GeneratedCommunes(count=communes),
                      upstream="province", peers=["province"]),
             NodeSpec("province", "node-province", agencies=[PROVINCE], peers=["hub"])]

    def url(name: str, home: Path) -> str:
        return database_url if name == "hub" else f"sqlite:///{home / 'node.sqlite'}"

    def tune(cfg) -> None:
        if verify_processes is not None and cfg.name == "hub":
            cfg.verify_processes = verify_processes

    return layout(work / "nodes", manifest, specs, database_url=url if database_url else None,
                  extra=tune)


# -- the senders ----------------------------------------------------------------------------------
def schedule(entries: list[Entry], directory: Path, senders: int, concurrency: int,
             rng: random.Random) -> list[list[dict]]:
    """Each sender's share in sending order: corpus documents dealt round-robin, and ~3 %
    exact duplicates of a package the same sender sent ``2 × concurrency`` places earlier, and
    one early duplicate per sender (of its first package, after its third), so that even a short
    run on a slow or busy machine checks the first-receipt rule (a duplicate waits for its
    original's answer before it is sent)."""
    gap = 2 * concurrency
    shares: list[list[dict]] = []
    for s in range(senders):
        mine = [{"index": e.index, "path": str(directory / e.file), "recipients": e.recipients,
                 "dup": False} for e in entries[s::senders]]
        out: list[dict] = []
        for i, item in enumerate(mine):
            out.append(item)
            if i == 2:
                out.append({**mine[0], "dup": True})
            elif i > gap and rng.random() < DUPLICATE_SHARE:
                out.append({**mine[i - gap], "dup": True})
        shares.append(out)
    return shares


def sender_main(job: dict) -> None:
    """One sender process: its share, closed loop, results written as JSON to ``job["out"]``."""
    try:
        import uvloop  # noqa: PLC0415 - the node's own event loop, when installed
    except ImportError:
        results = asyncio.run(_send_share(job))
    else:
        results = uvloop.run(_send_share(job))
    Path(job["out"]).write_text(json.dumps(results), encoding="utf-8")


class _Lane:
    """One keep-alive HTTP/1.1 connection over mutual TLS, one request at a time.

    Why not httpx: the senders stand for other machines, yet here they share the hub's two
    cores. httpx sends a 2 MB body through anyio's TLS stream (an ``ssl.SSLObject`` driven from
    Python) and h11; the event loop's own TLS transport does the same work in C. The request is
    the one an outbox sends (same path, headers, body, client certificate), and every answer is
    still checked as a sender checks its receipt."""

    def __init__(self, host: str, port: int, ctx: ssl.SSLContext, server_name: str) -> None:
        self.host, self.port, self.ctx, self.server_name = host, port, ctx, server_name
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(
                self.host, self.port, ssl=self.ctx, server_hostname=self.server_name,
                limit=1 << 20)
        reader, writer = self.reader, self.writer
        assert reader is not None
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        writer.write(f"POST {path} HTTP/1.1\r\nHost: {self.server_name}\r\n{head}"
                     f"Content-Length: {len(body)}\r\n\r\n".encode("latin-1"))
        writer.write(body)
        try:
            await writer.drain()
            status_line = await reader.readuntil(b"\r\n")
            status = int(status_line.split(b" ", 2)[1])
            fields = {}
            while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
                name, _, value = line.decode("latin-1").partition(":")
                fields[name.strip().lower()] = value.strip()
            answer = await reader.readexactly(int(fields.get("content-length", "0")))
        except BaseException:
            self.close()
            raise
        if fields.get("connection", "").lower() == "close":
            self.close()
        return status, answer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _send_share(job: dict) -> dict:
    from urllib.parse import urlsplit

    from exchange_axis.config import TlsFiles
    from exchange_axis.transport import EDXML_CONTENT_TYPE, PACKAGE_PATH, TO_HEADER, client_context

    ctx = client_context(TlsFiles(**job["tls"]))
    items = iter(job["items"])
    waits = {it["index"]: asyncio.Event() for it in job["items"] if it["dup"]}
    firsts: dict[int, bytes] = {}
    records: list[dict] = []
    dry: list[float] = []
    await asyncio.sleep(max(0.0, job["t_start"] - time.monotonic()))
    url = urlsplit(job["url"])
    # a hub on a simulated host (bench/netns.py) is reached at its own address; its
    # certificate names localhost, which the client then asks for by SNI and checks
    server_name = job.get("sni") or url.hostname

    async def one(lane: _Lane, it: dict) -> None:
        if it["dup"]:
            await waits[it["index"]].wait()
        body = _read_uncached(it["path"])
        start = time.monotonic()
        status, answer, error = 0, b"", ""
        try:
            status, answer = await asyncio.wait_for(lane.post(PACKAGE_PATH, body, {
                "Content-Type": EDXML_CONTENT_TYPE, TO_HEADER: ",".join(it["recipients"])}),
                timeout=300.0)
        except (OSError, EOFError, ValueError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError, TimeoutError) as exc:
            error = repr(exc)
        end = time.monotonic()
        ok, why = _check_receipt(answer, job["hub_fp"], it["recipients"]) if status == 200 \
            else (False, error or f"HTTP {status}: {answer[:300]!r}")
        same = None
        if it["dup"]:
            same = answer == firsts.get(it["index"])
        elif it["index"] in waits:
            firsts[it["index"]] = answer
            waits[it["index"]].set()
        records.append({"index": it["index"], "dup": it["dup"], "start": start, "end": end,
                        "status": status, "ok": ok, "same": same, "error": why})

    async def worker() -> None:
        lane = _Lane(url.hostname, url.port, ctx, server_name)
        try:
            while time.monotonic() < job["t_stop"]:
                it = next(items, None)
                if it is None:
                    dry.append(time.monotonic())
                    return
                try:
                    await one(lane, it)
                finally:  # a failed original must not hold its duplicate forever
                    if not it["dup"] and it["index"] in waits:
                        waits[it["index"]].set()
        finally:
            lane.close()

    await asyncio.gather(*(worker() for _ in range(job["concurrency"])))
    return {"records": records, "dry": min(dry) if dry else None}


def _read_uncached(path: str) -> bytes:
    """A corpus package's bytes, its pages then dropped from the page cache: real senders are
    other machines, so the gigabytes of corpus a long run reads must not take this host's
    memory from the hub (whose own writes would then wait on page reclaim)."""
    with open(path, "rb") as f:
        data = f.read()
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    return data


def _check_receipt(answer: bytes, hub_fp: str, recipients: list[str] | None
                   ) -> tuple[bool, str]:
    """The answer is a receipt signed by the hub's pinned certificate giving 01 to every
    recipient (None: to everyone it names), as a sender checks it (``open_sealed``)."""
    from exchange_axis.receipts import open_sealed

    try:
        receipt, _content = open_sealed(answer, expected_fingerprint=hub_fp)
    except Exception as exc:  # noqa: BLE001 - reported as this package's error
        return False, f"bad receipt: {exc}"
    got = {o.agency_code: o for o in receipt.recipients}
    wrong = [c for c in (got if recipients is None else recipients)
             if c not in got or got[c].status != "01"]
    if not wrong:
        return True, ""
    first = got.get(wrong[0])
    return False, (f"{len(wrong)} recipient(s) without 01, e.g. {wrong[0]}: "
                   f"{first.status + ' ' + first.reason_en if first else 'absent'}")


# -- CPU accounting -------------------------------------------------------------------------------
def _stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def _tree(pid: int) -> list[int]:
    """``pid`` and its live descendants (found by walking /proc's parent links: a hub may
    verify in worker processes)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                parents[int(entry.name)] = int(_stat(int(entry.name))[1])
    tree = []
    for p in parents:
        q = p
        while q not in (0, 1, pid) and q in parents:
            q = parents[q]
        if q == pid or p == pid:
            tree.append(p)
    return tree


def tree_cpu(pid: int) -> float:
    """CPU seconds (user+system) of ``pid``, every thread of it, its live descendants and its
    reaped children."""
    total = 0
    for p in _tree(pid):
        with contextlib.suppress(OSError, IndexError):
            f = _stat(p)
            total += int(f[11]) + int(f[12]) + (int(f[13]) + int(f[14]) if p == pid else 0)
    return total / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of all cores so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return float(sum(values) - idle), float(sum(values))


def tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and its live descendants (a hub and its verification workers)."""
    total = 0
    for p in _tree(pid):
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += int(_stat(p)[21]) * os.sysconf("SC_PAGE_SIZE")
    return total


@dataclass
class Snapshot:
    at: float
    hub: float
    senders: float
    me: float
    busy: float
    total: float


def snapshot(hub_pids: list[int], sender_pids: list[int]) -> Snapshot:
    senders = 0.0
    for pid in sender_pids:
        with contextlib.suppress(OSError, IndexError):
            senders += tree_cpu(pid)
    busy, total = machine_cpu()
    return Snapshot(time.monotonic(), sum(tree_cpu(p) for p in hub_pids), senders,
                    time.process_time(), busy, total)


# -- the baseline: the same pipeline alone, in this process ---------------------------------------
def _thread_cpu(ident: int) -> float:
    return time.clock_gettime(time.pthread_getcpuclockid(ident))


def tls_baseline(hub_tls, sender_tls, bodies: list[bytes], handshakes: int = 20) -> dict:
    """Server-side CPU of mutual TLS as the hub runs it (uvicorn's SSL context, asyncio's TLS
    transport) in a thread of its own: ``handshake_ms`` per new connection, ``transfer_ms`` per
    package received over a kept-alive connection and answered with a receipt-sized reply."""
    from uvicorn.config import create_ssl_context

    from exchange_axis.transport import client_context, uvicorn_tls_kwargs

    kw = uvicorn_tls_kwargs(hub_tls)
    server_ctx = create_ssl_context(kw["ssl_certfile"], kw["ssl_keyfile"],
                                    kw["ssl_keyfile_password"], ssl.PROTOCOL_TLS_SERVER,
                                    kw["ssl_cert_reqs"], kw["ssl_ca_certs"], None)
    loop = asyncio.new_event_loop()
    reply = b"r" * 3000

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            while True:
                size = int.from_bytes(await reader.readexactly(8), "big")
                await reader.readexactly(size)
                writer.write(reply)
                await writer.drain()
        writer.close()

    server = loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0,
                                                          ssl=server_ctx))
    port = server.sockets[0].getsockname()[1]
    thread = threading.Thread(target=loop.run_forever, name="tls-baseline", daemon=True)
    thread.start()
    client_ctx = client_context(sender_tls)

    def exchange(conn: ssl.SSLSocket, body: bytes) -> None:
        conn.sendall(len(body).to_bytes(8, "big") + body)
        got = 0
        while got < len(reply):
            got += len(conn.recv(65536))

    def connect() -> ssl.SSLSocket:
        import socket

        return client_ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)),
                                      server_hostname="127.0.0.1")

    try:
        with connect() as conn:  # warm: imports, first handshake, buffers
            exchange(conn, bodies[0])
        t = _thread_cpu(thread.ident)
        for _ in range(handshakes):
            with connect() as conn:
                exchange(conn, b"")
        handshake = (_thread_cpu(thread.ident) - t) / handshakes
        with connect() as conn:
            exchange(conn, b"")
            t = _thread_cpu(thread.ident)
            for body in bodies:
                exchange(conn, body)
            transfer = (_thread_cpu(thread.ident) - t) / len(bodies)
    finally:
        asyncio.run_coroutine_threadsafe(_close(server), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
    return {"handshake_ms": handshake * 1000, "transfer_ms": transfer * 1000}


async def _close(server: asyncio.Server) -> None:
    """Stop listening and let the connection handlers see their clients' end of stream."""
    server.close()
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    if tasks:
        await asyncio.wait(tasks, timeout=5)


class StageClock:
    """Exclusive CPU time (calling thread) per stage: a timed call inside another timed call is
    charged to its own stage and taken off the outer one (the receipt signed inside the arrival
    transaction is ``receipt``, not ``sql``)."""

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()
        self._inner: list[float] = []

    def wrap(self, stage: str, fn):
        def timed(*args, **kwargs):
            self._inner.append(0.0)
            t = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent = time.thread_time() - t
                inner = self._inner.pop()
                self.seconds[stage] += spent - inner
                if self._inner:
                    self._inner[-1] += spent

        return timed


def pipeline_baseline(hub_config: Path, bodies: list[bytes], database_url: str, store: Path,
                      warm: int = 3) -> dict:
    """The hub's own arrival code (``receiver.process``) on a Node built from the hub's
    node.toml, with its own database and store, one package after another in this thread;
    CPU ms per package for each stage, ``other`` and ``total``."""
    import exchange_axis.receiver as receiver_module
    from exchange_axis.config import load
    from exchange_axis.node import Node

    cfg = load(hub_config)
    update = {"database_url": database_url, "store_url": str(store)}
    update["verify_processes"] = 0  # one process: verification in this thread, timed
    cfg = cfg.model_copy(update=update)
    node = Node(cfg)
    clock = StageClock()
    node.verifier.check_pdf = clock.wrap("verify", node.verifier.check_pdf)
    node.store.put = clock.wrap("store", node.store.put)
    node.state.inbox_receipt = clock.wrap("sql", node.state.inbox_receipt)
    node.state.record_arrival = clock.wrap("sql", node.state.record_arrival)
    node.receipt_signer.seal = clock.wrap("receipt", node.receipt_signer.seal)
    parse = receiver_module.parse
    receiver_module.parse = clock.wrap("parse", parse)
    peer = cfg.peers[0].name
    try:
        for body in bodies[:warm]:
            node.receiver.process(body, peer, [])
        clock.seconds.clear()
        total, refused = 0.0, 0
        for body in bodies[warm:]:
            t = time.thread_time()
            status, answer = node.receiver.process(body, peer, [])
            total += time.thread_time() - t
            refused += status != 200 or not _check_receipt(answer, node.own_fingerprint, None)[0]
    finally:
        receiver_module.parse = parse
        node.state.db.dispose()
    n = max(1, len(bodies) - warm)
    stages = {k: clock.seconds[k] * 1000 / n for k in STAGES if k != "tls"}
    return {**stages, "other": total * 1000 / n - sum(stages.values()),
            "total": total * 1000 / n, "documents": n, "refused": refused}


# -- what the hub kept ----------------------------------------------------------------------------
def hub_holdings(database_url: str) -> tuple[set[tuple[str, str, str]], int, int]:
    """(sender, DocumentId, recipient) of every incoming document in the hub's database, how
    many are doubled (a key held more than once, or a document without exactly one incoming
    register entry, or an entry without its document) and how many incoming documents."""
    from sqlalchemy import select

    from storage.db import Database
    from storage.db import models as m

    db = Database(database_url)
    try:
        with db.sessions() as s:
            codes = dict(s.execute(select(m.Agency.id, m.Agency.code)).all())
            docs = s.execute(select(m.Document.id, m.Document.external_id, m.Document.agency_id,
                                    m.Document.meta).where(m.Document.direction == "incoming")
                             ).all()
            entries = Counter(s.execute(select(m.IncomingEntry.document_id)).scalars())
    finally:
        db.dispose()
    keys = Counter(((meta or {}).get("sender"), ext, codes[agency]) for _id, ext, agency, meta
                   in docs)
    ids = {d[0] for d in docs}
    doubled = (sum(c - 1 for c in keys.values()) + sum(1 for d in ids if entries[d] != 1)
               + sum(n for d, n in entries.items() if d not in ids))
    return set(keys), doubled, len(docs)


# -- the hub's own split (py-spy) -----------------------------------------------------------------
#: innermost recognised frame decides a sample's stage (library frames are reached through these)
STAGE_FRAMES = (("receipt", ("exchange_axis/receipts.py",)),
                ("store", ("storage/objects/",)),
                ("sql", ("exchange_axis/state.py", "storage/", "sqlalchemy/")),
                ("verify", ("signing/", "exchange_axis/verification.py")),
                ("parse", ("edoc/edxml/",)),
                ("tls", ("sslproto.py", "/ssl.py")))


def start_profile(pid: int, seconds: float, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        ["py-spy", "record", "--pid", str(pid), "--format", "raw", "--rate", "100",
         "--duration", str(max(1, int(seconds))), "--nonblocking", "--subprocesses",
         "--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def profile_shares(raw: Path) -> dict[str, float]:
    """Share of the hub's samples per stage (and ``other``: the web framework, asyncio…)."""
    counts: Counter[str] = Counter()
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        counts[_stage_of(stack.split(";"))] += int(n)
    total = sum(counts.values()) or 1
    return {k: counts[k] / total for k in (*STAGES, "other")}


def _stage_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        for stage, marks in STAGE_FRAMES:
            if any(mark in frame for mark in marks):
                return stage
    return "other"


# -- the run --------------------------------------------------------------------------------------
@dataclass
class Plan:
    kind: str
    seconds: float
    warmup: float
    senders: int
    concurrency: int
    corpus: int | None  # None: sized from the baseline
    sample: int
    postgres: bool
    profile: bool
    keep: bool
    verify_processes: int | None = None
    #: hub worker counts to measure, one run each on a fresh database and store (N > 1:
    #: PostgreSQL, as deployed); the first one's figures are the top-level ones
    workers: tuple[int, ...] = (1,)
    #: each worker on its own simulated host (bench/netns.py) and core(s)
    netns: bool = False
    #: with ``netns``: the fraction of its cores each simulated host may use (1: all)
    host_cpu: float = 1.0
    communes: int = COMMUNES


def baseline(paths: dict[str, Path], entries: list[Entry], directory: Path, work: Path,
             database_url: str) -> dict:
    """The one-process pipeline on a sample of the corpus (hub not running)."""
    from exchange_axis.config import load

    bodies = [(directory / e.file).read_bytes() for e in entries]
    hub, province = load(paths["hub"]), load(paths["province"])
    tls = tls_baseline(hub.tls, province.tls, bodies)
    stages = pipeline_baseline(paths["hub"], bodies, database_url, work / "baseline-objects")
    return {"tls": tls, "pipeline": stages}


def corpus_size(plan: Plan, base_docs_per_s: float) -> int:
    """Enough distinct documents that the hub cannot run dry: the floor's rate, or what all
    cores could do if the hub ran the measured one-process pipeline on each (+10 %), whichever
    is lower — the hub runs the same code, so it cannot beat that — times the run's length."""
    cpus = os.cpu_count() or 1
    rate = min(TARGET_RATE, 1.1 * cpus * base_docs_per_s)
    return math.ceil(rate * (plan.seconds + plan.warmup))


def drive(plan: Plan, hubs: list[NodeProcess], shares: list[list[dict]], tls: dict,
          hub_fp: str, work: Path, log, sni: str | None = None) -> dict:
    """Start the senders (sender i talks to hub worker i mod N, as a round-robin balancer
    would deal connections), measure the window, collect their records."""
    ctx = multiprocessing.get_context("spawn")
    t_start = time.monotonic() + 8.0  # spawn + imports of the senders
    w0 = t_start + plan.warmup
    w1 = w0 + plan.seconds
    jobs = [{"url": f"https://{hubs[i % len(hubs)].cfg.listen}", "tls": tls, "hub_fp": hub_fp,
             "items": share, "t_start": t_start, "t_stop": w1, "sni": sni,
             "concurrency": plan.concurrency, "out": str(work / f"sender-{i}.json")}
            for i, share in enumerate(shares)]
    procs = [ctx.Process(target=sender_main, args=(job,), name=f"sender-{i}")
             for i, job in enumerate(jobs)]
    for p in procs:
        p.start()
    pids = [p.pid for p in procs]
    hub_pids = [h.proc.pid for h in hubs]
    time.sleep(max(0.0, w0 - time.monotonic()))
    before = snapshot(hub_pids, pids)
    rss = [sum(tree_rss(p) for p in hub_pids)]
    slices = [(time.monotonic(), sum(tree_cpu(p) for p in hub_pids), page_cache_mb())]
    spy = start_profile(hub_pids[0], plan.seconds, work / "hub.pyspy") if plan.profile else None
    log(f"load: {plan.senders} senders × {plan.concurrency} in flight → {len(hubs)} hub "
        f"worker(s), {plan.warmup:.0f} s warm-up then {plan.seconds:.0f} s measured…")
    while (left := w1 - time.monotonic()) > 0:  # the hub's memory through the window
        time.sleep(min(left, RSS_EVERY_S))
        rss.append(sum(tree_rss(p) for p in hub_pids))
        slices.append((time.monotonic(), sum(tree_cpu(p) for p in hub_pids), page_cache_mb()))
    after = snapshot(hub_pids, pids)
    for p in procs:
        p.join(600)
        if p.exitcode != 0:
            raise RuntimeError(f"{p.name} failed (exit {p.exitcode})")
    if spy is not None:
        spy.wait(60)
    results = [json.loads(Path(job["out"]).read_text("utf-8")) for job in jobs]
    return {"w0": w0, "w1": w1, "before": before, "after": after, "results": results,
            "rss": rss, "slices": slices,
            "profile": work / "hub.pyspy" if spy is not None else None}


def figures(plan: Plan, load: dict, base: dict, held: set, entries: list[Entry]) -> dict:
    """Everything the bench reports: the senders' records, the hub's CPU, the baseline."""
    out = sender_figures(load, entries, held)
    out.update(cpu_figures(load, out.pop("_cpu_documents")))
    out.update(memory_figures(load))
    out.update(slice_figures(load))
    out.update(baseline_figures(base, plan.senders * plan.concurrency / max(
        1, out["documents_sent"])))
    out["ratio_vs_baseline"] = round(out["hub_docs_per_s"] / out["baseline_docs_per_s"], 3)
    out.update({"target_docs_per_s": TARGET_RATE, "seconds": plan.seconds,
                "warmup_s": plan.warmup, "senders": plan.senders,
                "concurrency": plan.concurrency, "cpus": os.cpu_count() or 1,
                "loadavg_1m": round(os.getloadavg()[0], 2),
                "database": "postgresql" if plan.postgres else "sqlite",
                "verify_processes": plan.verify_processes})
    if load["profile"] is not None and load["profile"].exists():
        shares = profile_shares(load["profile"])
        out["hub_stage_ms"] = {k: round(v * out["cpu_ms_per_doc"], 2) for k, v in shares.items()}
    return out


def sender_figures(load: dict, entries: list[Entry], held: set) -> dict:
    """Rate and latency in the steady window (up to the first sender running dry, if one did),
    errors, duplicates, and lost packages (no 01 in the receipt, or none in the database)."""
    records = [r for res in load["results"] for r in res["records"]]
    by_index = {e.index: e for e in entries}
    distinct = [r for r in records if not r["dup"]]
    dups = [r for r in records if r["dup"]]
    dry = [res["dry"] for res in load["results"] if res["dry"] is not None]
    w0, w1 = load["w0"], min([load["w1"], *dry])
    window = [r for r in distinct if r["ok"] and w0 < r["end"] <= w1]
    ms = [(r["end"] - r["start"]) * 1000 for r in window]
    lost = sum(1 for r in distinct if not r["ok"] or any(
        (PROVINCE[0], by_index[r["index"]].document_id, c) not in held
        for c in by_index[r["index"]].recipients))
    return {
        "hub_docs_per_s": round(len(window) / (w1 - w0), 2) if w1 > w0 else 0.0,
        "p50_ack_ms": round(percentile(ms, 50), 1) if ms else None,
        "p99_ack_ms": round(percentile(ms, 99), 1) if ms else None,
        "max_ack_ms": round(max(ms), 1) if ms else None,
        "documents": len(window), "documents_sent": len(distinct),
        "duplicates": len(dups), "duplicates_first_receipt": sum(1 for r in dups if r["same"]),
        "errors": sum(1 for r in records if r["status"] != 200 or not r["ok"]),
        "lost": lost, "corpus": len(entries), "corpus_exhausted": bool(dry),
        "window_s": round(max(0.0, w1 - w0), 2),
        "first_errors": sorted({r["error"] for r in records if r["error"]})[:5],
        "_cpu_documents": sum(1 for r in distinct
                              if r["ok"] and w0 < r["end"] <= load["w1"]),
    }


def page_cache_mb() -> float:
    """The host's page cache (``Cached`` of /proc/meminfo), in MB."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("Cached:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def slice_figures(load: dict) -> dict:
    """Per ``RSS_EVERY_S`` slice of the window: the hub's CPU per document accepted in it and
    the host's page cache at its end. A CPU per document that rises through a long run, with
    the page cache near the host's memory, is the kernel reclaiming pages on the write path."""
    ends = sorted(r["end"] for res in load["results"] for r in res["records"]
                  if r["ok"] and not r["dup"])
    cpu, cache = [], []
    for (t0, c0, _), (t1, c1, pc) in itertools.pairwise(load["slices"]):
        n = bisect.bisect_right(ends, t1) - bisect.bisect_right(ends, t0)
        cpu.append(round((c1 - c0) * 1000 / n, 1) if n else None)
        cache.append(pc)
    return {"hub_cpu_ms_per_doc_series": cpu, "page_cache_mb_series": cache}


def memory_figures(load: dict) -> dict:
    """The hub's RSS (with its verification workers) every ``RSS_EVERY_S`` through the window,
    and how much of its growth came in the window's second half (flat memory: little)."""
    series = [round(b / 2**20, 1) for b in load["rss"]]
    half = len(series) // 2
    return {"hub_rss_mb_series": series, "hub_rss_mb_start": series[0],
            "hub_rss_mb_end": series[-1],
            "hub_rss_growth_second_half_mb": round(series[-1] - series[half], 1)
            if len(series) > 2 else None}


def cpu_figures(load: dict, documents: int) -> dict:
    """The hub's CPU per document over the whole measured window, and who used the cores."""
    before, after = load["before"], load["after"]
    span = (after.at - before.at) * (os.cpu_count() or 1)
    return {
        "cpu_ms_per_doc": round((after.hub - before.hub) * 1000 / max(1, documents), 2),
        "hub_cpu_share": round((after.hub - before.hub) / span, 3),
        "senders_cpu_share": round((after.senders - before.senders) / span, 3),
        "bench_cpu_share": round((after.me - before.me) / span, 3),
        "machine_busy_share": round((after.busy - before.busy) / (after.total - before.total), 3),
    }


def baseline_figures(base: dict, handshakes_per_doc: float) -> dict:
    """Stage CPU ms per document of the one-process pipeline; TLS handshakes amortised over the
    documents each kept-alive connection of the load carried."""
    stages = dict(base["pipeline"])
    stages["tls"] = base["tls"]["transfer_ms"] + base["tls"]["handshake_ms"] * handshakes_per_doc
    total = sum(stages[k] for k in (*STAGES, "other"))
    return {
        "stage_ms": {k: round(stages[k], 2) for k in STAGES},
        "stage_other_ms": round(stages["other"], 2),
        "tls_handshake_ms": round(base["tls"]["handshake_ms"], 2),
        "baseline_ms_per_doc": round(total, 2), "baseline_docs_per_s": round(1000 / total, 2),
        "baseline_refused": stages["refused"], "baseline_documents": stages["documents"],
    }


def run(plan: Plan, log=print) -> dict:
    from tests.fixtures.db import create_pg_database, drop_pg_database

    t = time.perf_counter()
    manifest, server, reused = open_pki(cache_root(), log)
    work = Path(tempfile.mkdtemp(prefix="edoc-bench-hub-"))
    databases: list[str] = []

    def database(prefix: str) -> str:
        if not plan.postgres:
            return f"sqlite:///{work / f'{prefix}.sqlite'}"
        databases.append(create_pg_database(f"edoc_bench_{prefix}"))
        return databases[-1]

    try:
        log(f"dev PKI {'reused' if reused else 'created'} (port {manifest.port})")
        paths, base, entries, signing = prepare(plan, manifest, work, database, log)
        setup = time.perf_counter() - t
        runs = []
        for i, n in enumerate(plan.workers):
            if i:  # a fresh hub (database and store) for each worker count
                paths = lay_out_hub(work / f"n{n}-{i}", manifest,
                                    database(f"hub{i}") if plan.postgres else None,
                                    plan.verify_processes, plan.communes)
            one = measure(plan, paths, entries, work, log, n, manifest.port)
            one.update(figures(plan, one.pop("_load"), base, one.pop("_held"), entries))
            one["workers"] = n
            report(one, log)
            runs.append(one)
        out = runs[0]
        if len(runs) > 1:
            out["scaling"] = [{k: r[k] for k in SCALING_KEYS} for r in runs]
            rate = {r["workers"]: r["hub_docs_per_s"] for r in runs}
            if 1 in rate and 2 in rate and rate[1]:
                out["scaling_2_vs_1"] = round(rate[2] / rate[1], 3)
            log("scaling: " + ", ".join(f"N={r['workers']} {r['hub_docs_per_s']:.1f}/s"
                                        for r in runs)
                + (f"; N=2/N=1 {out['scaling_2_vs_1']:.2f}" if "scaling_2_vs_1" in out else ""))
        out.update(setup_s=round(setup, 1), total_s=round(time.perf_counter() - t, 1),
                   corpus_signed_now=signing["signed"], corpus_signing_s=signing["seconds"],
                   netns=plan.netns, host_cpu=plan.host_cpu, communes=plan.communes)
        if plan.keep:
            log(f"kept: {work} {' '.join(databases)}")
        return out
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        if not plan.keep:
            for url in databases:
                drop_pg_database(url)
            shutil.rmtree(work, ignore_errors=True)


def prepare(plan: Plan, manifest, work: Path, database, log) -> tuple:
    """Corpus sample, hub layout, baseline (hub not running), then the corpus the run needs."""
    cache = cache_root()
    first = max(plan.sample + 3, plan.corpus or 0)  # a given size: signed in one go
    sample, signing = corpus(cache, manifest, plan.kind, first, log)
    paths = lay_out_hub(work, manifest, database("hub") if plan.postgres else None,
                        plan.verify_processes, plan.communes)
    log(f"hub laid out with {plan.communes} communes; baseline on {plan.sample} documents…")
    base = baseline(paths, sample[:plan.sample + 3], cache / plan.kind, work,
                    database("baseline"))
    count = plan.corpus or corpus_size(
        plan, 1000 / (base["tls"]["transfer_ms"] + base["pipeline"]["total"]))
    entries, more = corpus(cache, manifest, plan.kind, count, log)
    signed = {"signed": signing["signed"] + more["signed"],
              "seconds": round(signing["seconds"] + more["seconds"], 1)}
    log(f"corpus: {count} distinct {plan.kind} documents ({signed['signed']} signed now in "
        f"{signed['seconds']:.0f} s, the rest cached)")
    return paths, base, entries, signed


def measure(plan: Plan, paths: dict[str, Path], entries: list[Entry], work: Path, log,
            workers: int = 1, pki_port: int = 0) -> dict:
    """Start the hub (``workers`` processes on one database and store), drive it, stop it, and
    read what it kept."""
    from exchange_axis.config import load as load_config
    from exchange_axis.transport import cert_fingerprint_file

    shares = schedule(entries, cache_root() / plan.kind, plan.senders, plan.concurrency,
                      random.Random(20260101))
    province = load_config(paths["province"]).tls  # the senders' identity
    tls = province.model_dump(mode="json")
    hosts = simulated_hosts(plan, workers, pki_port) if plan.netns else []
    hubs: list[NodeProcess] = []
    try:
        hubs = start_workers(paths["hub"], workers, hosts)
        load = drive(plan, hubs, shares, tls, cert_fingerprint_file(hubs[0].cfg.tls.cert),
                     work, log, sni=netns.SNI_HOSTNAME if hosts else None)
    finally:
        for hub in hubs:
            hub.terminate()
        for hub in hubs:
            hub.stop()
        for host in hosts:
            host.down()
    held, doubled, incoming = hub_holdings(hubs[0].cfg.database_url)
    return {"_load": load, "_held": held, "doubled": doubled, "incoming_documents": incoming}


def simulated_hosts(plan: Plan, workers: int, pki_port: int) -> list:
    """One simulated host per worker, each with an equal share of the cores (a worker alone
    gets ``cores / max(workers)`` of them, so N = 1 and N = 2 are one and two such hosts),
    bridged to PostgreSQL and to the dev PKI's server."""
    cpus = os.cpu_count() or 1
    per = max(1, cpus // max(plan.workers))
    ports = [PG_PORT, pki_port]
    hosts = []
    try:
        for i in range(workers):
            cores = [(i * per + k) % cpus for k in range(per)]
            host = netns.Host(i, cores, ports, plan.host_cpu)
            hosts.append(host)
            host.up()
    except BaseException:
        for host in hosts:
            host.down()
        raise
    return hosts


def start_workers(hub_config: Path, workers: int, hosts: list) -> list[NodeProcess]:
    """``workers`` copies of the hub (same database, store and identity, own listen address:
    on its simulated host if any), started together, ready when each answers its health."""
    from exchange_axis.config import dump
    from exchange_axis.config import load as load_config
    from storage.db import upgrade

    cfg = load_config(hub_config)
    if workers == 1 and not hosts:
        return [NodeProcess(hub_config).start()]
    upgrade(cfg.database_url)  # as the deployment's migration job does, before the workers
    procs = []
    for i in range(workers):
        home = hub_config.parent / f"worker-{i}"
        home.mkdir(exist_ok=True)
        host = hosts[i] if hosts else None
        cfg.listen = f"{host.address if host else '127.0.0.1'}:{free_port()}"
        if host is not None and cfg.verify_processes:
            cfg.verify_processes = len(host.cores)  # one per core of its host, as deployed
        (home / "node.toml").write_text(dump(cfg), encoding="utf-8")
        procs.append(NodeProcess(home / "node.toml", prefix=host.run_prefix() if host else None))
    for proc in procs:
        proc.start(wait=False)
    for proc in procs:
        _wait_ready(proc, netns.SNI_HOSTNAME if hosts else None)
    return procs


def _wait_ready(proc: NodeProcess, sni: str | None, timeout: float = 90.0) -> None:
    import httpx

    from exchange_axis.transport import client_context

    deadline = time.monotonic() + timeout
    ext = {"sni_hostname": sni} if sni else None
    with httpx.Client(verify=client_context(proc.cfg.tls), timeout=5.0) as client:
        while True:
            if proc.proc is not None and proc.proc.poll() is not None:
                raise RuntimeError(f"hub worker exited ({proc.proc.returncode}); log:\n"
                                   f"{proc.log.read_text(errors='replace')[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                url = f"https://{proc.cfg.listen}/exchange/v1/health"
                if client.get(url, extensions=ext).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"hub worker {proc.cfg.listen} not ready after {timeout}s")
            time.sleep(0.2)


def report(out: dict, log) -> None:
    """The human lines."""
    log(f"hub ({out['workers']} worker{'s' if out['workers'] > 1 else ''}): "
        f"{out['hub_docs_per_s']:.1f} distinct documents/s over {out['window_s']:.0f} s "
        f"({out['documents']} answered with 01; target {TARGET_RATE:.0f}/s); arrival→01 p50 "
        f"{out['p50_ack_ms']} ms, p99 {out['p99_ack_ms']} ms")
    if out["corpus_exhausted"]:
        log(f"  the hub outran the corpus ({out['corpus']} documents): the window ends when the "
            "first sender ran dry; use --corpus N for more")
    log(f"  duplicates {out['duplicates']} ({out['duplicates_first_receipt']} answered with the "
        f"first receipt), errors {out['errors']}, lost {out['lost']}, doubled {out['doubled']}")
    for line in out["first_errors"]:
        log(f"  error: {line}")
    log(f"  hub memory (RSS, with its verification workers), MB every {RSS_EVERY_S:.0f} s: "
        + " ".join(f"{v:.0f}" for v in out["hub_rss_mb_series"]))
    if "hub_cpu_ms_per_doc_series" in out:
        log(f"  hub CPU ms per document, page cache MB, every {RSS_EVERY_S:.0f} s: "
            + " ".join(f"{c if c is not None else '-'}/{pc:.0f}" for c, pc in
                       zip(out["hub_cpu_ms_per_doc_series"], out["page_cache_mb_series"],
                           strict=True)))
    log(f"  hub CPU {out['cpu_ms_per_doc']:.1f} ms per document; shares of all {out['cpus']} "
        f"cores: hub {out['hub_cpu_share']:.0%}, senders {out['senders_cpu_share']:.0%}, bench "
        f"{out['bench_cpu_share']:.0%}, whole machine {out['machine_busy_share']:.0%} (load "
        f"{out['loadavg_1m']})")
    stages = "  ".join(f"{k} {v:.1f}" for k, v in out["stage_ms"].items())
    log(f"baseline (one process, CPU ms per document): {stages}  other "
        f"{out['stage_other_ms']:.1f} = {out['baseline_ms_per_doc']:.1f} ms → "
        f"{out['baseline_docs_per_s']:.1f} documents/s; hub/baseline "
        f"{out['ratio_vs_baseline']:.2f}")
    if "hub_stage_ms" in out:
        split = "  ".join(f"{k} {v:.1f}" for k, v in out["hub_stage_ms"].items())
        log(f"hub's own split (py-spy, CPU ms per document): {split}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="60 small documents, ~5 s of load (for the test)")
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    parser.add_argument("--seconds", type=float, default=None, help="measured window")
    parser.add_argument("--warmup", type=float, default=None)
    parser.add_argument("--senders", type=int, default=4, help="sender processes")
    parser.add_argument("--concurrency", type=int, default=4, help="requests in flight each")
    parser.add_argument("--corpus", type=int, default=None,
                        help="distinct documents (default: sized from the baseline)")
    parser.add_argument("--sample", type=int, default=None, help="baseline documents")
    parser.add_argument("--postgres", action="store_true",
                        help="the hub on PostgreSQL (127.0.0.1:5432, a fresh database)")
    parser.add_argument("--profile", action="store_true",
                        help="py-spy the hub during the window for its own stage split")
    parser.add_argument("--keep", action="store_true", help="keep the hub's files and database")
    parser.add_argument("--verify-processes", type=int, default=os.cpu_count() or 1,
                        help="the hub's verify_processes (default: one per core, as "
                             "deploy/node.toml recommends; 0 verifies in the node's threads)")
    parser.add_argument("--workers", default="1",
                        help="hub worker counts to measure, e.g. 1,2,4 (N > 1 needs --postgres: "
                             "the workers share one PostgreSQL and one store, as deployed)")
    parser.add_argument("--netns", action="store_true",
                        help="each worker on its own simulated host (network namespace, veth "
                             "link) with its own share of the cores; needs root")
    parser.add_argument("--host-cpu", type=float, default=1.0,
                        help="with --netns: the share of its cores each simulated host may use "
                             "(e.g. 0.75 leaves the rest of each core to the senders, PostgreSQL "
                             "and the kernel in every run, so N = 1 and N = 2 compare fairly)")
    parser.add_argument("--communes", type=int, default=COMMUNES,
                        help=f"communes the hub hosts (default {COMMUNES}; 3321: a province's)")
    args = parser.parse_args(argv)
    if args.profile and shutil.which("py-spy") is None:
        parser.error("--profile needs py-spy on PATH: pip install py-spy (nothing was run)")
    try:
        workers = tuple(int(w) for w in args.workers.split(","))
    except ValueError:
        parser.error(f"--workers takes counts like 1,2,4, not {args.workers!r}")
    if any(w < 1 for w in workers):
        parser.error("--workers: each count must be at least 1")
    if max(workers) > 1 and not args.postgres:
        parser.error("--workers above 1 needs --postgres: hub workers share one PostgreSQL "
                     "(SQLite is the one-process embedded default)")
    if args.profile and max(workers) > 1:
        parser.error("--profile samples one hub process: use it with --workers 1")
    if args.netns and (why := netns.available()) is not None:
        parser.error(f"--netns: {why} (nothing was run)")
    if not 0.05 <= args.host_cpu <= 1.0 or (args.host_cpu < 1.0 and not args.netns):
        parser.error("--host-cpu: a share between 0.05 and 1, with --netns")
    if args.communes < COMMUNES:
        parser.error(f"--communes: at least {COMMUNES} (the corpus is addressed to the first "
                     f"{COMMUNES})")
    quick = args.quick
    plan = Plan(kind="quick" if quick else "full",
                seconds=args.seconds or (5.0 if quick else 120.0),
                warmup=args.warmup if args.warmup is not None else (1.0 if quick else 5.0),
                senders=args.senders, concurrency=args.concurrency,
                corpus=args.corpus or (60 if quick else None),
                sample=args.sample or (20 if quick else 100), postgres=args.postgres,
                profile=args.profile, keep=args.keep, verify_processes=args.verify_processes,
                workers=workers, netns=args.netns, host_cpu=args.host_cpu,
                communes=args.communes)
    out = run(plan, log=(lambda *_a: None) if args.json else print)
    out["quick"] = quick
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
