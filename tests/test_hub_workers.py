"""A commune hub run as N = 3 worker processes against one PostgreSQL database and one S3 bucket.

Every worker is ``edoc node serve`` with the same node.toml (identity, hosted communes, database,
store) but its own port. A peer has one URL, so the hub's peers reach it through a round-robin
TCP balancer that forwards raw bytes: TLS, with the peer's client certificate, runs end to end
between the peer and whichever worker it lands on, exactly as haproxy in ``mode tcp`` does in
``docker-compose.yml`` (see docs/scaling.md).

Topology: province → hub (3 workers, PostgreSQL + SeaweedFS S3) → ward, a downstream node hosting
one commune. The hub's workers therefore both receive (from the province, and the ward's status
packages) and claim outbox rows (relays to the ward, the ward's statuses onwards to the province).

What is proven:
- a stream of documents issued at the province while one hub worker is ``kill -9``-ed mid-stream
  (the one holding an outbox claim, when there is one) ends with every (document, recipient)
  registered exactly once at the hub and the ward, every recipient's 01 recorded exactly once in
  the province's tracking, every outbox row delivered (the dead worker's claims taken over by the
  others once its lease expired), the audit chains intact and no orphan rows;
- the same package handed to two workers at the same instant (the sender retried elsewhere while
  the first worker still processed it) is registered once, and both answers are the same receipt
  bytes;
- a worker that restarts releases its own predecessor's claims only, never a live worker's.
"""

from __future__ import annotations

import base64
import datetime as dt
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, replace

import httpx
import pytest
from sqlalchemy import String, select

from api.cluster import (
    NAMED_COMMUNES,
    PROVINCE,
    NodeProcess,
)
from api.directive import SignedDirective, document_json
from edoc.document import VIETNAM, Attachment, Business, DocumentPackage, TraceHeader
from edoc.edxml import build
from exchange_axis.config import NodeConfig, WorkerSettings
from exchange_axis.node import document_from_json
from exchange_axis.state import NodeState, worker_seat
from exchange_axis.transport import PACKAGE_PATH, TO_HEADER, client_context
from storage.db import models as m
from storage.db import upgrade
from tests.cluster_helpers import (
    WARD,
    TcpBalancer,
    arrived_pairs,
    incoming_pairs,
    lay_out_balanced_hub,
    outbox_idle,
    recipients_for,
    why_unanswered,
)
from tests.exchange_helpers import (
    assert_consistent,
    directive_for,
    scalars,
    wait_for,
)

WORKERS = 3
DOCUMENTS = 36
POOL = 3  # distinct signed PDFs; each document gets its own number (its own DocumentId)
LEASE = 4.0  # seconds: the dead worker's claims come back quickly
#: small batches: a worker holds few rows at a time, so the survivors share the load
FAST = WorkerSettings(base_delay=0.2, max_delay=1.0, max_attempts=10_000, poll_interval=0.05,
                      batch=4, lease=LEASE)

# -- the cluster ------------------------------------------------------------------------------
@dataclass
class Cluster:
    province: NodeProcess
    ward: NodeProcess
    workers: list[NodeProcess]
    balancer: TcpBalancer
    directives: list[SignedDirective]

    @property
    def hub_cfg(self) -> NodeConfig:
        return self.workers[0].cfg


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, pki_server, s3_server) -> Iterator[Cluster]:
    from tests.fixtures.db import create_pg_database, drop_pg_database

    tmp = tmp_path_factory.mktemp("hub-workers")
    balancer = TcpBalancer().start()
    hub_db = create_pg_database("edoc_w")
    hub_store = s3_server.url(s3_server.new_bucket_name("hub-w"), retention_days=1)

    paths = lay_out_balanced_hub(tmp, pki_server, balancer, hub_db, hub_store, FAST,
                                 WORKERS)
    upgrade(hub_db)  # as the deployment's migration job does, before any worker starts
    workers = [NodeProcess(paths[f"hub-{i}"]) for i in range(WORKERS)]
    balancer.backends = [(w.cfg.host, w.cfg.port) for w in workers]
    nodes = [NodeProcess(paths["province"]), NodeProcess(paths["ward"]), *workers]
    try:
        for node in nodes:  # all at once: the workers start concurrently on one database
            node.start(wait=False)
        for node in nodes:
            node.wait_ready()
        province = nodes[0]
        pool = [directive_for(province, pki_server) for _ in range(POOL)]
        yield Cluster(province, nodes[1], workers, balancer, pool)
    finally:
        for node in nodes:
            node.terminate()
        for node in nodes:
            node.stop()
        balancer.close()
        drop_pg_database(hub_db)


