"""``edoc demo``: a province issues a signed directive to every commune, end to end, on loopback.

What runs (embedded defaults: SQLite, local object store, the development PKI):
- the dev PKI is created if absent (on ``--pki-port``, or a free port if that one is busy) and
  its TSA/OCSP/CRL server started, unless ``edoc pki serve`` already serves this same PKI;
- three node processes with mutual TLS: the province (UBND tỉnh), a legacy district, and a commune
  hub hosting N communes (two-level government since 1 July 2025) plus the district's commune
  (legacy path province → district → hub);
- the province drafts a two-page directive, the leader signs it (personal, blue), the outgoing
  register numbers it, the clerk seals it (red seal) and it is issued to all communes; both
  signatures are PAdES B-LT (time-stamped, OCSP/CRL answers embedded), so ``edoc verify`` passes
  on the output later, with no PKI server running;
- every commune's node verifies it and answers 01; the communes' clerks accept it (03);
- the province prints who received what, when, and the signature verdict.

Outputs in ``--out DIR``: the signed PDF, the edXML packages, the reports, and ``summary.json``.
Exit status 0 only if every commune received a document whose signatures are TOTAL_PASSED.
"""

from __future__ import annotations

import base64
import json
import signal
import sys  # noqa: E402
import threading
import time
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from api.settings import get_settings

# Piped output (CI logs, tests) gets a wide table instead of truncated cells.
console = Console(width=None if sys.stdout.isatty() else 160)


def _start_pki(pki_dir: Path, port: int) -> tuple[Any, Any]:
    """The dev PKI's manifest and the TSA/OCSP/CRL server the demo started (``None`` when
    ``edoc pki serve`` already serves this very PKI: the demo then uses it).

    A new PKI is created on ``port``, or on a free port if something already listens there. An
    existing PKI's certificates name its port (OCSP, CRL and caIssuers URLs), so it can only be
    served there: if another service holds that port, the demo stops and says which."""
    from signing import devpki  # noqa: PLC0415

    if not devpki.has_pki(pki_dir):
        host = "127.0.0.1"
        if not _port_free(host, port):
            port = _free_port(host)
        manifest = devpki.create(pki_dir, port=port, host=host)
    else:
        manifest = devpki.Manifest.load(pki_dir)
    try:
        server = devpki.make_server(manifest.directory, manifest.host, manifest.port)
    except (devpki.DevPkiError, OSError):
        if _serves(manifest):  # `edoc pki serve` already runs this PKI
            return manifest, None
        raise RuntimeError(
            f"Cổng {manifest.host}:{manifest.port} mà chứng thư của PKI phát triển {pki_dir} "
            f"ghi (OCSP, CRL, TSA) đang bị một dịch vụ khác, không phải PKI này, chiếm; "
            f"hãy dừng dịch vụ đó, hoặc chạy `edoc pki serve --dir {pki_dir}`, hoặc "
            f"chạy demo với --pki-dir một thư mục mới (PKI mới được tạo trên một cổng trống) "
            f"(port {manifest.host}:{manifest.port}, named in the certificates of the dev PKI "
            f"{pki_dir}, is held by another service, not this PKI; stop it, run `edoc pki serve "
            f"--dir {pki_dir}`, or run the demo with --pki-dir set to a new directory: a new "
            f"PKI is created on a free port)") from None
    threading.Thread(target=server.serve_forever, name="devpki", daemon=True).start()
    return manifest, server


def _port_free(host: str, port: int) -> bool:
    import socket  # noqa: PLC0415

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _free_port(host: str) -> int:
    import socket  # noqa: PLC0415

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _serves(manifest: Any) -> bool:
    """Does the service on the manifest's address serve this PKI (the same root certificate,
    the same TSA/OCSP/CRL URLs)? An `edoc pki serve` of another PKI, or of this directory
    before `edoc pki init --force`, does not."""
    import urllib.request  # noqa: PLC0415

    from cryptography import x509  # noqa: PLC0415
    from cryptography.hazmat.primitives.serialization import Encoding  # noqa: PLC0415

    try:
        with urllib.request.urlopen(f"{manifest.base_url}/health", timeout=3) as response:
            health = json.loads(response.read())
        with urllib.request.urlopen(f"{manifest.base_url}/ca/root.crt", timeout=3) as response:
            served_root = response.read()
        ours = x509.load_pem_x509_certificate(manifest.authority("root").cert.read_bytes())
    except (OSError, ValueError):
        return False
    return served_root == ours.public_bytes(Encoding.DER) and (
        health.get("tsa"), health.get("ocsp"), health.get("crl")
    ) == (manifest.tsa_url, manifest.ocsp_url, manifest.crl_url)


def _statuses(admin: Any, document_id: str) -> dict[str, Any]:
    return admin.call("GET", "/admin/v1/tracking", params={"document_id": document_id})


