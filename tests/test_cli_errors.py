"""Every CLI command's foreseeable bad input ends in a message a user can act on: a non-zero
exit, what was wrong (Vietnamese, with English), and never a Python traceback. One case per
command family; each names the thing that was wrong (the file, the database, the key)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli.main import app

MISSING = "/nonexistent-edoc-test"

CASES = {
    "verify a missing file": (["verify", f"{MISSING}.pdf"], f"{MISSING}.pdf"),
    "sign with a missing key file": (
        ["sign", f"{MISSING}.pdf", "/tmp/o.pdf", "--p12", f"{MISSING}.p12", "--password", "x",
         "--as", "personal", "--image", f"{MISSING}.png"], f"{MISSING}.p12"),
    "cms sign a missing file": (["cms", "sign", MISSING, "/tmp/o.p7s", "--p12", f"{MISSING}.p12",
                                 "--password", "x"], MISSING),
    "parse a missing edXML file": (["edxml", "parse", f"{MISSING}.edxml"], f"{MISSING}.edxml"),
    "upgrade an unreachable database": (
        ["db", "upgrade", "--db", "postgresql://nobody:secret@127.0.0.1:1/x"], "127.0.0.1:1"),
    "node status without its config": (["node", "status", "--config", f"{MISSING}.toml"],
                                       f"{MISSING}.toml"),
    "list users without a config": (["user", "list", "--config", f"{MISSING}.toml"],
                                    f"{MISSING}.toml"),
    "import a missing agency list": (["agency", "import", f"{MISSING}.json", "--config",
                                      f"{MISSING}.toml"], f"{MISSING}.json"),
    "serve a PKI that was never made": (["pki", "serve", "--dir", MISSING], MISSING),
    "serve without a config": (["serve", "--config", f"{MISSING}.toml"], f"{MISSING}.toml"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_gets_a_message_not_a_traceback(case: str, tmp_path: Path) -> None:
    argv, named = CASES[case]
    result = CliRunner().invoke(app, argv, env={"EDOC_DB": f"sqlite:///{tmp_path / 'x.db'}"})
    text = " ".join(result.output.split())
    assert result.exit_code not in (0, None), (case, text)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        case, repr(result.exception), text)
    assert "Traceback" not in result.output, (case, text)
    assert named in text, (case, text)
    assert "secret" not in text  # a password in a database URL is never echoed
