"""``edoc node``: run an exchange node and look at its queues.

``serve`` runs the node (HTTPS with mutual TLS, the outbox worker) until stopped. ``status`` asks a
running node, with the node's own certificate, for its queues and recent failures; ``retry`` puts
failed transfers back in the queue.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from exchange_axis.config import load, require_files
from exchange_axis.errors import ExchangeError

app = typer.Typer(help="Nút trao đổi văn bản (exchange node).", no_args_is_help=True)

_CONFIG = typer.Option(Path("node.toml"), "--config", "-c", help="Tệp cấu hình nút (node.toml).")


def fail(exc: Exception) -> None:
    """One bilingual error line on stderr and exit 1 (the node and user commands)."""
    vi = getattr(exc, "message_vi", None)
    text = f"{vi}\n  ({exc.message_en})" if vi else str(exc)
    Console(stderr=True).print(f"[red]Lỗi:[/red] {text}", highlight=False)
    raise typer.Exit(1)


@app.command("serve")
def serve(config: Path = _CONFIG) -> None:
    """Chạy nút (run the node: HTTPS mTLS + outbox worker)."""
    from api.node_app import serve as run  # noqa: PLC0415
    from api.office.settings import load_office  # noqa: PLC0415

    try:
        cfg = load(config)
        require_files(cfg, config)
        office = load_office(config)
    except ExchangeError as exc:
        fail(exc)
        return
    run(cfg, office)


@app.command("status")
def status(config: Path = _CONFIG, as_json: bool = typer.Option(False, "--json")) -> None:
    """Hàng đợi và lỗi gần đây (queues and recent failures)."""
    from api.cluster import AdminClient  # noqa: PLC0415

    try:
        cfg = load(config)
        with AdminClient(cfg, timeout=10) as admin:
            report = admin.call("GET", "/admin/v1/queue")
    except (ExchangeError, RuntimeError, OSError) as exc:
        fail(exc)
        return
    except Exception as exc:  # noqa: BLE001 - httpx errors: the node is not running
        fail(ExchangeError(f"Không kết nối được nút {cfg.listen}: {exc}; hãy chạy "
                            "`edoc node serve`",
                            f"cannot reach the node at {cfg.listen}: {exc}; is "
                            "`edoc node serve` running?"))
        return
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    console = Console()
    table = Table(title=f"Nút {cfg.name} — hàng đợi gửi (outbox)")
    table.add_column("trạng thái / state")
    table.add_column("số lượng / count", justify="right")
    for state, count in sorted(report["counts"].items()):
        table.add_row(state, str(count))
    console.print(table)
    if report["failures"]:
        failures = Table(title="Lỗi gần đây (recent failures)")
        for col in ("id", "next hop", "attempts", "error"):
            failures.add_column(col)
        for f in report["failures"]:
            failures.add_row(str(f["id"]), f["next_hop"], str(f["attempts"]), f["error"][:120])
        console.print(failures)


@app.command("retry")
def retry(config: Path = _CONFIG, row: int | None = typer.Option(None, "--id")) -> None:
    """Gửi lại các chuyển giao thất bại (operator retry of failed transfers)."""
    from api.cluster import AdminClient  # noqa: PLC0415

    try:
        cfg = load(config)
        with AdminClient(cfg, timeout=10) as admin:
            result = admin.call("POST", "/admin/v1/retry", json={"id": row})
    except Exception as exc:  # noqa: BLE001
        fail(exc)
        return
    typer.echo(f"Đã đưa lại {result['requeued']} chuyển giao vào hàng đợi "
               f"({result['requeued']} transfers requeued)")
