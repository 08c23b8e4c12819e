"""Benchmark: PAdES B-B signing of a two-page directive with the personal (Decree 30) appearance.

Measured in the same run, on the same file and key:
- ours: ``signing.sign_pdf`` (signer block located by the official's name, number/date fields
  prepared, certificate checked against the local OCSP responder once and cached), one core;
- stock: pyHanko's ``SimpleSigner`` + ``PdfSigner`` with the same image in the same box;
- batch: ``signing.batch.sign_batch`` over N files with 2 worker processes;
- memory: peak RSS increase of a child process signing one large PDF file with ``sign_file``.

Usage: ``python bench/sign.py [--quick] [--json]``. The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.drafting import render_directive  # noqa: E402
from signing.appearances import PersonalAppearance  # noqa: E402
from signing.pades import sign_pdf  # noqa: E402
from signing.signers.pkcs12 import Pkcs12Signer  # noqa: E402


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rate(fn, n: int) -> tuple[float, float]:
    """(documents per wall-clock second, documents per CPU second of this process). The CPU
    figure is what one dedicated core would do; the wall figure suffers when the machine is
    shared (see the load average printed with the results)."""
    fn()  # warm-up: imports, caches
    t, c = time.perf_counter(), time.process_time()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - t), n / (time.process_time() - c)


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _stock(doc: bytes, entity, box) -> float:
    from pyhanko.pdf_utils.images import PdfImage
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigFieldSpec, SigSeedSubFilter
    from pyhanko.stamp import StaticStampStyle

    stock = signers.SimpleSigner.load_pkcs12(str(entity.p12), passphrase=entity.password.encode())

    def one():
        w = IncrementalPdfFileWriter(io.BytesIO(doc))
        meta = signers.PdfSignatureMetadata(field_name="Sig1", subfilter=SigSeedSubFilter.PADES)
        style = StaticStampStyle(background=PdfImage(str(entity.image)), border_width=0)
        ps = signers.PdfSigner(meta, stock, stamp_style=style,
                               new_field_spec=SigFieldSpec("Sig1", on_page=-1, box=box))
        out = io.BytesIO()
        ps.sign_pdf(w, output=out)
        return out.getvalue()

    return one


def _big_pdf(path: Path, size: int) -> None:
    """The directive with an embedded attachment of ``size`` random bytes (incompressible)."""
    from pyhanko.pdf_utils import embed
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    w = IncrementalPdfFileWriter(io.BytesIO(render_directive()))
    spec = embed.FileSpec(
        file_spec_string="phu-luc.bin",
        embedded_data=embed.EmbeddedFileObject.from_file_data(
            w, data=os.urandom(size), mime_type="application/octet-stream"),
    )
    embed.embed_file(w, spec)
    with path.open("wb") as f:
        w.write(f)


# Peak memory is read from /proc/self/status (VmHWM): unlike ru_maxrss it starts afresh at
# exec, so the bench process's own memory does not leak into the figure.
_MEM_CHILD = r"""
import sys, json
def hwm_kb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
sys.path.insert(0, sys.argv[1])
from signing.pades import sign_file
from signing.signers.pkcs12 import Pkcs12Signer
from signing.appearances import PersonalAppearance
signer = Pkcs12Signer.load(sys.argv[2], sys.argv[3])
before = hwm_kb()
sign_file(sys.argv[4], sys.argv[5], signer, appearance=PersonalAppearance(sys.argv[6]),
          check_revocation=False)
