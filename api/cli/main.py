"""Root of the ``edoc`` command line: registers every command group.

Groups live in their own modules (``api/cli/<group>.py``) so that each capability owns its
commands; this file only wires them together.
"""

from __future__ import annotations

import typer

from api.cli import agent as agent_cli
from api.cli import audit as audit_cli
from api.cli import cms as cms_cli
from api.cli import db as db_cli
from api.cli import demo as demo_cli
from api.cli import edxml as edxml_cli
from api.cli import node as node_cli
from api.cli import pki
from api.cli import sign as sign_cli
from api.cli import store as store_cli
from api.cli import user as user_cli
from api.cli import verify as verify_cli

app = typer.Typer(
    name="edoc",
    help="edoc: ký số, trao đổi và lưu trữ văn bản điện tử của cơ quan nhà nước "
    "(e-office exchange for Vietnamese state agencies).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.add_typer(pki.app, name="pki")
app.add_typer(node_cli.app, name="node")
app.command("demo")(demo_cli.demo)
app.command("verify")(verify_cli.verify)
app.command("sign")(sign_cli.sign)
app.command("agent")(agent_cli.agent)
app.add_typer(cms_cli.app, name="cms")
app.add_typer(edxml_cli.app, name="edxml")
app.add_typer(store_cli.app, name="store")
app.add_typer(db_cli.app, name="db")
app.add_typer(audit_cli.app, name="audit")
app.add_typer(user_cli.app, name="user")
app.add_typer(user_cli.agency_app, name="agency")
app.command("serve", help="Chạy nút và ứng dụng văn phòng điện tử (node + e-office app; "
            "same as 'edoc node serve').")(node_cli.serve)


if __name__ == "__main__":  # pragma: no cover
    app()
