"""Bind 127.0.0.1, tell the leader where the agent listens and its pairing code, serve.

WHY: the agent holds the way to a person's signature; it must never be reachable from the
network, so it binds the loopback address and nothing else. The socket is bound before the app
is built, so ``--port 0`` gets a free port whose real number the Host check and the printed
line both use.
"""

from __future__ import annotations

import socket
import sys

import uvicorn

from api.agent.app import Agent, create_app
from api.agent.pairing import Pairing

#: The only address the agent listens on.
LOOPBACK = "127.0.0.1"
#: The port the e-office page looks for by default.
DEFAULT_PORT = 18765


def bind(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1:``port`` (0: a free port); ``ValueError`` if taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((LOOPBACK, port))
    except OSError as exc:
        sock.close()
        raise ValueError(f"Không mở được cổng {LOOPBACK}:{port} ({exc.strerror}); có thể một "
                         f"edoc agent khác đang chạy (cannot listen on {LOOPBACK}:{port}; is "
                         "another edoc agent running?)") from exc
    sock.listen(16)
    sock.set_inheritable(True)
    return sock


def serve(agent: Agent, port: int) -> None:
    """Run until interrupted; print the address and the pairing code once, on stdout."""
    sock = bind(port)
    real_port = sock.getsockname()[1]
    pairing = Pairing()
    app = create_app(agent, port=real_port, pairing=pairing)
    print(f"edoc agent listening on http://{LOOPBACK}:{real_port} for {agent.origin}")
    print(f"Mã ghép nối (pairing code): {pairing.display()} — nhập mã này vào trang văn phòng "
          "điện tử một lần")
    sys.stdout.flush()
    config = uvicorn.Config(app, log_level="warning", access_log=False, server_header=False,
                            date_header=False, proxy_headers=False)
    uvicorn.Server(config).run(sockets=[sock])
