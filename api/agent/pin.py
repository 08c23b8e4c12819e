"""Asking the leader for the token's PIN (or the PKCS#12 file's password) on his own computer.

WHY: the PIN must never pass through the web page (a script there could keep it), so the agent
asks it itself: through a desktop program (``--pin-command``, an ssh-askpass/pinentry-like
program) or on the agent's terminal. It asks exactly once per signature: a wrong PIN is reported,
never retried, because tokens lock after a few wrong attempts.
"""

from __future__ import annotations

import getpass
import os
import shlex
import shutil
import subprocess
import sys
from typing import Protocol

from api.agent.errors import AgentError

#: How long the leader has to type the PIN before the request is cancelled.
PROMPT_TIMEOUT = 120
#: The environment variable that gives the prompt text to ``--pin-command``.
PROMPT_ENV = "EDOC_AGENT_PROMPT"


def cancelled(vi: str = "Người ký đã hủy nhập mã PIN.",
              en: str = "the signer cancelled the PIN prompt") -> AgentError:
    return AgentError(409, "cancelled", vi, en)


class PinPrompt(Protocol):
    def ask(self, prompt: str) -> str:
        """The secret typed by the leader; :func:`cancelled` if he declined."""
        ...


class CommandPrompt:
    """Run a program (no shell); the prompt is in ``EDOC_AGENT_PROMPT``, the first line of its
    stdout is the secret, a non-zero exit (or no answer within 120 s) means cancelled."""

    def __init__(self, command: str) -> None:
        self.argv = shlex.split(command)
        if not self.argv or shutil.which(self.argv[0]) is None:
            raise ValueError(f"Không chạy được --pin-command {command!r}: không tìm thấy chương "
                             f"trình (--pin-command program not found)")

    def ask(self, prompt: str) -> str:
        try:
            done = subprocess.run(self.argv, env={**os.environ, PROMPT_ENV: prompt},
                                  stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=PROMPT_TIMEOUT, check=False)
        except subprocess.TimeoutExpired as exc:
            raise cancelled("Hết thời gian nhập mã PIN; ký lại từ trang văn phòng điện tử.",
                            "no PIN typed in time; sign again from the e-office page") from exc
        except OSError as exc:
            raise AgentError(500, "prompt_failed",
                             "Không chạy được chương trình hỏi mã PIN (--pin-command).",
                             "cannot run the PIN prompt program (--pin-command)") from exc
        lines = done.stdout.decode("utf-8", "replace").splitlines()
        if done.returncode != 0 or not lines or not lines[0]:
            raise cancelled()
        return lines[0]


class TerminalPrompt:
    """``getpass`` on the agent's own console (the leader started the agent in a terminal)."""

    def ask(self, prompt: str) -> str:
        try:
            secret = getpass.getpass(f"\n{prompt}\n> ")
        except (EOFError, KeyboardInterrupt) as exc:
            raise cancelled() from exc
        if not secret:
            raise cancelled()
        return secret


def choose_prompt(pin_command: str | None) -> PinPrompt:
    """``--pin-command`` if given, else the terminal if stdin is one; ``ValueError`` if the
    agent would have no way to ask the PIN."""
    if pin_command:
        return CommandPrompt(pin_command)
    if sys.stdin is not None and sys.stdin.isatty():
        return TerminalPrompt()
    raise ValueError("Không có cách hỏi mã PIN: chạy edoc agent trong một cửa sổ dòng lệnh hoặc "
                     "dùng --pin-command (no way to ask the PIN: run edoc agent in a terminal or "
                     "give --pin-command)")


def prompt_text(*, origin: str, holder: str, description: str | None,
                secret_name: tuple[str, str]) -> str:
    """The Vietnamese (and English) question, naming the site, the certificate's holder and the
    document as the page described it (control characters removed: the page is not trusted)."""
    lines = [f"{origin} yêu cầu ký số bằng chứng thư của: {holder}",
             f"({origin} asks for a signature with the certificate of {holder})"]
    if description:
        clean = "".join(c if c.isprintable() else " " for c in description).strip()
        lines.append(f"Văn bản (theo trang web / as the page says): {clean}")
    vi, en = secret_name
    lines.append(f"Nhập {vi} để ký (enter the {en} to sign):")
    return "\n".join(lines)
