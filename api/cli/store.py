"""``edoc store``: put, get and check originals in the object store named by ``EDOC_STORE``.

Thin wrapper over :mod:`storage.objects`; errors are printed in Vietnamese with the English text
in parentheses and exit with status 1.
"""

from __future__ import annotations

from pathlib import Path

import typer

from api.settings import get_settings
from edoc.errors import EdocError
from storage.objects import ObjectStore, open_store

app = typer.Typer(
    help="Kho bản gốc đã ký: lưu, lấy, kiểm tra toàn vẹn (object store of signed originals).",
    no_args_is_help=True,
)

_STORE = typer.Option(None, "--store", help="URL kho, mặc định EDOC_STORE (store URL).")


def fail(exc: EdocError) -> None:
    """Print a bilingual refusal and exit 1 (shared by the storage commands)."""
    typer.echo(f"Lỗi: {exc.message_vi}\n  ({exc.message_en})", err=True)
    raise typer.Exit(1)


def _open(url: str | None) -> ObjectStore:
    return open_store(url or get_settings().store_url())


@app.command("put")
def put(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    store: str | None = _STORE,
) -> None:
    """Lưu tệp, in khóa sha256/... (store FILE, print its key)."""
    try:
        typer.echo(_open(store).put(file))
    except EdocError as exc:
        fail(exc)


@app.command("get")
def get(key: str, out: Path, store: str | None = _STORE) -> None:
    """Lấy đối tượng KEY ra tệp OUT, đã kiểm tra mã băm (fetch KEY to OUT, verified)."""
    try:
        size = _open(store).download(key, out)
    except EdocError as exc:
        fail(exc)
        return
    typer.echo(f"{out} ({size} bytes)")


@app.command("check")
def check(store: str | None = _STORE) -> None:
    """Tính lại mã băm mọi đối tượng, báo sai lệch (re-hash everything, report mismatches)."""
    try:
        st = _open(store)
        keys = sum(1 for _ in st.iter_keys())
        problems = st.check()
    except EdocError as exc:
        fail(exc)
        return
    for p in problems:
        typer.echo(f"{p.kind}\t{p.key}\t{p.detail}")
    if problems:
        typer.echo(
            f"Có {len(problems)} vấn đề trên {keys} đối tượng "
            f"({len(problems)} problems in {keys} objects)",
            err=True,
        )
        raise typer.Exit(1)
    typer.echo(f"Toàn vẹn: {keys} đối tượng ({keys} objects intact)")
