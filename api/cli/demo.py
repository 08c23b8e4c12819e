"""``edoc demo``: a province issues a signed directive to every commune, end to end, on loopback.

What runs (embedded defaults: SQLite, local object store, the development PKI):
- the dev PKI is created if absent and its TSA/OCSP/CRL server started;
- three node processes with mutual TLS: the province (UBND tỉnh), a legacy district, and a commune
  hub hosting N communes (two-level government since 1 July 2025) plus the district's commune
  (legacy path province → district → hub);
- the province drafts a two-page directive, the leader signs it (personal, blue), the outgoing
  register numbers it, the clerk seals it (red seal) and it is issued to all communes;
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
    from signing import devpki  # noqa: PLC0415

    if not devpki.has_pki(pki_dir):
        manifest = devpki.create(pki_dir, port=port)
    else:
        manifest = devpki.Manifest.load(pki_dir)
    try:
        server = devpki.make_server(manifest.directory, manifest.host, manifest.port)
    except OSError as exc:
        if _answers(f"{manifest.base_url}/health"):  # `edoc pki serve` already runs it
            return manifest, None
        raise RuntimeError(
            f"Không mở được cổng {manifest.port} cho TSA/OCSP của PKI phát triển ({exc}); "
            f"hãy dừng tiến trình đang dùng cổng này "
            f"(cannot open port {manifest.port} for the dev PKI's TSA/OCSP; stop whatever uses "
            f"it)") from exc
    threading.Thread(target=server.serve_forever, name="devpki", daemon=True).start()
    return manifest, server


def _answers(url: str) -> bool:
    import urllib.request  # noqa: PLC0415

    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return response.status == 200
    except OSError:
        return False


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
    pki_port: int = typer.Option(8765, "--pki-port", help="Cổng TSA/OCSP khi tạo PKI mới."),
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
                    directive = sign_directive(manifest, lambda notation: padmin.call(
                        "POST", "/admin/v1/number",
                        json={"agency": PROVINCE[0], "notation": notation})["number"])
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
