"""Weak links, for real (issue 14): a commune node on its own simulated host (a network
namespace) whose only link to the province is emulated packet by packet (``bench/wire.py``: this
kernel has no ``tc netem``, the emulator does what netem does, in user space): random loss,
one-way delay, a 256 kbit/s bottleneck, the link down for a while. The province (a real
``edoc node serve``) sends to the commune over the link end to end, with its own TCP; everything
the commune sends back (receipts in the answers, its status packages to the province through
its bridged ``upstream`` port, its OCSP/CRL requests to the dev PKI) crosses the same link, so
the commune suffers the impairments in both directions as it would on a real line.

Each test checks what a commune clerk and the province rely on: the directive arrives whole (the
commune's stored original has the SHA-256 the province signed), it is registered exactly once,
the province holds exactly one 01 for it, and no row or object is doubled or orphaned."""

from __future__ import annotations

import contextlib
import hashlib
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from api.cluster import NAMED_COMMUNES, PROVINCE, NodeProcess, NodeSpec, layout
from api.directive import SignedDirective, document_json, sign_directive
from bench.wire import SNI_HOSTNAME, Impairment, WeakHost, available
from exchange_axis.config import TransportSettings, WorkerSettings, dump, load
from exchange_axis.outbox import backoff_delay, retryable_status
from exchange_axis.transport import client_context
from storage.db import models as m
from storage.objects import open_store
from storage.objects.base import digest_of_key
from tests.exchange_helpers import all_have, assert_consistent, db_counts, scalars, wait_for

COMMUNE = NAMED_COMMUNES[0]
DAY = 24 * 3600.0


@dataclass
class Line:
    """A province and a commune joined by one weak link."""

    province: NodeProcess
    commune: NodeProcess
    host: WeakHost

    @property
    def wire(self) -> Any:
        assert self.host.wire is not None
        return self.host.wire


@pytest.fixture(scope="module")
def can_emulate() -> None:
    """Skip (with the reason) only where namespaces or TUN devices cannot be made at all."""
    why = available()
    if why is not None:
        pytest.skip(f"weak links need network namespaces and TUN devices: {why}")


