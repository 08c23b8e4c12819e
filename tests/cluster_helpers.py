"""Helpers of the tests that run a hub as several worker processes, or crash its parts: the
province → hub → ward topology, one node.toml per hub worker, a TCP balancer in front of the
workers, and the readers that count (document, recipient) pairs in the nodes' databases.

Shared by ``tests/test_hub_workers.py`` and ``tests/test_crash_campaign_pg.py``: one balancer,
one topology and one way of counting for both.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import socket
import threading
from collections import Counter
from pathlib import Path

from sqlalchemy import func, select

from api.cluster import LEGACY_COMMUNE, NAMED_COMMUNES, PROVINCE, NodeProcess, NodeSpec, free_port
from exchange_axis.config import dump, load
from exchange_axis.receipts import Receipt
from storage.db import models as m
from tests.exchange_helpers import db_counts, outbox_backlog, scalars

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


def _ward_answers(hub_db: str) -> list[str]:
    """What the ward's receipts said to the hub's relays, outcomes other than 01 only (a
    time-out must show whether the ward refused the relayed copies, and why)."""
    o = m.OutboxItem
    out = []
    for row in scalars(hub_db, select(o.receipt).where(o.next_hop == "ward",
                                                      o.kind == "document",
                                                      o.receipt.is_not(None))):
        receipt = Receipt.from_bytes(base64.b64decode(json.loads(row)["receipt"]))
        out += [f"{receipt.document_id}|{r.agency_code} {r.status} {r.reason_en}"
                for r in receipt.recipients if r.status != "01"]
    return out


def why_unanswered(expected: set[str], province: NodeProcess, ward: NodeProcess,
                   hub: list[NodeProcess]) -> str:
    """What is still missing at the province, what it recorded for those pairs, what the ward
    holds and answered, what each node refused and each node's undelivered outbox rows with
    their errors: a time-out seen once must say whether it was slowness or a lost document."""
    province_db, ward_db = province.cfg.database_url, ward.cfg.database_url
    hub_db = hub[0].cfg.database_url
    missing = sorted(expected - set(arrived_pairs(province_db)))
    lines = [f"{len(missing)} pairs without 01 at the province, e.g. {missing[:5]}"]
    ids = [p.split("|")[0] for p in missing]
    lines.append("what the province recorded for them: " + repr(scalars(province_db, select(
        m.StatusEvent.external_document_id + "|" + m.StatusEvent.agency_code + " "
        + m.StatusEvent.status_code + " " + func.coalesce(m.StatusEvent.description, "-"))
        .where(m.StatusEvent.external_document_id.in_(ids)))[:8]))
    lines.append(f"copies held at the hub: {sorted(incoming_pairs(hub_db, set(missing)))[:5]}")
    lines.append(f"copies held at the ward: {sorted(incoming_pairs(ward_db, set(missing)))[:5]}")
    lines.append(f"the ward's answers to the hub's relays: {_ward_answers(hub_db)[:5]}")
    for node in (province, ward, hub[0]):
        refused = scalars(node.cfg.database_url, select(m.AuditEntry.details).where(
            m.AuditEntry.action == "refused"))
        lines.append(f"{node.cfg.name} refused ({len(refused)}): "
                     f"{[r[:300] for r in refused[:3]]}")
    for node in (province, ward, hub[0]):
        backlog = outbox_backlog(node.cfg.database_url)
        lines.append(f"{node.cfg.name} outbox not delivered ({len(backlog)}): {backlog[:8]}")
    alive = [w.cfg.listen for w in hub if w.alive]
    return "\n".join([*lines, f"hub workers alive: {alive}",
                      f"province alive: {province.alive}, ward alive: {ward.alive}"])
