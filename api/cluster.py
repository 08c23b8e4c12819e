"""Lay out and run exchange nodes on loopback: used by ``edoc demo``, the tests and the bench.

Each node is a real process (``edoc node serve --config DIR/<name>/node.toml``) with its own
database, object store and TLS identity from the development PKI; they find each other by URL and
know each other by certificate fingerprint, exactly as in a deployment.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from exchange_axis.config import (
    GeneratedCommunes,
    HostedAgency,
    NodeConfig,
    Peer,
    Route,
    TlsFiles,
    WorkerSettings,
    dump,
)
from exchange_axis.transport import cert_fingerprint_file, client_context


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class NodeSpec:
    """One node of a topology: who it is (PKI entity), what it hosts, where it routes."""

    name: str
    entity: str
    agencies: list[tuple[str, str]] = field(default_factory=list)
    generated: GeneratedCommunes | None = None
    routes: list[tuple[str, str]] = field(default_factory=list)
    upstream: str | None = None
    peers: list[str] = field(default_factory=list)
    #: peer name → agency-code patterns it relays for beyond the routing table (``speaks_for``)
    speaks_for: dict[str, list[str]] = field(default_factory=dict)


def ca_bundle(manifest: Any, directory: Path) -> Path:
    """The CA file of every node: the dev sub-CA (issuer of node certificates) and its root."""
    path = directory / "ca-bundle.pem"
    parts = [Path(p).read_bytes() for p in manifest.intermediates] + [manifest.root.read_bytes()]
    path.write_bytes(b"".join(parts))
    return path


def layout(
    directory: Path,
    manifest: Any,
    specs: list[NodeSpec],
    *,
    database_url: Callable[[str, Path], str] | None = None,
    store_url: Callable[[str, Path], str] | None = None,
    worker: WorkerSettings | None = None,
    revocation: str = "online",
    trust_dirs: list[Path] | None = None,
    extra: Callable[[NodeConfig], None] | None = None,
) -> dict[str, Path]:
    """Write DIR/<name>/node.toml for each spec; returns name → config path."""
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    ca = ca_bundle(manifest, directory)
    ports = {s.name: free_port() for s in specs}
    entities = {s.name: manifest.entity(s.entity) for s in specs}
    fps = {name: cert_fingerprint_file(e.cert) for name, e in entities.items()}
    trust = [Path(p).resolve() for p in (trust_dirs if trust_dirs is not None
                                         else [manifest.root])]
    paths = {}
    for spec in specs:
        home = directory / spec.name
        home.mkdir(exist_ok=True)
        e = entities[spec.name]
        cfg = NodeConfig(
            name=spec.name,
            listen=f"127.0.0.1:{ports[spec.name]}",
            database_url=(database_url(spec.name, home) if database_url
                          else f"sqlite:///{home / 'node.sqlite'}"),
            store_url=store_url(spec.name, home) if store_url else str(home / "objects"),
            tls=TlsFiles(cert=Path(e.chain).resolve(), key=Path(e.key).resolve(), ca=ca),
            agencies=[HostedAgency(code=c, name=n) for c, n in spec.agencies],
            generated_communes=spec.generated,
            peers=[Peer(name=p, url=f"https://127.0.0.1:{ports[p]}", fingerprint=fps[p],
                        speaks_for=spec.speaks_for.get(p, [])) for p in spec.peers],
            routes=[Route(pattern=pat, peer=p) for pat, p in spec.routes],
            upstream=spec.upstream,
            worker=worker or WorkerSettings(),
            revocation=revocation,
            trust_dirs=trust,
        )
        if extra:
            extra(cfg)
        path = home / "node.toml"
        path.write_text(dump(cfg), encoding="utf-8")
        paths[spec.name] = path
    return paths


class NodeProcess:
    """A node running as a child process; ``kill()`` is a real SIGKILL."""

    def __init__(self, config_path: Path, *, log: Path | None = None,
                 prefix: list[str] | None = None) -> None:
        """``prefix``: a command the node runs under (``taskset -c 0``, ``ip netns exec X``)."""
        from exchange_axis.config import load  # noqa: PLC0415

        self.path = config_path
        self.cfg = load(config_path)
        self.log = log or config_path.parent / "node.log"
        self.prefix = list(prefix or [])
        self.proc: subprocess.Popen | None = None

    def start(self, *, wait: bool = True, timeout: float = 60.0) -> NodeProcess:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [*self.prefix, sys.executable, "-m", "api.cli.main", "node", "serve", "--config",
                 str(self.path)],
                stdout=out, stderr=subprocess.STDOUT, env=env)
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        with self.admin() as admin:
            while True:
                if self.proc is not None and self.proc.poll() is not None:
                    raise RuntimeError(f"node {self.cfg.name} exited ({self.proc.returncode}); "
                                       f"log:\n{self.log.read_text(errors='replace')[-3000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if admin.get("/exchange/v1/health").status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"node {self.cfg.name} not ready after {timeout}s")
                time.sleep(0.1)

    def admin(self) -> AdminClient:
        return AdminClient(self.cfg)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self) -> None:
        """Ask the node to stop (SIGTERM: graceful); ``stop`` waits for it."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        self.terminate()
        if self.proc and self.proc.poll() is None:
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class AdminClient(httpx.Client):
    """The node's operator API, authenticated with the node's own certificate."""

    def __init__(self, cfg: NodeConfig, timeout: float = 120.0) -> None:
        super().__init__(base_url=f"https://{cfg.listen}", verify=client_context(cfg.tls),
                         timeout=timeout)

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        if response.status_code != 200:
            raise RuntimeError(f"{method} {path}: HTTP {response.status_code} {response.text}")
        return response.json()


