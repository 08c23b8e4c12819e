"""Root of the ``edoc`` command line: registers every command group.

Groups live in their own modules (``api/cli/<group>.py``) so that each capability owns its
commands; this file only wires them together.
"""

from __future__ import annotations

import typer

from api.cli import pki

app = typer.Typer(
    name="edoc",
    help="edoc: ký số, trao đổi và lưu trữ văn bản điện tử của cơ quan nhà nước "
    "(e-office exchange for Vietnamese state agencies).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.add_typer(pki.app, name="pki")


if __name__ == "__main__":  # pragma: no cover
    app()
