"""Crashes on PostgreSQL: the hub's database killed (``kill -9`` of the whole server) and
restarted while documents stream, and a randomized campaign of ``kill -9`` of every process.

The database is a PostgreSQL server of the test's own (fixture ``pg_server``), never the
machine's shared one, with production durability (``fsync`` on): it is killed like a crashed
server (postmaster and backends at once) and comes back through crash recovery.

Topology: province (SQLite) → hub (PostgreSQL) → ward (SQLite), the ward's commune reached by a
relay through the hub (``tests.cluster_helpers``), so the hub's workers both receive and send
from their outbox when the database goes away under them.

- ``test_postgresql_killed_mid_stream`` (default suite): one hub worker, caught mid-round (the
  ward is paused with SIGSTOP so that a relay is in flight when the database dies, and answers
  once it is dead: the worker cannot record the delivery). While the database is down the hub
  answers senders 503 (the bilingual error shape, retryable) and stays up; its outbox worker
  backs off, and once the database is back sends that relay again itself (the lease is the
  default 5 minutes: waiting for it would time the test out). Every document ends registered
  exactly once with exactly one 01 back at the province; no node process was restarted.
- ``test_database_unavailable_tells_a_server_gone_from_a_bad_statement``: the classification
  both rely on (``storage.db.database_unavailable``).
- ``test_randomized_kills_on_postgresql`` (campaign): a hub of 3 workers on PostgreSQL + S3
  behind a TCP balancer; ``EDOC_CAMPAIGN_KILLS`` (default 100) ``kill -9`` of the province,
  the ward and hub workers, each restarted in the background (at most 2 nodes down at once),
  and max(2, kills / 30) ``kill -9`` + restarts of PostgreSQL mid-stream; at the end every
  (document, recipient) the province committed is registered exactly once, one 01 per pair is
  back at the province, the outboxes are drained, no orphan rows, audit chains intact. Seed:
  ``EDOC_CAMPAIGN_SEED`` (it fixes the choices; their timing still varies from run to run).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from api.cluster import PROVINCE, NodeProcess, layout
from api.directive import SignedDirective, document_json
from exchange_axis.config import NodeConfig, WorkerSettings
from exchange_axis.transport import PACKAGE_PATH, client_context
from storage.db import models as m
from storage.db import upgrade
from tests.cluster_helpers import (
    WARD,
    TcpBalancer,
    arrived_pairs,
    hub_and_ward_specs,
    incoming_pairs,
    lay_out_balanced_hub,
    outbox_idle,
    recipients_for,
    why_unanswered,
)
from tests.exchange_helpers import assert_consistent, directive_for, scalars, wait_for
from tests.fixtures.pg_server import PgServer

#: quick back-off so the test waits little for a database that is back; the lease (how long a
#: claim stays a dead worker's) is the default for the one-worker test (no claim may need it:
#: the living worker must settle its own) and short in the campaign (workers die holding rows)
FAST = WorkerSettings(base_delay=0.1, max_delay=0.5, max_attempts=10_000, poll_interval=0.05)
CAMPAIGN = WorkerSettings(base_delay=0.1, max_delay=0.5, max_attempts=10_000,
                          poll_interval=0.05, batch=4, lease=3.0)


# -- the stream of documents --------------------------------------------------------------------
class Feeder:
    """Issues documents at the province from a thread until stopped: document ``n`` goes to
    ``recipients_for(n)`` (one to three communes, the ward's in two of three), numbered ``n``
    so that each has its own DocumentId. A province that is down (killed) is skipped over."""

    def __init__(self, province: Callable[[], NodeProcess], directives: list[SignedDirective],
                 rng: random.Random, pause: tuple[float, float]) -> None:
        self.province = province
        self.directives = directives
        self.rng = rng
        self.pause = pause
        self.issued: list[str] = []
        self.failed_calls = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="feeder", daemon=True)

    def start(self) -> Feeder:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            n += 1
            body = document_json(self.directives[n % len(self.directives)], PROVINCE,
                                 recipients_for(n), priority=n % 4)
            body["document"]["code"] = f"{1000 + n}/CT-UBND"
            try:
                with self.province().admin() as admin:
                    answer = admin.post("/admin/v1/issue", json=body, timeout=20)
                if answer.status_code == 200:
                    self.issued.append(answer.json()["document_id"])
                else:
                    self.failed_calls += 1
            except httpx.HTTPError:  # the province is down (killed) right now
                self.failed_calls += 1
                time.sleep(0.2)
            time.sleep(self.rng.uniform(*self.pause))


def committed_pairs(province_db: str) -> set[str]:
    """"DocumentId|recipient" of every delivery the province committed: the truth to check
    against (an issue call cut by a kill may have committed without its answer arriving)."""
    return set(scalars(province_db, select(m.Document.external_id + "|"
                                           + m.Delivery.recipient_code)
                       .join(m.Delivery, m.Delivery.document_id == m.Document.id)
                       .where(m.Document.direction == "outgoing")))


def assert_exactly_once(province: NodeConfig, hub: NodeConfig, ward: NodeConfig
                        ) -> dict[str, int]:
    """Every (document, recipient) the province committed is registered exactly once where it
    is hosted, one 01 per pair is back at the province, every outbox is drained, and each
    node's database is consistent (audit chain, no orphan rows, nothing left 'sending')."""
    expected = committed_pairs(province.database_url)
    at_ward = {p for p in expected if p.endswith(f"|{WARD[0]}")}
    assert incoming_pairs(hub.database_url, expected) == Counter(expected - at_ward)
    assert incoming_pairs(ward.database_url, expected) == Counter(at_ward)
    assert arrived_pairs(province.database_url) == Counter(expected)
    for cfg in (province, hub, ward):
        assert outbox_idle(cfg.database_url), cfg.name
    sent = assert_consistent(province.database_url, province.store_url)
    held = assert_consistent(hub.database_url, hub.store_url)
    relayed = assert_consistent(ward.database_url, ward.store_url)
    assert sent["deliveries"] == {"01": len(expected)}
    assert held["incoming_documents"] == len(expected) - len(at_ward)
    assert relayed["incoming_documents"] == len(at_ward)
    return {"documents": sent["outgoing_documents"], "pairs": len(expected),
            "relayed": len(at_ward)}


def all_answered(province: NodeConfig, hub: NodeConfig, ward: NodeConfig) -> bool:
    """Every committed pair has its 01 at the province and nothing is left to send."""
    expected = committed_pairs(province.database_url)
    return (expected <= set(arrived_pairs(province.database_url))
            and all(outbox_idle(c.database_url) for c in (province, hub, ward)))


def _hub_db(pg: PgServer, name: str) -> str:
    """A database for the hub on the test's own server, migrated as a deployment's migration
    job does before any worker starts."""
    url = pg.create_database(name)
    upgrade(url)
    return url


# -- the default suite: PostgreSQL killed under a running hub ------------------------------------
def test_database_unavailable_tells_a_server_gone_from_a_bad_statement(
        pg_server: PgServer, sqlite_url: str) -> None:
    """What the hub answers 503 for (and its outbox backs off on) is the server being gone,
    not a statement that fails; and one engine serves again once the server is back."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from storage.db import Database, database_unavailable

    def error(db: Database, sql: str) -> DBAPIError:
        with pytest.raises(DBAPIError) as caught, db.engine.connect() as conn:
            conn.execute(text(sql))
        return caught.value

    pg, lite = Database(pg_server.url()), Database(sqlite_url)
    try:
        assert not database_unavailable(error(pg, "SELECT 1/0"))
        assert not database_unavailable(error(pg, "SELECT * FROM no_such_table"))
        assert not database_unavailable(error(lite, "SELECT * FROM no_such_table"))
        with pg.engine.connect() as held:  # a connection open when the server dies
            pg_server.kill()
            with pytest.raises(DBAPIError) as broken:
                held.execute(text("SELECT 1"))
        assert database_unavailable(broken.value)
        assert database_unavailable(error(pg, "SELECT 1"))  # refused: nobody listens
        # the e-office app answers its users the same way: 503, not "internal error"
        from api.office.errors import describe

        answer = describe(broken.value)
        assert (answer.status, answer.code) == (503, "database_unavailable")
        assert answer.headers == {"Retry-After": "5"} and "thử lại" in answer.message_vi
        assert describe(error(lite, "SELECT * FROM no_such_table")).status == 500
        pg_server.restart()
        with pg.engine.connect() as conn:  # the pool replaced its dead connections
            assert conn.execute(text("SELECT 1")).scalar() == 1
    finally:
        pg.dispose()
        lite.dispose()


def _post_to_hub(province: NodeProcess, hub: NodeProcess, package: bytes) -> httpx.Response:
    """What the province's outbox does: POST a package to the hub with its own certificate."""
    with httpx.Client(base_url=f"https://{hub.cfg.listen}", timeout=30,
                      verify=client_context(province.cfg.tls)) as client:
        return client.post(PACKAGE_PATH, content=package)


def _sending_to(db_url: str, peer: str) -> list[int]:
    """Outbox rows claimed and being sent to ``peer`` right now."""
    return scalars(db_url, select(m.OutboxItem.id).where(m.OutboxItem.state == "sending",
                                                         m.OutboxItem.next_hop == peer))


def _round_ended_without_database(hub: NodeProcess, offset: int) -> bool:
    """The hub's outbox logged, past ``offset``, that a round failed for want of its database.
    A round ends only once each of its deliveries has (the worker gathers them), so the relay
    in flight at the kill has by then been answered by the ward (or timed out) and its outcome
    could not be recorded: it is sent again once the database is back. Restarting PostgreSQL
    before that (a slow ward still verifying) would let the late answer be recorded at once."""
    with open(hub.log, "rb") as log:
        log.seek(offset)
        return b"outbox: the database is unavailable" in log.read()


def _queued_package(province: NodeProcess, document_id: str) -> bytes:
    """The document package the province queued for the hub (bytes as on the wire)."""
    import base64

    with province.admin() as admin:
        rows = admin.call("GET", "/admin/v1/packages", params={"document_id": document_id})
    return base64.b64decode(next(r["package"] for r in rows if r["next_hop"] == "hub"))


@pytest.mark.timeout(180)
def test_postgresql_killed_mid_stream(tmp_path: Path, pki_server, pg_server: PgServer,
                                      reliability) -> None:
    started = time.monotonic()
    hub_db = _hub_db(pg_server, "edoc_hub")
    paths = layout(tmp_path, pki_server, hub_and_ward_specs(), worker=FAST,
                   database_url=lambda name, home: hub_db if name == "hub"
                   else f"sqlite:///{home / 'node.sqlite'}")
    nodes = {name: NodeProcess(path) for name, path in paths.items()}
    try:
        for node in nodes.values():
            node.start(wait=False)
        for node in nodes.values():
            node.wait_ready()
        pids = {name: node.proc.pid for name, node in nodes.items()}
        province, hub, ward = nodes["province"], nodes["hub"], nodes["ward"]
        feeder = Feeder(lambda: province, [directive_for(province, pki_server)],
                        random.Random(3), (0.1, 0.3)).start()
        # mid-stream: documents registered at the hub, relays and statuses under way
        wait_for(lambda: len(feeder.issued) >= 4 and scalars(hub_db, select(m.InboxItem.id)),
                 60, "the stream under way")
        # the ward, paused, holds the hub's worker mid-round: a relay claimed and being sent
        os.kill(ward.proc.pid, signal.SIGSTOP)
        in_flight = wait_for(lambda: _sending_to(hub_db, "ward"), 30, "a relay in flight")
        logged = hub.log.stat().st_size
        pg_server.kill()
        down = time.monotonic()
        # the ward answers now: the hub's worker cannot record the delivery (no database)
        os.kill(ward.proc.pid, signal.SIGCONT)
        wait_for(lambda: _round_ended_without_database(hub, logged), 60,
                 "the hub's outbox round holding the relay ended on the missing database")
        wait_for(lambda: len(feeder.issued) >= 8, 30, "documents issued while the hub's "
                 "database is down")
        answer = _post_to_hub(province, hub, _queued_package(province, feeder.issued[-1]))
        assert answer.status_code == 503, answer.text
        error = json.loads(answer.content)
        assert error["error"] == "database_unavailable"
        assert error["message_vi"] and error["message_en"]
        assert answer.headers.get("retry-after")
        time.sleep(max(0.0, 3.0 - (time.monotonic() - down)))
        assert hub.alive  # the hub stayed up without its database
        pg_server.restart()
        down = time.monotonic() - down
        wait_for(lambda: len(feeder.issued) >= 12, 30, "documents issued after the restart")
        feeder.stop()
        wait_for(lambda: all_answered(province.cfg, hub.cfg, ward.cfg), 60,
                 "every 01 back at the province and every outbox drained")
        assert {name: node.proc.pid for name, node in nodes.items() if node.alive} == pids
        figures = assert_exactly_once(province.cfg, hub.cfg, ward.cfg)
        assert set(feeder.issued) == {p.split("|")[0]
                                      for p in committed_pairs(province.cfg.database_url)}
        assert feeder.failed_calls == 0
        # the relay in flight when the database died was sent again (its first delivery could
        # not be recorded) by the same, living worker, long before its claim's lease ran out
        attempts = scalars(hub_db, select(m.OutboxItem.attempts)
                           .where(m.OutboxItem.id.in_(in_flight)))
        assert len(attempts) == len(in_flight) and min(attempts) >= 2, attempts
        elapsed = time.monotonic() - started
        reliability(postgresql_kills=1, seconds_down=round(down, 1), **figures,
                    lost=0, doubled=0, node_restarts=0, seconds=round(elapsed, 1))
        print(f"\nPostgreSQL killed once mid-stream, down {down:.1f}s; {figures}; relays "
              f"in flight at the kill {len(in_flight)}; {elapsed:.1f}s")
    finally:
        if nodes["ward"].alive:
            os.kill(nodes["ward"].proc.pid, signal.SIGCONT)
        for node in nodes.values():
            node.terminate()
        for node in nodes.values():
            node.stop()


# -- the campaign -------------------------------------------------------------------------------
def _restart(node: NodeProcess, timeout: float = 90.0) -> NodeProcess:
    """Start a killed node again, as a supervisor (compose, Kubernetes) would: a hub worker
    started while PostgreSQL is down exits at once (it cannot migrate or read its state), so
    it is started again until it stays up."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return node.start(timeout=max(5.0, deadline - time.monotonic()))
        except RuntimeError:  # exited: its database is not back yet
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@contextlib.contextmanager
def _campaign_cluster(tmp: Path, pki_server, s3_server, pg: PgServer, workers: int
                      ) -> Iterator[dict[str, NodeProcess | list[NodeProcess] | TcpBalancer]]:
    """province → balancer → hub workers (PostgreSQL + S3) → ward, all running; stopped after."""
    balancer = TcpBalancer().start()
    hub_db = _hub_db(pg, "edoc_campaign")
    hub_store = s3_server.url(s3_server.new_bucket_name("hub-pg"), retention_days=1)

    paths = lay_out_balanced_hub(tmp, pki_server, balancer, hub_db, hub_store, CAMPAIGN,
                                 workers)
    hub = [NodeProcess(paths[f"hub-{i}"]) for i in range(workers)]
    balancer.backends = [(w.cfg.host, w.cfg.port) for w in hub]
    everyone = [NodeProcess(paths["province"]), NodeProcess(paths["ward"]), *hub]
    try:
        for node in everyone:
            node.start(wait=False)
        for node in everyone:
            node.wait_ready()
        yield {"province": everyone[0], "ward": everyone[1], "hub": hub, "balancer": balancer}
    finally:
        for node in everyone:
            node.terminate()
        for node in everyone:
            node.stop()
        balancer.close()


class Restarts:
    """Killed nodes coming back in the background, as under a supervisor, so that the next kill
    need not wait for a restart (an interpreter's start costs seconds on a small machine); at
    most ``limit`` nodes are down at once. A node that cannot be started again fails the test."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.pending: dict[int, threading.Thread] = {}
        self.errors: list[BaseException] = []

    def down(self, node: NodeProcess) -> bool:
        return id(node) in self.pending and self.pending[id(node)].is_alive()

    def begin(self, node: NodeProcess, after: float) -> None:
        def run() -> None:
            try:
                time.sleep(after)  # stays down a while: its queues (and its peers') build up
                _restart(node)
            except BaseException as exc:  # noqa: BLE001 - reported by the main thread
                self.errors.append(exc)

        thread = threading.Thread(target=run, name=f"restart-{node.cfg.name}", daemon=True)
        self.pending[id(node)] = thread
        thread.start()

    def room(self) -> None:
        """Wait until fewer than ``limit`` nodes are down."""
        while sum(t.is_alive() for t in self.pending.values()) >= self.limit:
            time.sleep(0.05)
        self.check()

    def settle(self) -> None:
        """Wait until every killed node is up again."""
        for thread in list(self.pending.values()):
            thread.join(120)
        self.check()

    def check(self) -> None:
        assert not self.errors, self.errors


@pytest.mark.campaign
@pytest.mark.s3
@pytest.mark.timeout(3600)
def test_randomized_kills_on_postgresql(tmp_path: Path, pki_server, s3_server,
                                        pg_server: PgServer, reliability) -> None:
    kills_wanted = int(os.environ.get("EDOC_CAMPAIGN_KILLS", "100"))
    rng = random.Random(int(os.environ.get("EDOC_CAMPAIGN_SEED", "7")))
    pg_kills_wanted = max(2, kills_wanted // 30)
    # the node kills after which PostgreSQL is killed too: spread over the whole campaign
    pg_after = set(rng.sample(range(3, max(4 + pg_kills_wanted, kills_wanted - 3)),
                              pg_kills_wanted))
    started = time.monotonic()
    with _campaign_cluster(tmp_path, pki_server, s3_server, pg_server, 3) as cl:
        province: NodeProcess = cl["province"]
        ward: NodeProcess = cl["ward"]
        hub: list[NodeProcess] = cl["hub"]
        roles = {"province": [province], "ward": [ward], "hub": hub}
        directives = [directive_for(province, pki_server) for _ in range(2)]
        feeder = Feeder(lambda: province, directives, random.Random(rng.random()),
                        (0.1, 0.6)).start()
        streaming = time.monotonic()
        restarts = Restarts(limit=2)
        kills: Counter[str] = Counter()
        pg_down = 0.0
        while sum(kills.values()) < kills_wanted:
            time.sleep(rng.uniform(0.05, 1.0))
            restarts.room()
            role = rng.choice(["province", "ward", "hub", "hub"])
            alive = [n for n in roles[role] if not restarts.down(n)]
            if not alive:
                continue
            victim = rng.choice(alive)
            victim.kill()
            kills[role] += 1
            restarts.begin(victim, rng.uniform(0.1, 1.0) if rng.random() < 0.3 else 0.0)
            if sum(kills.values()) in pg_after:
                restarts.settle()  # a worker starting now would exit without its database
                pg_server.kill()
                down = time.monotonic()
                time.sleep(rng.uniform(1.0, 4.0))
                assert all(w.alive for w in hub), "a hub worker died with its database"
                pg_server.restart()
                pg_down += time.monotonic() - down
        restarts.settle()
        feeder.stop()
        draining = time.monotonic()
        cfgs = (province.cfg, hub[0].cfg, ward.cfg)
        wait_for(lambda: all_answered(*cfgs), 300,
                 "every 01 back at the province and every outbox drained",
                 explain=lambda: why_unanswered(committed_pairs(province.cfg.database_url),
                                                province, ward, hub))
        drained = time.monotonic()
        figures = assert_exactly_once(*cfgs)
        assert set(feeder.issued) <= {p.split("|")[0]
                                      for p in committed_pairs(province.cfg.database_url)}
        assert figures["documents"] > 20, figures
        assert pg_server.kills >= 2
        reliability(kills_province=kills["province"], kills_ward=kills["ward"],
                    kills_hub_workers=kills["hub"], postgresql_kills=pg_server.kills,
                    **figures, lost=0, doubled=0,
                    seconds=round(time.monotonic() - started))
        print(f"\nkills per role {dict(kills)} (total {sum(kills.values())}), PostgreSQL "
              f"kill -9 + restart {pg_server.kills} (down {pg_down:.1f}s in all), "
              f"{figures['documents']} documents, {figures['pairs']} (document, recipient) "
              f"pairs ({figures['relayed']} relayed to the ward), issue calls failed (province "
              f"down) {feeder.failed_calls}, balancer connections per worker "
              f"{dict(cl['balancer'].connections)}; set-up {streaming - started:.0f}s, kills "
              f"{draining - streaming:.0f}s, drain {drained - draining:.0f}s, checks "
              f"{time.monotonic() - drained:.0f}s")