@contextlib.contextmanager
def running(paths: dict[str, Path]):
    """Start every node, yield name → NodeProcess, stop them all at the end."""
    procs = {name: NodeProcess(path) for name, path in paths.items()}
    try:
        for p in procs.values():
            p.start(wait=False)
        for p in procs.values():
            p.wait_ready()
        yield procs
    finally:
        for p in procs.values():  # all at once: their shutdowns overlap
            p.terminate()
        for p in procs.values():
            p.stop()


PROVINCE = ("000.00.00.H41", "Ủy ban nhân dân tỉnh Nghệ An")
DISTRICT = ("000.00.32.H41", "Ủy ban nhân dân huyện Nghi Lộc")
LEGACY_COMMUNE = ("000.05.32.H41", "Ủy ban nhân dân xã Nghi Long")
NAMED_COMMUNES = [("000.01.00.H41", "Ủy ban nhân dân phường Trường Vinh"),
                  ("000.02.00.H41", "Ủy ban nhân dân xã Diễn Châu")]


def province_topology(communes: int) -> tuple[list[NodeSpec], list[tuple[str, str]]]:
    """The demo's three nodes and the recipients of a directive to every commune.

    - ``province`` hosts the provincial People's Committee;
    - ``district`` (legacy three-level government) hosts UBND huyện Nghi Lộc and relays to its
      commune, which is hosted on the hub: province → district → hub;
    - ``hub`` hosts ``communes`` two-level communes (since 1 July 2025: directly under the
      province; the first two are the PKI's named communes, the rest generated) and the legacy
      commune.
    """
    named = NAMED_COMMUNES[:communes]
    generated = (GeneratedCommunes(count=communes - len(named), province="H41")
                 if communes > len(named) else None)
    hub_agencies = [*named, LEGACY_COMMUNE]
    specs = [
        NodeSpec("province", "node-province", agencies=[PROVINCE],
                 routes=[("*.*.32.H41", "district"), ("*.H41", "hub")],
                 peers=["district", "hub"]),
        NodeSpec("district", "node-district", agencies=[DISTRICT],
                 routes=[("*.*.32.H41", "hub")], upstream="province",
                 peers=["province", "hub"]),
        NodeSpec("hub", "node-hub", agencies=hub_agencies, generated=generated,
                 routes=[(DISTRICT[0], "district")], upstream="province",
                 peers=["province", "district"],
                 # the province's directives to the district's communes come down through the
                 # district node, a relay the hub's routing table (district → its own agency
                 # only) cannot show
                 speaks_for={"district": [PROVINCE[0]]}),
    ]
    from exchange_axis.config import generated_communes  # noqa: PLC0415

    recipients = [*named, *(generated_communes(generated) if generated else []), LEGACY_COMMUNE]
    return specs, recipients
