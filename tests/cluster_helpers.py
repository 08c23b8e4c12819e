"""Helpers of the tests that run a hub as several worker processes, or crash its parts: the
province → hub → ward topology, one node.toml per hub worker, a TCP balancer in front of the
workers, and the readers that count (document, recipient) pairs in the nodes' databases.

Shared by ``tests/test_hub_workers.py`` and ``tests/test_crash_campaign_pg.py``: one balancer,
one topology and one way of counting for both.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from api.cluster import LEGACY_COMMUNE, NAMED_COMMUNES, PROVINCE, NodeSpec, free_port
from exchange_axis.config import dump, load
from storage.db import models as m
from tests.exchange_helpers import db_counts, scalars

WARD = LEGACY_COMMUNE  # hosted downstream of the hub, on its own node
COMMUNES = [*NAMED_COMMUNES, WARD]


# -- a TCP balancer in front of the workers ---------------------------------------------------
class TcpBalancer:
    """Round-robin TCP forwarding of whole connections to live backends, as haproxy ``mode
    tcp`` does: bytes are not looked at, so mutual TLS stays between the peer and the worker.
    A backend refusing the connection (a killed worker) is skipped."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.backends: list[tuple[str, int]] = []
        self.connections: Counter[int] = Counter()
        self._turn = itertools.count()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> TcpBalancer:
        threading.Thread(target=self._accept, name="balancer", daemon=True).start()
        return self

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        self.sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream = self._connect()
        if upstream is None:
            client.close()
            return
        threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()
        _pump(client, upstream)

    def _connect(self) -> socket.socket | None:
        for _ in range(len(self.backends)):
            backend = self.backends[next(self._turn) % len(self.backends)]
            try:
                conn = socket.create_connection(backend, timeout=2)
            except OSError:
                continue
            conn.settimeout(None)
            self.connections[backend[1]] += 1
            return conn
        return None


def _pump(src: socket.socket, dst: socket.socket) -> None:
    """Copy one direction until it ends, then end the whole connection (both directions): a
    worker killed mid-request resets the peer's connection, as a real balancer does."""
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
        src.close()


# -- the topology -----------------------------------------------------------------------------
def hub_and_ward_specs() -> list[NodeSpec]:
    """province → hub (the named communes) → ward (one commune, its own node): the hub both
    receives (documents from the province, the ward's statuses) and sends from its outbox
    (relays to the ward, the ward's statuses onwards to the province)."""
    return [
        NodeSpec("province", "node-province", agencies=[PROVINCE], routes=[("*.H41", "hub")],
                 peers=["hub"]),
        NodeSpec("hub", "node-hub", agencies=NAMED_COMMUNES, routes=[(WARD[0], "ward")],
                 upstream="province", peers=["province", "ward"]),
        NodeSpec("ward", "node-district", agencies=[WARD], upstream="hub", peers=["hub"]),
    ]


def worker_configs(hub: Path, count: int) -> list[Path]:
    """The hub's node.toml, once per worker: identical but for the listen port."""
    cfg = load(hub)
    paths = []
    for i in range(count):
        home = hub.parent / f"worker-{i}"
        home.mkdir()
        cfg.listen = f"127.0.0.1:{free_port()}"
        (home / "node.toml").write_text(dump(cfg), encoding="utf-8")
        paths.append(home / "node.toml")
    return paths


# -- reading the nodes' databases -------------------------------------------------------------

def lay_out_balanced_hub(tmp: Path, manifest, balancer: TcpBalancer, hub_db: str,
                         hub_store: str, worker, count: int) -> dict[str, Path]:
    """node.toml of province → hub → ward, the hub on ``hub_db`` / ``hub_store`` and reached by
    its peers through ``balancer``; the others on SQLite and a local store. Returns the paths,
    with ``hub-<i>`` for each of the ``count`` worker copies of the hub's node.toml."""
    from api.cluster import layout  # noqa: PLC0415

    def via_balancer(cfg) -> None:
        for peer in cfg.peers:
            if peer.name == "hub":
                peer.url = balancer.url

    paths = layout(tmp, manifest, hub_and_ward_specs(), worker=worker, extra=via_balancer,
                   database_url=lambda name, home: hub_db if name == "hub"
                   else f"sqlite:///{home / 'node.sqlite'}",
                   store_url=lambda name, home: hub_store if name == "hub"
                   else str(home / "objects"))
    for i, path in enumerate(worker_configs(paths["hub"], count)):
        paths[f"hub-{i}"] = path
    return paths

def incoming_pairs(db_url: str, pairs: set[str]) -> Counter[str]:
    """"DocumentId|agency" of every incoming copy of the documents named in ``pairs`` (held
    by any agency, expected or not): how often each copy is held."""
    ids = {p.split("|")[0] for p in pairs}
    return Counter(scalars(db_url, select(m.Document.external_id + "|" + m.Agency.code)
                           .join(m.Agency, m.Agency.id == m.Document.agency_id)
                           .where(m.Document.direction == "incoming",
                                  m.Document.external_id.in_(ids))))


def arrived_pairs(db_url: str) -> Counter[str]:
    """"DocumentId|agency" of every 01 the sender recorded (its tracking's events)."""
    return Counter(scalars(db_url, select(m.StatusEvent.external_document_id + "|"
                                          + m.StatusEvent.agency_code)
                           .where(m.StatusEvent.status_code == "01")))


def outbox_idle(db_url: str) -> bool:
    """Nothing left to send: every outbox row delivered."""
    return set(db_counts(db_url)["outbox"]) <= {"delivered"}


def recipients_for(n: int) -> list[tuple[str, str]]:
    """One to three communes, varying with n, the ward's commune (a relay) in two of three."""
    chosen = [COMMUNES[(n + k) % len(COMMUNES)] for k in range(1 + n % len(COMMUNES))]
    return sorted(chosen)