def _wait_codes(progress: Progress, label: str, admin: Any, document_id: str,
                codes: set[str], total: int, timeout: float) -> dict[str, Any]:
    task = progress.add_task(label, total=total)
    deadline = time.monotonic() + timeout
    while True:
        track = _statuses(admin, document_id)
        done = sum(1 for r in track["recipients"] if r["status"] in codes | {"02"})
        progress.update(task, completed=done)
        if done >= total or time.monotonic() > deadline:
            return track
        time.sleep(0.5)


def demo(
    communes: int = typer.Option(3, "--communes", min=1, max=9999,
                                 help="Số xã/phường trên nút trục xã (communes on the hub)."),
    out: Path = typer.Option(Path("demo-out"), "--out", help="Thư mục kết quả (output dir)."),
    pki_dir: Path | None = typer.Option(None, "--pki-dir", help="Thư mục PKI phát triển "
                                        "(default: EDOC_PKI_DIR or certs-dev)."),
    pki_port: int = typer.Option(8765, "--pki-port", help="Cổng TSA/OCSP khi tạo PKI mới; "
                                 "cổng trống khác nếu cổng này bận (port for a new PKI; a free "
                                 "one if busy)."),
    timeout: float = typer.Option(300.0, help="Thời gian chờ tối đa mỗi bước, giây."),
) -> None:
    """Tỉnh ban hành chỉ thị ký số tới mọi xã, đầu cuối (a signed directive, end to end)."""
    from api.cluster import LEGACY_COMMUNE, PROVINCE, layout, province_topology, running  # noqa: PLC0415
    from api.directive import document_json, sign_directive  # noqa: PLC0415
    from exchange_axis.config import AuditSettings  # noqa: PLC0415

    # SIGTERM (timeout, CI cancel) unwinds like Ctrl-C, so the node processes are stopped too
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    out.mkdir(parents=True, exist_ok=True)
    pki_dir = (pki_dir or get_settings().pki_dir).resolve()
    try:
        manifest, server = _start_pki(pki_dir, pki_port)
    except Exception as exc:  # noqa: BLE001
        console.print(f"[red]Lỗi:[/red] {exc}")
        raise typer.Exit(1) from None
    specs, recipients = province_topology(communes)
    nodes_dir = out / "nodes"

    def audited(cfg: Any) -> None:  # each node time-stamps its audit log through the dev TSA
        cfg.audit = AuditSettings(tsa_url=manifest.tsa_url, anchor_every_seconds=1.0)

    paths = layout(nodes_dir, manifest, specs, extra=audited)
    summary: dict[str, Any] = {"ok": False, "document": {}, "recipients": []}
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeElapsedColumn(), console=console) as progress:
            step = progress.add_task("Khởi động 3 nút (starting nodes)", total=1)
            with running(paths) as nodes:
                progress.update(step, completed=1)
                province, hub = nodes["province"], nodes["hub"]
                with province.admin() as padmin, hub.admin() as hadmin:
                    step = progress.add_task("Soạn, ký, cấp số, đóng dấu (draft, sign, number, "
                                             "seal)", total=1)
                    # B-LT: the revocation data (OCSP, CRLs) travels inside the PDF, so
                    # `edoc verify` passes on the output once the dev PKI's server is gone
                    directive = sign_directive(manifest, lambda notation: padmin.call(
                        "POST", "/admin/v1/number",
                        json={"agency": PROVINCE[0], "notation": notation})["number"],
                        level="B-LT")
                    (out / "directive-leader-signed.pdf").write_bytes(directive.leader_signed)
                    (out / "directive-signed.pdf").write_bytes(directive.pdf)
                    progress.update(step, completed=1)
                    issued = padmin.call("POST", "/admin/v1/issue",
                                         json=document_json(directive, PROVINCE, recipients))
                    doc_id = issued["document_id"]
                    _wait_codes(progress, "Xã nhận và kiểm tra chữ ký, báo 01 (arrived)", padmin,
                                doc_id, {"01", "03"}, len(recipients), timeout)
                    step = progress.add_task("Văn thư xã tiếp nhận, báo 03 (accepted)",
                                             total=len(recipients))
                    hadmin.call("POST", "/admin/v1/status", json={
                        "document_id": doc_id, "code": "03",
                        "recipients": [c for c, _ in recipients]}, timeout=timeout)
                    progress.remove_task(step)
                    track = _wait_codes(progress, "Tỉnh nhận trạng thái 03 (province sees 03)",
                                        padmin, doc_id, {"03"}, len(recipients), timeout)
                    packages = padmin.call("GET", "/admin/v1/packages",
                                           params={"document_id": doc_id})
                    received = hadmin.call("GET", "/admin/v1/inbox")
        _write_outputs(out, packages, track, received)
        from signing.trust import TrustStore  # noqa: PLC0415
        from signing.validation import verify_pdf  # noqa: PLC0415

        report = verify_pdf(directive.pdf, trust=TrustStore.from_dirs([manifest.root],
                                                                      development=True))
        (out / "reports" / "verification.json").write_text(
            json.dumps(report.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
        rows = track["recipients"]
        audit = _audit_trails(paths, manifest)
        ok = len(rows) == len(recipients) and all(
            r["indication"] == "TOTAL_PASSED" and r["status"] in ("01", "03") for r in rows
        ) and all(a["ok"] for a in audit.values())
        summary = {
            "ok": ok,
            "document": {"number": directive.code, "sha256": directive.sha256},
            "recipients": [{"agency_code": r["agency_code"], "name": r["name"],
                            "status": r["status"], "indication": r["indication"],
                            "received_at": r["received_at"]} for r in rows],
            "audit": audit,
        }
        _print_table(track, directive.code, LEGACY_COMMUNE[0])
        console.print("Nhật ký kiểm toán (audit logs): " + "; ".join(
            f"{name} {a['entries']} bản ghi/entries, {a['anchors']} mốc thời gian/anchors, "
            + ("nguyên vẹn (intact)" if a["ok"] else f"HỎNG (broken): {a['reason']}")
            for name, a in audit.items()))
    finally:
        (out / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2),
                                          encoding="utf-8")
        if server is not None:
            server.shutdown()
            server.server_close()
    if not summary["ok"]:
        console.print("[red]Không phải mọi xã đều nhận văn bản hợp lệ "
                      "(not every commune received a valid document)[/red]")
        raise typer.Exit(1)
    console.print(f"[green]Xong.[/green] Kết quả trong {out}/ (summary.json)")
    env = "" if pki_dir == get_settings().pki_dir.resolve() else f"EDOC_PKI_DIR={pki_dir} "
    console.print(f"Kiểm tra lại, không cần dịch vụ PKI (verify again, no PKI service needed): "
                  f"{env}edoc verify {out / 'directive-signed.pdf'}", soft_wrap=True)


def _audit_trails(paths: dict[str, Path], manifest: Any) -> dict[str, dict[str, Any]]:
    """Each node's hash-chained audit log checked after the run, time-stamps included."""
    from exchange_axis.config import load  # noqa: PLC0415
    from signing.tsa import token_verifier  # noqa: PLC0415
    from storage.db import Database  # noqa: PLC0415

    verify = token_verifier([Path(manifest.root)])
    out = {}
    for name, path in paths.items():
        db = Database(load(path).database_url)
        try:
            with db.uow() as uow:
                report = uow.audit.verify(token_verifier=verify)
        finally:
            db.dispose()
        out[name] = {"ok": report.ok, "entries": report.entries, "anchors": report.anchors,
                     "reason": None if report.ok else report.reason_en}
    return out


def _write_outputs(out: Path, packages: list[dict[str, Any]], track: dict[str, Any],
                   received: list[dict[str, Any]]) -> None:
    pkg_dir = out / "packages"
    pkg_dir.mkdir(exist_ok=True)
    for p in packages:
        (pkg_dir / f"{p['id']:04d}-{p['kind']}-to-{p['next_hop']}.edxml").write_bytes(
            base64.b64decode(p["package"]))
    reports = out / "reports"
    reports.mkdir(exist_ok=True)
    (reports / "tracking.json").write_text(json.dumps(track, ensure_ascii=False, indent=2),
                                           encoding="utf-8")
    (reports / "hub-inbox.json").write_text(json.dumps(received, ensure_ascii=False, indent=2),
                                            encoding="utf-8")


def _print_table(track: dict[str, Any], code: str, legacy: str, limit: int = 40) -> None:
    table = Table(title=f"Chỉ thị số {code} — tình hình nhận (delivery by recipient)")
    for col in ("Nơi nhận (recipient)", "Mã định danh", "Trạng thái", "Đến lúc (arrived)",
                "Tiếp nhận (accepted)", "Chữ ký (signature)"):
        table.add_column(col)
    rows = track["recipients"]
    for r in rows[:limit]:
        name = r["name"] + (" (qua huyện)" if r["agency_code"] == legacy else "")
        verdict = r["indication"] or "—"
        colour = "green" if verdict == "TOTAL_PASSED" else "red"
        table.add_row(name, r["agency_code"], r["status"], _hm(r["received_at"]),
                      _hm(r["accepted_at"]), f"[{colour}]{verdict}[/{colour}]")
    if len(rows) > limit:
        table.add_row(f"… và {len(rows) - limit} nơi nhận khác", "", "", "", "", "")
    console.print(table)
    n = track["numbers"]
    console.print(f"Đã gửi {n['sent']}, nhận trong ngày {n['received_same_day']}, "
                  f"tiếp nhận {n['accepted']}, từ chối {n['rejected']}; "
                  f"tỷ lệ ký số {n['signed_share']:.0%}")


def _hm(value: str | None) -> str:
    return value[11:19] if value else "—"