after = hwm_kb()
print(json.dumps({"before_kb": before, "after_kb": after}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes, a few seconds")
    ap.add_argument("--json", action="store_true", help="print only the JSON line")
    args = ap.parse_args()
    n_ours, n_stock, n_batch, big_mb = (40, 6, 100, 20) if args.quick else (300, 25, 1000, 200)
    say = (lambda *a: None) if args.json else print

    from signing.devpki import create, make_server

    with tempfile.TemporaryDirectory(prefix="edoc-bench-") as tmp:
        tmp = Path(tmp)
        pki = create(tmp / "pki", port=_free_port())
        server = make_server(pki.directory, pki.host, pki.port)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            e = pki.entity("official-h41")
            doc = render_directive()
            signer = Pkcs12Signer.load(e.p12, e.password)
            appearance = PersonalAppearance(e.image)
            first = sign_pdf(doc, signer, appearance=appearance)  # OCSP check, then cached
            from pyhanko.pdf_utils.reader import PdfFileReader

            rect = PdfFileReader(io.BytesIO(first)).embedded_signatures[0].sig_field["/Rect"]
            box = tuple(float(v) for v in rect)

            load = os.getloadavg()[0]
            say(f"machine: {os.cpu_count()} cores, load average {load:.1f}")
            ours, ours_cpu = _rate(lambda: sign_pdf(doc, signer, appearance=appearance), n_ours)
            say(f"ours  sign_pdf B-B + personal appearance: {ours:7.1f} docs/s wall, "
                f"{ours_cpu:7.1f} docs per CPU-second (1 core)")
            stock, stock_cpu = _rate(_stock(doc, e, box), n_stock)
            say(f"stock pyHanko SimpleSigner, same box:      {stock:7.1f} docs/s wall, "
                f"{stock_cpu:7.1f} docs per CPU-second (1 core)")
            say(f"speed-up: {ours / stock:.1f}x wall, {ours_cpu / stock_cpu:.1f}x CPU")

            from signing.batch import Pkcs12Source, sign_batch

            inbox = tmp / "inbox"
            inbox.mkdir()
            for i in range(n_batch):
                (inbox / f"cv-{i:04d}.pdf").write_bytes(doc)
            cpu0 = _children_cpu()
            report = sign_batch(sorted(inbox.iterdir()), tmp / "out",
                                key=Pkcs12Source(str(e.p12), e.password), workers=2,
                                appearance=appearance)
            assert report.ok, report.failed[:3]
            batch_rate = len(report.items) / report.seconds
            batch_cpu = _children_cpu() - cpu0  # both workers, including their start-up
            say(f"batch {n_batch} docs, 2 workers:            {batch_rate:7.1f} docs/s wall "
                f"({batch_cpu / n_batch * 1000:.1f} ms CPU per document in the workers; "
                f"{2 * n_batch / batch_cpu:.1f} docs/s on 2 dedicated cores)")

            big = tmp / "big.pdf"
            _big_pdf(big, big_mb * 1024 * 1024)
            size = big.stat().st_size
            out = subprocess.run(
                [sys.executable, "-c", _MEM_CHILD, str(ROOT), str(e.p12), e.password, str(big),
                 str(tmp / "big-signed.pdf"), str(e.image)],
                capture_output=True, text=True, check=True,
            )
            mem = json.loads(out.stdout.strip().splitlines()[-1])
            peak = mem["after_kb"] * 1024
            increase = max(0, (mem["after_kb"] - mem["before_kb"]) * 1024)
            say(f"large PDF {size / 2**20:.0f} MB: peak RSS {peak / 2**20:.0f} MB "
                f"(+{increase / 2**20:.0f} MB while signing; {peak / size:.2f}x file size)")
        finally:
            server.shutdown()
            server.server_close()
    result = {
        "docs_per_s": round(ours, 1),
        "stock_pyhanko_docs_per_s": round(stock, 1),
        "speedup_vs_stock_pyhanko": round(ours / stock, 2),
        "docs_per_cpu_s": round(ours_cpu, 1),
        "stock_pyhanko_docs_per_cpu_s": round(stock_cpu, 1),
        "speedup_vs_stock_pyhanko_cpu": round(ours_cpu / stock_cpu, 2),
        "load_average": round(load, 2),
        "cores": os.cpu_count(),
        "batch_docs": n_batch,
        "batch_workers": 2,
        "batch_docs_per_s": round(batch_rate, 1),
        "batch_docs_per_s_on_2_dedicated_cores": round(2 * n_batch / batch_cpu, 1),
        "large_pdf_mb": round(size / 2**20, 1),
        "large_pdf_peak_rss_mb": round(peak / 2**20, 1),
        "large_pdf_rss_increase_mb": round(increase / 2**20, 1),
        "large_pdf_peak_rss_over_file_size": round(peak / size, 3),
        "large_pdf_rss_increase_over_file_size": round(increase / size, 3),
        "quick": args.quick,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