# -- reading the nodes' databases -------------------------------------------------------------
def _claimed_by(db_url: str, seat: str = "") -> list[tuple[int, str]]:
    """Outbox rows being sent right now (by the worker of ``seat``, if given): (id, claimer)."""
    prefix = f"{seat}/" if seat else ""
    rows = scalars(db_url, select(m.OutboxItem.id.cast(String) + "|" + m.OutboxItem.claimed_by)
                   .where(m.OutboxItem.state == "sending",
                          m.OutboxItem.claimed_by.startswith(prefix, autoescape=True)))
    return [(int(i), claim) for i, claim in (r.split("|", 1) for r in rows if r)]


def _claimers(db_url: str, ids: list[int]) -> list[str]:
    """Who delivered these rows (the claim of the worker that marked them delivered)."""
    return scalars(db_url, select(m.OutboxItem.claimed_by).where(
        m.OutboxItem.id.in_(ids), m.OutboxItem.state == "delivered"))


# -- the stream -------------------------------------------------------------------------------
def _issue(cl: Cluster, n: int) -> set[str]:
    """Issue document number n at the province; returns its "DocumentId|recipient" pairs."""
    directive = cl.directives[n % len(cl.directives)]
    recipients = recipients_for(n)
    body = document_json(directive, PROVINCE, recipients, priority=n % 4)
    body["document"]["code"] = f"{1000 + n}/CT-UBND"
    with cl.province.admin() as admin:
        doc_id = admin.call("POST", "/admin/v1/issue", json=body)["document_id"]
    return {f"{doc_id}|{code}" for code, _ in recipients}


def _kill_a_claimer(cl: Cluster, timeout: float = 8.0) -> tuple[NodeProcess, list[int]]:
    """kill -9 a hub worker while it holds outbox claims if that happens within ``timeout``
    (else worker 1); returns it and the rows it held, which the others must take over."""
    hub_db = cl.hub_cfg.database_url
    seats = {worker_seat(w.cfg.name, w.cfg.listen): w for w in cl.workers}
    deadline = time.monotonic() + timeout
    victim = cl.workers[1]
    while time.monotonic() < deadline:
        held = {claim.split("/")[0] for _, claim in _claimed_by(hub_db)}
        if held & seats.keys():
            victim = seats[sorted(held & seats.keys())[0]]
            break
        time.sleep(0.01)
    victim.kill()
    return victim, [i for i, _ in _claimed_by(hub_db, worker_seat(victim.cfg.name,
                                                                  victim.cfg.listen))]


