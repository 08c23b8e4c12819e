"""PDF signature validation throughput: two-signature (personal + seal) two-page directives.

Measured in one run, on one core:
- ``docs_per_s``: ``signing.verify_pdf`` on documents it has not seen (report cache cold; the
  chain-path and OCSP caches are warm after the first document, as they are in a running
  node — validating 1,000 incoming directives asks the OCSP responder once per signer);
- ``pyhanko_docs_per_s``: the plain pyHanko loop (``PdfFileReader`` + ``validate_pdf_signature``
  per signature, trust roots given, no revocation fetching) on the same documents;
- ``repeat_docs_per_s``: the same bytes again (cache hit: hashing the bytes is the cost);
- ``responder_down_docs_per_s``: the same documents while the OCSP responder and CRL server
  refuse connections (every answer TRY_LATER, nothing cached), and its ratio to the cold rate:
  what a node spends on each arrival it answers "try later" during an outage.

Usage: ``python bench/verify.py [--quick] [--json] [--docs N]``. Targets: ≥ 100 docs/s cold,
≥ 10,000/s repeat. The last line is one JSON object with the figures.

Rates are per CPU-second of this (single-threaded) process — "on one core" — so that a machine
shared with other jobs does not distort them; wall-clock rates are reported beside them
(``*_wall``) and equal them on an idle core.
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.drafting import render_directive  # noqa: E402
from signing import sign_pdf  # noqa: E402
from signing.appearances import PersonalAppearance, SealAppearance  # noqa: E402
from signing.devpki import create, make_server  # noqa: E402
from signing.signers.pkcs12 import Pkcs12Signer  # noqa: E402
from signing.trust import TrustStore  # noqa: E402
from signing.validation import Indication, verify_pdf  # noqa: E402
from signing.validation import pdf as validation_pdf  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_documents(pki, n: int) -> list[bytes]:
    def load(entity):
        e = pki.entity(entity)
        return Pkcs12Signer.load(e.p12, e.password)

    official, agency = load("official-h41"), load("agency-h41")
    docs = []
    for i in range(n):
        doc = render_directive(subject=f"Về việc triển khai văn bản điện tử, đợt {i + 1}")
        personal = sign_pdf(
            doc,
            official,
            check_revocation=False,
            appearance=PersonalAppearance(pki.entity("official-h41").image),
        )
        docs.append(
            sign_pdf(
                personal,
                agency,
                check_revocation=False,
                appearance=SealAppearance(
                    pki.entity("agency-h41").image, number=f"{i + 1}/CT-UBND"
                ),
            )
        )
    return docs


class Clock:
    """CPU and wall time of a block."""

    def __enter__(self):
        self.cpu, self.wall = time.process_time(), time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.cpu = time.process_time() - self.cpu
        self.wall = time.perf_counter() - self.wall


def bench_ours(docs: list[bytes], trust: TrustStore, passes: int) -> tuple[float, float, bool]:
    ok = True
    cpu = wall = 0.0
    for _ in range(passes):
        validation_pdf.clear_cache()  # report cache cold; path/OCSP caches stay warm
        with Clock() as c:
            for d in docs:
                ok &= verify_pdf(d, trust=trust).indication is Indication.TOTAL_PASSED
        cpu, wall = cpu + c.cpu, wall + c.wall
    n = passes * len(docs)
    return n / cpu, n / wall, ok


def bench_pyhanko(docs: list[bytes], trust: TrustStore) -> tuple[float, float, bool]:
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    ok = True
    with Clock() as c:
        for d in docs:
            reader = PdfFileReader(io.BytesIO(d), strict=False)
            vc = ValidationContext(
                trust_roots=trust.roots,
                other_certs=trust.intermediates,
                allow_fetching=False,
                revocation_mode="soft-fail",
            )
            for sig in reader.embedded_signatures:
                ok &= validate_pdf_signature(sig, vc).bottom_line
    return len(docs) / c.cpu, len(docs) / c.wall, ok


def bench_responder_down(docs: list[bytes], trust: TrustStore) -> tuple[float, float, bool]:
    """Verification while the OCSP responder and CRL server refuse connections (after the PKI
    server stopped): every answer is INDETERMINATE/TRY_LATER, none is cached, and each costs
    what a node pays for every arrival it answers "try later" during an outage."""
    from signing.validation import SubIndication, revocation

    ok = True
    revocation.clear_cache()  # no OCSP answer or CRL kept from when the services were up
    validation_pdf.clear_cache()  # nor any report
    with Clock() as c:
        for d in docs:
            report = verify_pdf(d, trust=trust)
            ok &= report.sub_indication is SubIndication.TRY_LATER
    return len(docs) / c.cpu, len(docs) / c.wall, ok


def bench_repeat(doc: bytes, trust: TrustStore, n: int) -> tuple[float, float]:
    verify_pdf(doc, trust=trust)
    with Clock() as c:
        for _ in range(n):
            verify_pdf(doc, trust=trust)
    return n / c.cpu, n / c.wall


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few documents, short run")
    ap.add_argument("--json", action="store_true", help="print only the JSON line")
    ap.add_argument("--docs", type=int, default=None, help="distinct documents to sign")
    args = ap.parse_args(argv)
    n = args.docs or (4 if args.quick else 40)
    passes = 1 if args.quick else 3
    repeat = 2_000 if args.quick else 20_000
    logging.disable(logging.WARNING)
    say = (lambda *a: None) if args.json else print
    with tempfile.TemporaryDirectory() as tmp:
        pki = create(Path(tmp) / "pki", port=_free_port())
        server = make_server(pki.directory, pki.host, pki.port)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            trust = TrustStore.from_dirs([pki.root.parent], development=True)
            t = time.perf_counter()
            docs = make_documents(pki, n + 1)
            say(f"signed {n + 1} two-signature documents in {time.perf_counter() - t:.1f} s")
            warm, docs = docs[0], docs[1:]
            verify_pdf(warm, trust=trust)  # imports, chain path, OCSP answers for both signers
            ours, ours_wall, ours_ok = bench_ours(docs, trust, passes)
            theirs, theirs_wall, theirs_ok = bench_pyhanko(docs, trust)
            again, again_wall = bench_repeat(docs[0], trust, repeat)
        finally:
            server.shutdown()
            server.server_close()
        down, down_wall, down_ok = bench_responder_down(docs, trust)
    result = {
        "docs": n,
        "docs_per_s": round(ours, 1),
        "pyhanko_docs_per_s": round(theirs, 1),
        "ratio_vs_pyhanko": round(ours / theirs, 2),
        "repeat_docs_per_s": round(again, 1),
        "responder_down_docs_per_s": round(down, 1),
        "responder_down_ratio": round(down / ours, 2),
        "responder_down_all_try_later": bool(down_ok),
        "docs_per_s_wall": round(ours_wall, 1),
        "pyhanko_docs_per_s_wall": round(theirs_wall, 1),
        "repeat_docs_per_s_wall": round(again_wall, 1),
        "all_total_passed": bool(ours_ok),
        "pyhanko_all_valid": bool(theirs_ok),
        "cpu_count": os.cpu_count(),
    }
    say("rates per CPU-second of one core [wall-clock]")
    say(f"verify_pdf, cold report cache (path/OCSP cached): {ours:8.1f} docs/s [{ours_wall:.1f}]")
    say(
        f"pyHanko validate_pdf_signature loop:              {theirs:8.1f} docs/s "
        f"[{theirs_wall:.1f}]  ratio {ours / theirs:.2f}x"
    )
    say(f"same bytes again (cache hit):                     {again:8.1f} docs/s [{again_wall:.1f}]")
    say(f"revocation services down (TRY_LATER, not cached): {down:8.1f} docs/s "
        f"[{down_wall:.1f}]  ratio {down / ours:.2f}x")
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
