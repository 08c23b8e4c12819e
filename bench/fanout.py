"""Fan-out bench: one 1 MB signed directive from a province to 3,321 communes on 10 hub nodes,
and a steady stream of distinct documents through one hub.

Everything is real: 11 node processes on loopback with mutual TLS, SQLite and a local store per
node, PAdES verification with revocation checks against the dev PKI's OCSP responder. Figures:
- fan-out: seconds from issue until every recipient's 01 is recorded at the province, bytes moved
  (packages + receipts), per-recipient cost; stored once and verified once per hub (checked);
- stream: documents per second through one hub with verification and storage on;
- baseline (same run): single-process ``verify_pdf`` rate on distinct documents, the ceiling a
  hub's verification imposes; the ratio says how much of it the whole exchange keeps.
Last line: one JSON object (``--json`` prints only that). ``--quick`` for a small run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from api.cluster import PROVINCE, NodeSpec, free_port, layout, running  # noqa: E402
from api.directive import document_json, sign_directive  # noqa: E402
from exchange_axis.config import GeneratedCommunes, WorkerSettings, generated_communes  # noqa: E402


def _pki(directory: Path, hubs: int):
    """The dev PKI plus one TLS certificate per hub (``node-hub1``…)."""
    from importlib import resources

    from signing.devpki import create, make_server

    config = directory / "pki.toml"
    default = resources.files("signing.devpki").joinpath("default.toml").read_text("utf-8")
    extra = "".join(f'\n[[nodes]]\nid = "node-hub{i}"\nagency = "000.00.00.H41"\n'
                    f'name = "Nút trục xã {i}"\n' for i in range(1, hubs + 1))
    directory.mkdir(parents=True, exist_ok=True)
    config.write_text(default + extra, encoding="utf-8")
    manifest = create(directory / "pki", port=free_port(), config=config)
    server = make_server(manifest.directory, manifest.host, manifest.port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return manifest, server


def _topology(communes: int, hubs: int) -> tuple[list[NodeSpec], list[tuple[str, str]]]:
    """Hubs own whole code groups (``000.ZZ.YY.H41``, 99 communes per YY) so the province
    routes by prefix with one pattern per group."""
    groups = (communes + 98) // 99
    per_hub = [groups // hubs + (1 if i < groups % hubs else 0) for i in range(hubs)]
    specs = [NodeSpec("province", "node-province", agencies=[PROVINCE],
                      peers=[f"hub{i}" for i in range(1, hubs + 1)])]
    recipients: list[tuple[str, str]] = []
    group = 0
    for i, n in enumerate(per_hub, start=1):
        start = group * 99
        count = max(0, min(n * 99, communes - start))
        spec = GeneratedCommunes(count=count, start=start)
        specs.append(NodeSpec(f"hub{i}", f"node-hub{i}", generated=spec, upstream="province",
                              peers=["province"]))
        recipients += generated_communes(spec)
        for g in range(group, group + n):
            specs[0].routes.append((f"000.*.{50 + g:02d}.H41", f"hub{i}"))
        group += n
    return specs, recipients


def _wait_all(admin, doc_id: str, total: int, timeout: float) -> float:
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        track = admin.call("GET", "/admin/v1/tracking", params={"document_id": doc_id})
        if sum(1 for r in track["recipients"] if r["status"] == "01") >= total:
            return time.perf_counter()
        time.sleep(0.1)
    raise TimeoutError(f"not every recipient answered 01 within {timeout}s")


def _stored_copies(node_dir: Path, sha: str) -> int:
    return sum(1 for p in (node_dir / "objects").rglob(sha))


def run(communes: int, hubs: int, stream_docs: int, size: int, log=print) -> dict:
    from signing.trust import TrustStore
    from signing.validation import clear_caches, verify_pdf

    work = Path(tempfile.mkdtemp(prefix="edoc-fanout-"))
    manifest, server = _pki(work, hubs)
    try:
        specs, recipients = _topology(communes, hubs)
        paths = layout(work / "nodes", manifest, specs,
                       worker=WorkerSettings(concurrency=16, batch=64, poll_interval=0.05))
        log(f"nodes: 1 province + {hubs} hubs, {len(recipients)} communes; signing documents…")
        counter = iter(range(1, 10_000))
        big = sign_directive(manifest, lambda _n: f"{next(counter):02d}", pad_to_bytes=size)
        stream = [sign_directive(manifest, lambda _n: f"{next(counter):02d}")
                  for _ in range(stream_docs)]
        trust = TrustStore.from_dirs([manifest.root], development=True)
        clear_caches()
        t = time.perf_counter()
        for d in stream:
            assert str(verify_pdf(d.pdf, trust=trust, use_cache=False).indication) == \
                "TOTAL_PASSED"
        raw_verify_per_s = len(stream) / (time.perf_counter() - t)
        with running(paths) as nodes:
            province = nodes["province"]
            with province.admin() as admin:
                body = document_json(big, PROVINCE, recipients)
                t0 = time.perf_counter()
                doc_id = admin.call("POST", "/admin/v1/issue", json=body)["document_id"]
                t1 = _wait_all(admin, doc_id, len(recipients), 300)
                fanout_s = t1 - t0
                packages = admin.call("GET", "/admin/v1/packages",
                                      params={"document_id": doc_id})
            package_bytes = sum(len(p["package"]) * 3 // 4 for p in packages)
            hub_names = [s.name for s in specs[1:]]
            verifications = {}
            for name in hub_names:
                with nodes[name].admin() as a:
                    verifications[name] = a.call("GET", "/exchange/v1/health")["verifications"]
            copies = {name: _stored_copies(work / "nodes" / name, big.sha256)
                      for name in hub_names}
            log(f"fan-out: {len(recipients)} recipients, {len(packages)} transfers, "
                f"{fanout_s:.2f} s, {package_bytes / 1e6:.1f} MB moved, "
                f"{fanout_s / len(recipients) * 1000:.2f} ms per recipient")
            log(f"  stored copies per hub: {sorted(set(copies.values()))}; "
                f"verifications per hub: {sorted(set(verifications.values()))}")
            # steady stream: distinct signed documents, each to one commune of hub1
            target = [r for r in recipients if r[0].split(".")[2] == "50"][:1]
            with province.admin() as admin:
                bodies = []
                for d in stream:
                    b = document_json(d, PROVINCE, target)
                    bodies.append(b)
                t0 = time.perf_counter()
                ids = [admin.call("POST", "/admin/v1/issue", json=b)["document_id"]
                       for b in bodies]
                for doc_id in ids:
                    _wait_all(admin, doc_id, 1, 300)
                stream_s = time.perf_counter() - t0
        hub_docs_per_s = len(stream) / stream_s
        log(f"stream through one hub: {len(stream)} documents in {stream_s:.2f} s = "
            f"{hub_docs_per_s:.1f} docs/s (raw verify_pdf in one process: "
            f"{raw_verify_per_s:.1f}/s; ratio {hub_docs_per_s / raw_verify_per_s:.2f})")
        return {
            "recipients": len(recipients), "hubs": hubs, "transfers": len(packages),
            "document_bytes": len(big.pdf), "fanout_seconds": round(fanout_s, 3),
            "bytes_moved": package_bytes,
            "per_recipient_ms": round(fanout_s / len(recipients) * 1000, 3),
            "stored_once_per_node": all(c == 1 for c in copies.values()),
            "verified_once_per_node": all(v == 1 for v in verifications.values()),
            "hub_docs_per_s": round(hub_docs_per_s, 2),
            "raw_verify_per_s": round(raw_verify_per_s, 2),
            "ratio_vs_raw_verify": round(hub_docs_per_s / raw_verify_per_s, 3),
        }
    finally:
        server.shutdown()
        server.server_close()
        with contextlib.suppress(OSError):
            import shutil

            shutil.rmtree(work)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run (198 communes, 2 hubs)")
    parser.add_argument("--json", action="store_true", help="print only the JSON line")
    parser.add_argument("--communes", type=int, default=None)
    parser.add_argument("--hubs", type=int, default=None)
    args = parser.parse_args(argv)
    communes = args.communes or (198 if args.quick else 3321)
    hubs = args.hubs or (2 if args.quick else 10)
    figures = run(communes, hubs, stream_docs=4 if args.quick else 20,
                  size=200_000 if args.quick else 1_000_000,
                  log=(lambda *_a: None) if args.json else print)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