@pytest.mark.postgres
@pytest.mark.s3
def test_three_hub_workers_one_killed_nothing_lost_or_doubled(cluster: Cluster,
                                                              reliability) -> None:
    cl = cluster
    started = time.monotonic()
    expected: set[str] = set()
    for n in range(DOCUMENTS // 3):
        expected |= _issue(cl, n)
    victim, orphans = _kill_a_claimer(cl)
    for n in range(DOCUMENTS // 3, 2 * DOCUMENTS // 3):
        expected |= _issue(cl, n)
    hub_db = cl.hub_cfg.database_url
    # the dead worker's claims come back after its lease, to the living workers
    wait_for(lambda: len(_claimers(hub_db, orphans)) == len(orphans), 60,
             "the dead worker's rows delivered by the others")
    victim_seat = worker_seat(victim.cfg.name, victim.cfg.listen)
    assert not [c for c in _claimers(hub_db, orphans) if c.startswith(victim_seat)]
    victim.start()  # it comes back (as compose / Kubernetes would restart it) and takes part
    for n in range(2 * DOCUMENTS // 3, DOCUMENTS):
        expected |= _issue(cl, n)
    province_db, ward_db = cl.province.cfg.database_url, cl.ward.cfg.database_url

    wait_for(lambda: expected <= set(arrived_pairs(province_db)) and all(
        outbox_idle(n.cfg.database_url) for n in (cl.province, cl.ward, cl.workers[0])),
        120, "every 01 back at the province and every outbox drained",
        explain=lambda: why_unanswered(expected, cl.province, cl.ward, cl.workers))
    elapsed = time.monotonic() - started

    hosted_here = {p for p in expected if not p.endswith(WARD[0])}
    assert incoming_pairs(hub_db, expected) == Counter(hosted_here)  # exactly once at the hub
    assert incoming_pairs(ward_db, expected) == Counter(expected - hosted_here)  # relayed once
    arrived = arrived_pairs(province_db)
    assert {p: arrived[p] for p in expected} == dict.fromkeys(expected, 1)
    hub = assert_consistent(hub_db, cl.hub_cfg.store_url)  # audit chain, orphans, no 'sending'
    assert_consistent(ward_db, cl.ward.cfg.store_url)
    sent = assert_consistent(province_db, cl.province.cfg.store_url)
    assert sent["deliveries"] == {"01": len(expected)}
    assert hub["outbox"] == {"delivered": hub["outbox"]["delivered"]}
    assert len(cl.balancer.connections) == WORKERS  # every worker took connections
    reliability(workers=WORKERS, documents=DOCUMENTS, pairs=len(expected),
                claims_taken_over=len(orphans), seconds=round(elapsed, 1), lost=0, doubled=0)
    print(f"\n{DOCUMENTS} documents, {len(expected)} (document, recipient) pairs, "
          f"{len(orphans)} claims taken over from the killed worker, balancer connections "
          f"per worker {dict(cl.balancer.connections)}: {elapsed:.1f}s")


# -- the same package at two workers at once ----------------------------------------------------
def _package(directive: SignedDirective, number: int) -> tuple[str, bytes]:
    """An edXML document package from the province to the hub's communes, built here so that
    the test, not the province's outbox, decides where and when it is sent."""
    body = document_json(directive, PROVINCE, NAMED_COMMUNES)
    body["document"]["code"] = f"{number}/CT-UBND"
    document = document_from_json(body["document"])
    document = replace(document, document_id=document.make_document_id())
    files = [Attachment(f["name"], base64.b64decode(f["data"])) for f in body["files"]]
    return document.document_id, build(DocumentPackage(
        document=document, business=Business(), attachments=files,
        traces=[TraceHeader(PROVINCE[0], dt.datetime.now(VIETNAM))]))


def _post_at_once(cl: Cluster, workers: list[NodeProcess], package: bytes) -> list[bytes]:
    """POST one package to several workers at the same instant, as the province would."""
    barrier = threading.Barrier(len(workers))
    answers: list[bytes] = [b""] * len(workers)
    to = ",".join(code for code, _ in NAMED_COMMUNES)

    def post(i: int, worker: NodeProcess) -> None:
        with httpx.Client(base_url=f"https://{worker.cfg.listen}", timeout=60,
                          verify=client_context(cl.province.cfg.tls)) as client:
            barrier.wait()
            response = client.post(PACKAGE_PATH, content=package, headers={TO_HEADER: to})
        assert response.status_code == 200, response.text
        answers[i] = response.content

    threads = [threading.Thread(target=post, args=(i, w)) for i, w in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    return answers


@pytest.mark.postgres
@pytest.mark.s3
def test_one_package_at_two_workers_at_once_is_registered_once(cluster: Cluster) -> None:
    cl = cluster
    hub_db = cl.hub_cfg.database_url
    pair = [w for w in cl.workers if w.alive][:2]
    for number in range(2001, 2005):
        doc_id, package = _package(cl.directives[number % len(cl.directives)], number)
        first, second = _post_at_once(cl, pair, package)
        assert first == second  # one receipt, byte for byte, whoever answered
        wanted = {f"{doc_id}|{code}" for code, _ in NAMED_COMMUNES}
        assert incoming_pairs(hub_db, wanted) == Counter(wanted)
        assert len(scalars(hub_db, select(m.InboxItem.id).where(
            m.InboxItem.document_id == doc_id))) == 1
    assert_consistent(hub_db, cl.hub_cfg.store_url)


# -- a restarted worker and the others' claims --------------------------------------------------
@pytest.mark.postgres
def test_a_restarted_worker_releases_only_its_own_claims(pg_url: str) -> None:
    """Worker B dies holding claims and comes back on its seat: B's rows are pending again at
    once, A's (alive) stay A's until A's lease expires; then anyone may take them over."""
    seat_a, seat_b = worker_seat("hub", "0.0.0.0:9001"), worker_seat("hub", "0.0.0.0:9002")
    a, b = NodeState(pg_url, node_name="hub"), NodeState(pg_url, node_name="hub")
    a.release_claims(seat_a)
    b.release_claims(seat_b)
    from storage.outbox import OutboxRepository

    with a.session() as s, s.begin():
        for i in range(4):
            OutboxRepository(s).enqueue(next_hop="ward", package_bytes=b"p%d" % i)
    now = dt.datetime.now(dt.UTC)
    held_a = {r.id for r in a.claim_due(now, 2)}
    held_b = {r.id for r in b.claim_due(now, 2)}
    assert len(held_a | held_b) == 4  # disjoint claims
    NodeState(pg_url, node_name="hub").release_claims(seat_b)  # B restarted
    with a.session() as s:
        rows = {r.id: (r.state, r.claimed_by) for r in s.scalars(select(m.OutboxItem))}
    assert {i for i, (state, _) in rows.items() if state == "pending"} == held_b
    assert {claim for i, (_, claim) in rows.items() if i in held_a} == {a.worker_id}
    later = now + dt.timedelta(seconds=LEASE + 1)
    c = NodeState(pg_url, node_name="hub")
    c.release_claims(worker_seat("hub", "0.0.0.0:9003"))
    taken = {r.id for r in c.claim_due(later, 10, dt.timedelta(seconds=LEASE))}
    assert taken == held_a | held_b  # A's lease expired: its rows are taken over


#: One worker's start-up as far as the database goes (``Node`` builds its ``NodeState`` so):
#: migrate, then make sure the hosted agencies exist; every process begins at the same instant.
_WORKER_START = """
import sys, time
from exchange_axis.config import GeneratedCommunes, generated_communes
from exchange_axis.state import NodeState
hosted = dict(generated_communes(GeneratedCommunes(count=300)))
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
NodeState(sys.argv[1], node_name="hub", hosted=hosted)
"""


@pytest.mark.postgres
def test_workers_starting_together_on_an_empty_database(pg_url: str) -> None:
    """Three workers of a 300-commune hub start at the same instant on an empty database (no
    migration job ran): one migrates it while the others wait, and the hosted agencies are
    created once; no worker dies of the others' work."""
    at = time.time() + 4  # after every interpreter has imported edoc
    procs = [subprocess.Popen([sys.executable, "-c", _WORKER_START, pg_url, str(at)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for _ in range(WORKERS)]
    failures = [err.decode(errors="replace")[-1500:] for p in procs
                if (err := p.communicate(timeout=120)[1]) is not None and p.returncode != 0]
    assert failures == []
    assert len(scalars(pg_url, select(m.Agency.code))) == 300