def _wait_commune(node: NodeProcess, timeout: float = 60.0) -> None:
    """The commune answers at its own address; its certificate names localhost (SNI)."""
    deadline = time.monotonic() + timeout
    url = f"https://{node.cfg.listen}/exchange/v1/health"
    with httpx.Client(verify=client_context(node.cfg.tls), timeout=5.0) as client:
        while True:
            if node.proc is not None and node.proc.poll() is not None:
                raise RuntimeError(f"commune node exited; log:\n"
                                   f"{node.log.read_text(errors='replace')[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get(url, extensions={"sni_hostname": SNI_HOSTNAME}).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"commune node not ready after {timeout}s")
            time.sleep(0.2)


@contextlib.contextmanager
def weak_line(tmp_path: Path, pki: Any, worker: WorkerSettings,
              transport: TransportSettings | None = None) -> Iterator[Line]:
    """Lay out the two nodes, put the commune behind a weak link, start both; everything it
    started (processes, namespace, TUN devices, forwarders) is gone when it exits, even on
    failure."""
    specs = [NodeSpec("province", "node-province", agencies=[PROVINCE],
                      routes=[("*.H41", "commune")], peers=["commune"]),
             NodeSpec("commune", "node-hub", agencies=[COMMUNE], upstream="province",
                      peers=["province"])]
    paths = layout(tmp_path, pki, specs, worker=worker)
    province_cfg, commune_cfg = load(paths["province"]), load(paths["commune"])
    with WeakHost([pki.port, province_cfg.port], seed=14) as host:
        # the commune listens on its own address; the province reaches it by the name in its
        # certificate (``localhost``, which the province's private /etc/hosts points there)
        commune_cfg.listen = f"{host.address}:{commune_cfg.port}"
        province_cfg.peers[0].url = f"https://{SNI_HOSTNAME}:{commune_cfg.port}"
        for cfg in (province_cfg, commune_cfg):
            if transport is not None:
                cfg.transport = transport
        paths["province"].write_text(dump(province_cfg), encoding="utf-8")
        paths["commune"].write_text(dump(commune_cfg), encoding="utf-8")
        province = NodeProcess(paths["province"], prefix=host.resolving())
        commune = NodeProcess(paths["commune"], prefix=host.enter())
        try:
            commune.start(wait=False)
            province.start()
            _wait_commune(commune)
            yield Line(province, commune, host)
        finally:
            for node in (province, commune):
                node.terminate()
            for node in (province, commune):
                node.stop()


def _issue(line: Line, directive: SignedDirective, *, code: str | None = None,
           priority: int = 0) -> str:
    body = document_json(directive, PROVINCE, [COMMUNE], priority=priority)
    if code is not None:
        body["document"]["code"] = code
    with line.province.admin() as admin:
        return admin.call("POST", "/admin/v1/issue", json=body)["document_id"]


def _ones_at_province(line: Line) -> int:
    """Statuses 01 the province recorded from the commune (each must be there exactly once)."""
    return scalars(line.province.cfg.database_url, select(func.count()).select_from(
        m.StatusEvent).where(m.StatusEvent.status_code == "01",
                             m.StatusEvent.agency_code == COMMUNE[0]))[0]


def _check_whole_and_once(line: Line, directives: list[SignedDirective], documents: int
                          ) -> dict[str, Any]:
    """Every original arrived byte for byte, each document registered once, one 01 each."""
    commune = line.commune.cfg
    held = assert_consistent(commune.database_url, commune.store_url)
    assert held["incoming_documents"] == documents, held
    assert held["incoming_register"] == documents and held["inbox"] == documents, held
    assert held["incoming_per_agency_doc"] == 1, held
    store = open_store(commune.store_url)
    stored = {digest_of_key(k) for k in held["object_keys"]}
    for directive in directives:
        assert directive.sha256 in stored, (directive.sha256, stored)
        key = next(k for k in held["object_keys"] if digest_of_key(k) == directive.sha256)
        assert hashlib.sha256(store.get(key)).hexdigest() == directive.sha256
    sent = db_counts(line.province.cfg.database_url)
    assert sent["outbox"] == {"delivered": documents}, sent
    assert sent["deliveries"] == {"01": documents}, sent
    assert _ones_at_province(line) == documents
    return held


def _deliver_one(line: Line, directive: SignedDirective, timeout: float) -> tuple[float, int]:
    """Issue one directive to the commune; seconds until the province holds its 01, and the
    attempts the outbox needed."""
    start = time.monotonic()
    doc_id = _issue(line, directive)
    arrived = all_have(line.province, doc_id, "01")

    def done() -> bool:
        failed = scalars(line.province.cfg.database_url, select(m.OutboxItem.last_error).where(
            m.OutboxItem.state == "failed"))
        assert not failed, f"the outbox gave up: {failed}"
        return arrived()

    wait_for(done, timeout, "01 from the commune over the link", interval=0.5)
    elapsed = time.monotonic() - start
    attempts = scalars(line.province.cfg.database_url, select(m.OutboxItem.attempts))
    return elapsed, max(attempts)


# -- default suite -------------------------------------------------------------------------------
def test_directive_crosses_a_lossy_slow_link_whole_and_once(tmp_path: Path, pki_server,
                                                            can_emulate, reliability) -> None:
    """≈1 MB directive, 10 % loss and 200 ms each way (400 ms round trip), both directions."""
    directive = sign_directive(pki_server, lambda _n: "71", pad_to_bytes=1_000_000)
    worker = WorkerSettings(base_delay=0.5, max_delay=5.0, poll_interval=0.1)
    with weak_line(tmp_path, pki_server, worker) as line:
        line.wire.set(Impairment(loss_pct=10, delay_ms=200))
        before = line.wire.stats()
        elapsed, attempts = _deliver_one(line, directive, 120)
        after = line.wire.stats()
        _check_whole_and_once(line, [directive], 1)
    crossed = after["outbound"]["delivered_bytes"] - before["outbound"]["delivered_bytes"]
    lost = after["outbound"]["lost"] - before["outbound"]["lost"]
    assert crossed > len(directive.pdf) and lost > 0, (crossed, lost)  # it did cross, lossily
    assert after["inbound"]["lost"] > before["inbound"]["lost"]  # and the answers too
    reliability(pdf_bytes=len(directive.pdf), seconds=round(elapsed, 1), attempts=attempts,
                packets_lost=lost + after["inbound"]["lost"] - before["inbound"]["lost"])


def test_default_back_off_outlasts_a_day_offline() -> None:
    """With the default ``[worker]`` settings the outbox keeps a row at least 24 h even when
    every jitter draw is the shortest (the fastest the attempts can run out): a commune offline
    for a day still gets its backlog without an operator."""
    settings = WorkerSettings()

    class Shortest(random.Random):
        def uniform(self, a: float, b: float) -> float:
            return a

    retrying = sum(backoff_delay(n, settings, Shortest()) for n in range(1, settings.max_attempts))
    assert retrying >= DAY, f"gives up after {retrying / 3600:.1f} h"


# -- campaign ------------------------------------------------------------------------------------
FIVE_MB = 5 * 1024 * 1024

SCENARIOS = {
    "loss-10": Impairment(loss_pct=10),
    "loss-30": Impairment(loss_pct=30),
    "latency-800ms": Impairment(delay_ms=800),
    "256kbit": Impairment(rate_kbit=256),
    "down-mid-transfer": Impairment(rate_kbit=2048, delay_ms=50),
}


@pytest.fixture(scope="module")
def five_mb(pki_server) -> SignedDirective:
    return sign_directive(pki_server, lambda _n: "72", pad_to_bytes=FIVE_MB)


@pytest.mark.campaign
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_five_mb_directive_under_weak_link(tmp_path: Path, pki_server, can_emulate, five_mb,
                                           scenario: str, reliability) -> None:
    """A 5 MB directive under each impairment of issue 14 (both directions of the link): it
    arrives whole, is registered once, and the province holds exactly one 01. For
    ``down-mid-transfer`` the link (2 Mbit/s, 50 ms) goes down silently once a third of the
    package has crossed it and comes back 60 s later."""
    worker = WorkerSettings(base_delay=1.0, max_delay=10.0, poll_interval=0.2)
    with weak_line(tmp_path, pki_server, worker) as line:
        line.wire.set(SCENARIOS[scenario])
        if scenario == "down-mid-transfer":
            line.wire.cut(after_bytes=len(five_mb.pdf) // 3, seconds=60)
        before = line.wire.stats()
        elapsed, attempts = _deliver_one(line, five_mb, 900)
        after = line.wire.stats()
        _check_whole_and_once(line, [five_mb], 1)
    if scenario == "down-mid-transfer":
        events = [e["event"] for e in after["events"]]
        assert events[-2:] == ["down", "up"], after["events"]
        assert after["outbound"]["down_drops"] + after["inbound"]["down_drops"] > 0
    out, back = after["outbound"], after["inbound"]
    reliability(pdf_bytes=len(five_mb.pdf), seconds=round(elapsed, 1), attempts=attempts,
                packets_lost=out["lost"] + back["lost"] - before["outbound"]["lost"]
                - before["inbound"]["lost"],
                queue_drops=out["queue_drops"] + back["queue_drops"])


def test_a_stalled_body_is_retried_not_given_up() -> None:
    """The commune's BodyGuard answers 408 to a body that stalled (the link went down
    mid-transfer): the outbox tries again rather than failing the row, as for 5xx and 429;
    the package's own faults (400, 403, 413) are not retried."""
    assert all(retryable_status(s) for s in (408, 429, 500, 503))
    assert not any(retryable_status(s) for s in (400, 403, 404, 413, 422))


# -- a day offline -------------------------------------------------------------------------------
#: time is compressed this much: the default back-off schedule (1 s doubling to 300 s) is run
#: 1440 times faster, so one real minute holds the retries of a simulated day
COMPRESSION = 1440.0
#: (simulated hour issued, priority, number): Hỏa tốc (3) at hours 0, 9 and 21, Thượng khẩn (2),
#: Khẩn (1) and normal (0) ones between
BACKLOG = [(0, 3, "81"), (3, 0, "82"), (6, 1, "83"), (9, 3, "84"), (12, 0, "85"), (15, 2, "86"),
           (18, 1, "87"), (21, 3, "88")]


def attempts_in(seconds: float, settings: WorkerSettings) -> int:
    """How many attempts the back-off schedule makes in ``seconds`` on average (jitter at its
    mean: three quarters of the capped exponential)."""
    spent, n = 0.0, 0
    while spent < seconds:
        n += 1
        spent += 0.75 * min(settings.max_delay, settings.base_delay * 2 ** (n - 1))
    return n


def _arrival_order(commune: NodeProcess) -> list[str]:
    rows = scalars(commune.cfg.database_url, select(m.InboxItem.document_id)
                   .order_by(m.InboxItem.id))
    return [r.rsplit(",", 1)[1].split("/")[0] for r in rows]


@pytest.mark.campaign
def test_backlog_of_a_day_offline_drains_in_priority_order(tmp_path: Path, pki_server,
                                                           can_emulate, reliability) -> None:
    """A commune offline for 24 simulated hours, then back: its backlog arrives most urgent
    first, then oldest, each document exactly once, and nothing was given up meanwhile.

    How a day is simulated: the link is down the whole time, "unreachable" (the last router
    answers ICMP host unreachable, so each attempt fails at once and costs only its back-off),
    and the province's outbox runs the *default* schedule compressed 1440 times (``base_delay``
    1 s → 0.7 ms, ``max_delay`` 300 s → 0.21 s) with the *default* ``max_attempts``. What a day
    means to the outbox is the attempts it makes: the outage lasts until the first Hỏa tốc
    document (the most urgent class, whose rows are the ones that count attempts while the
    peer is down) has had as many attempts as 24 h of the default schedule hold on average
    (``attempts_in``, ≈ 390), however long that takes here (about 1–2 real minutes; the
    outbox's own work between attempts only slows the simulated clock, never speeds it).
    Eight documents of mixed urgency (độ khẩn) are issued at simulated hours 0, 3, … 21, i.e.
    when that count reaches 0, 1/8, … 7/8 of the day's. With the former default of 12
    attempts, every row had failed after ~15 simulated minutes. The link then comes back as
    weak as it was (10 % loss, 200 ms each way); the province sends one package at a time
    (``concurrency = 1``) so that the order inside a class is observable at the commune."""
    directive = sign_directive(pki_server, lambda _n: "81")
    defaults = WorkerSettings()
    worker = WorkerSettings(base_delay=defaults.base_delay / COMPRESSION,
                            max_delay=defaults.max_delay / COMPRESSION, poll_interval=0.05,
                            concurrency=1)
    day = attempts_in(DAY, defaults)
    assert day < defaults.max_attempts
    with weak_line(tmp_path, pki_server, worker) as line:
        line.wire.down("unreachable")
        db = line.province.cfg.database_url

        def first_attempts() -> int:
            found = scalars(db, select(m.OutboxItem.attempts).order_by(m.OutboxItem.id).limit(1))
            return found[0] if found else 0

        start = time.monotonic()
        for hour, priority, number in BACKLOG:
            wait_for(lambda h=hour: first_attempts() >= day * h / 24, 600,
                     f"simulated hour {hour}", interval=0.1)
            _issue(line, directive, code=f"{number}/CT-UBND", priority=priority)
        wait_for(lambda: first_attempts() >= day, 600, "a simulated day of attempts",
                 interval=0.2)
        offline = time.monotonic() - start
        queued = db_counts(db)["outbox"]
        # nothing given up, nothing sent: every row still queued (or claimed for an attempt)
        assert set(queued) <= {"pending", "sending"} and sum(queued.values()) == len(BACKLOG)
        assert not _arrival_order(line.commune)
        line.wire.set(Impairment(loss_pct=10, delay_ms=200))
        line.wire.up()
        up = time.monotonic()
        wait_for(lambda: db_counts(db)["deliveries"] == {"01": len(BACKLOG)}, 300,
                 "the backlog delivered", interval=0.5)
        drained = time.monotonic() - up
        _check_whole_and_once(line, [directive], len(BACKLOG))
        order = _arrival_order(line.commune)
        stats = line.wire.stats()
    # most urgent first, then oldest: the three Hỏa tốc by age, Thượng khẩn, Khẩn, normal
    expected = [n for _h, _p, n in sorted(BACKLOG, key=lambda d: (-d[1], d[0]))]
    assert order == expected, (order, expected)
    assert stats["outbound"]["icmp_sent"] >= day  # every attempt met the dead line
    reliability(simulated_hours=24, attempts_while_offline=day, documents=len(BACKLOG),
                offline_seconds=round(offline, 1), drain_seconds=round(drained, 1),
                arrival_order=" ".join(order))
