"""``edoc agent``: run the leader's local signing agent for one e-office site.

Thin wrapper over :mod:`api.agent`: it checks the options, sets up the key and the PIN prompt,
and serves. A refusal to start is shown in Vietnamese with English in parentheses, exit 1.
"""

from __future__ import annotations

from pathlib import Path

import typer

from signing.errors import SigningError


def _fail(vi_en: str) -> None:
    typer.echo(f"Lỗi: {vi_en}", err=True)
    raise typer.Exit(1)


def agent(
    origin: str = typer.Option(..., "--origin", help="Trang văn phòng điện tử được phép dùng "
                               "agent, dạng https://tên-miền[:cổng] (the e-office origin)."),
    pkcs11_lib: Path | None = typer.Option(None, "--pkcs11-lib", help="Thư viện PKCS#11 (.so)."),
    token: str | None = typer.Option(None, "--token", help="Nhãn token (token label)."),
    key_label: str | None = typer.Option(None, "--key-label", help="Nhãn khóa trên token."),
    p12: Path | None = typer.Option(None, "--p12", help="Tệp PKCS#12 thay cho token "
                                    "(development fallback instead of a token)."),
    cert: Path | None = typer.Option(None, "--cert", help="Chứng thư (PEM) thay cho trên token."),
    chain: Path | None = typer.Option(None, "--chain", help="Chuỗi CA (PEM) (CA chain)."),
    port: int | None = typer.Option(None, "--port", help="Cổng trên 127.0.0.1, mặc định 18765; "
                                    "0 = cổng trống bất kỳ (port; 0 = any free port)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Chỉ chấp nhận 127.0.0.1 "
                             "(only 127.0.0.1 is accepted)."),
    pin_command: str | None = typer.Option(
        None, "--pin-command", help="Chương trình hỏi mã PIN (như ssh-askpass): lời nhắc trong "
        "EDOC_AGENT_PROMPT, dòng đầu stdout là PIN (askpass-like PIN program)."),
) -> None:
    """Agent ký số cục bộ cho trang văn phòng điện tử: đọc chứng thư và ký giá trị băm bằng
    token của lãnh đạo (local signing agent for the e-office page; Ctrl-C stops)."""
    from api.agent.app import Agent
    from api.agent.guard import normalise_origin
    from api.agent.keys import FileKeys, KeySource, TokenKeys
    from api.agent.pin import choose_prompt
    from api.agent.server import DEFAULT_PORT, LOOPBACK, serve

    if host != LOOPBACK:
        _fail(f"edoc agent chỉ lắng nghe trên {LOOPBACK}, không nhận --host {host} "
              f"(edoc agent listens on {LOOPBACK} only; --host {host} refused)")
    if bool(p12) == bool(pkcs11_lib) or (pkcs11_lib and not token):
        _fail("Cần đúng một nguồn khóa: --pkcs11-lib LIB --token NHÃN, hoặc --p12 TỆP "
              "(give exactly one key: --pkcs11-lib LIB --token LABEL, or --p12 FILE)")
    try:
        allowed = normalise_origin(origin)
        prompt = choose_prompt(pin_command)
        keys: KeySource
        if p12 is not None:
            password = None if cert else prompt.ask(
                f"Nhập mật khẩu tệp {p12.name} để đọc chứng thư "
                f"(enter the password of {p12.name} to read its certificate):")
            keys = FileKeys.open(p12, password, cert=cert, chain=chain)
        else:
            assert pkcs11_lib is not None and token is not None
            keys = TokenKeys(pkcs11_lib, token, key_label, cert=cert, chain=chain)
        serve(Agent(allowed, keys, prompt), DEFAULT_PORT if port is None else port)
    except ValueError as exc:
        _fail(str(exc))
    except SigningError as exc:
        _fail(f"{exc.message_vi} ({exc.message_en})")
