"""Running ``edoc agent`` for real in tests: the process on a free loopback port, the address and
pairing code it prints once, and a PIN program written by the test (it counts its runs, keeps the
last prompt, answers the PIN in a file or cancels). Used by the agent's own tests and by the web
page's end-to-end test, where Chromium calls the agent as the leader's page does.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

ORIGIN = "https://vanphong.nghean.gov.vn"

#: The PIN program: counts its runs, keeps the last prompt, answers the PIN in ``pin`` (or exits
#: 1 if it reads CANCEL: the leader pressed Cancel); with ``slow`` present it takes 0.3 s and
#: leaves in/out marks, to show two signatures never overlap.
PIN_SCRIPT = """#!/bin/sh
D='{dir}'
echo run >> "$D/count"
echo in >> "$D/trace"
printf '%s' "$EDOC_AGENT_PROMPT" > "$D/prompt"
[ -e "$D/slow" ] && sleep 0.3
echo out >> "$D/trace"
answer=$(cat "$D/pin")
[ "$answer" = CANCEL ] && exit 1
printf '%s\\n' "$answer"
"""


@dataclass
class Agent:
    """A running ``edoc agent`` and its PIN program's files."""

    proc: subprocess.Popen[str]
    port: int
    code: str
    directory: Path
    origin: str = ORIGIN

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, **headers: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30,
                            headers={"Origin": self.origin, **headers})

    def paired(self) -> httpx.Client:
        return self.client(**{"X-Edoc-Pairing": self.code})

    def set_pin(self, pin: str) -> None:
        (self.directory / "pin").write_text(pin)

    @property
    def prompts(self) -> int:
        count = self.directory / "count"
        return len(count.read_text().splitlines()) if count.exists() else 0

    @property
    def last_prompt(self) -> str:
        return (self.directory / "prompt").read_text()


def agent_command(directory: Path, *args: str, origin: str = ORIGIN) -> list[str]:
    script = directory / "askpin.sh"
    script.write_text(PIN_SCRIPT.format(dir=directory))
    script.chmod(0o700)
    return [sys.executable, "-m", "api.cli.main", "agent", "--origin", origin, "--port", "0",
            "--pin-command", str(script), *args]


@contextlib.contextmanager
def run_agent(directory: Path, *args: str, pin: str, origin: str = ORIGIN) -> Iterator[Agent]:
    """Start ``edoc agent`` with ``args``; read its address and pairing code; stop it after."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pin").write_text(pin)
    stderr = (directory / "stderr.txt").open("w")
    proc = subprocess.Popen(agent_command(directory, *args, origin=origin),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr,
                            text=True, cwd=directory)
    try:
        assert proc.stdout is not None
        listening, pairing = proc.stdout.readline(), proc.stdout.readline()
        assert listening.startswith("edoc agent listening on http://127.0.0.1:"), (
            listening, (directory / "stderr.txt").read_text())
        assert listening.rstrip().endswith(f" for {origin}")
        assert pairing.startswith("Mã ghép nối (pairing code): ")
        port = int(listening.split("127.0.0.1:")[1].split()[0])
        code = pairing.split(": ")[1].split()[0]
        assert len(code) == 9 and code[4] == "-" and code.replace("-", "").isdigit()
        yield Agent(proc, port, code, directory, origin)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        stderr.close()
