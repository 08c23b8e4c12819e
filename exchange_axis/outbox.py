"""The outbox worker: store-and-forward delivery with back-off, bounded attempts and priorities.

Rows were committed with the document's state (see ``exchange_axis.state``), so a crash anywhere
loses nothing: after a restart the worker finds them again. Delivery may therefore repeat; the
receiver's idempotency (sender, DocumentId, package hash) makes a repeat harmless and answers it
with the first receipt.

Ordering: rows are claimed by priority (Hỏa tốc first) then age. Per peer, priority classes are
sent one after another (urgent before normal) and rows of one class concurrently. When a peer
fails, every pending row for it waits for the same back-off (the peer is down, not the row); when
it answers again, its queue is woken at once and drains in priority order.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import random
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

from exchange_axis.config import WorkerSettings
from exchange_axis.errors import TransportError
from exchange_axis.receipts import open_sealed
from exchange_axis.routing import LOCAL, NATIONAL, SELF
from exchange_axis.state import OutboxItem, worker_seat
from exchange_axis.transport import BUNDLE_PATH, PACKAGE_PATH, TO_HEADER, PeerClient
from storage.db import database_unavailable

log = logging.getLogger("edoc.exchange.outbox")

#: Status packages per bundle request.
BUNDLE = 100
#: longest pause (seconds) between rounds while the database is unavailable: the worker comes
#: back soon after it does, whatever the (long) back-off configured for peers
DB_RETRY_CAP = 10.0


def backoff_delay(attempts: int, settings: WorkerSettings, rng: random.Random) -> float:
    """Exponential back-off with "equal jitter": half fixed, half random, capped.

    The random half spreads the retries of many senders that lost the same hub at the same time."""
    base = min(settings.max_delay, settings.base_delay * (2 ** max(0, attempts - 1)))
    return base / 2 + rng.uniform(0, base / 2)


def retryable_status(status: int) -> bool:
    """Whether a peer's HTTP answer to a delivery is worth trying again: its server's trouble
    (5xx), too many requests (429), or 408, the peer's BodyGuard giving up on a body that
    stalled (a weak link's outage mid-transfer: the package itself is fine, RFC 9110 says the
    request may be repeated). Anything else is the package's or the sender's fault."""
    return status >= 500 or status in (408, 429)


def _raise_first(results: list) -> list:
    """``asyncio.gather(..., return_exceptions=True)``'s results, or its first exception raised
    once every awaitable has finished (plain ``gather`` raises while the others still run)."""
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return results


class OutboxWorker:
    def __init__(self, node, *, now: Callable[[], datetime]) -> None:
        self.node = node
        self.settings: WorkerSettings = node.cfg.worker
        self.now = now
        self.rng = random.Random()
        self.client: PeerClient | None = None
        self._wake = asyncio.Event()
        self._stop = False
        self._task: asyncio.Task | None = None

    def wake(self) -> None:
        """Called (thread-safely via the loop) when new rows were committed."""
        self._wake.set()

    async def start(self) -> None:
        self.client = PeerClient(self.node.cfg)
        cfg = self.node.cfg
        await asyncio.to_thread(self.node.state.release_claims,
                                worker_seat(cfg.name, cfg.listen))
        self._task = asyncio.create_task(self._run(), name="outbox-worker")

    async def stop(self) -> None:
        self._stop = True
        self._wake.set()
        if self._task:
            await self._task
        if self.client:
            await self.client.aclose()

    async def _run(self) -> None:
        failures = 0
        while not self._stop:
            try:
                if failures:  # the database is back: settle what the failed round left
                    await asyncio.to_thread(self._reseat)
                items = await asyncio.to_thread(
                    self.node.state.claim_due, self.now(), self.settings.batch,
                    timedelta(seconds=self.settings.lease))
                if items:
                    await self._send(items)
                failures = 0
            except Exception as exc:  # noqa: BLE001 - the worker must outlive any bad round
                failures += 1
                delay = min(DB_RETRY_CAP, backoff_delay(failures, self.settings, self.rng))
                if database_unavailable(exc):
                    log.warning("outbox: the database is unavailable (%s); trying again in "
                                "%.1fs", str(exc).splitlines()[0][:300], delay)
                else:
                    log.exception("outbox round failed; trying again in %.1fs", delay)
                await self._pause(delay)
                continue
            if not items:
                await self._pause(self.settings.poll_interval)

    async def _pause(self, seconds: float) -> None:
        """Sleep until ``seconds`` passed or new rows were committed (``wake``) or ``stop``."""
        if self._stop:
            return
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), seconds)

    def _reseat(self) -> None:
        """After a failed round (typically the database went away mid-round), rows this
        worker claimed may still be ``sending`` under its name: a claim whose commit was lost
        with the connection, a delivery whose ``mark_delivered`` failed. No delivery of this
        worker is in flight between rounds, so they go back to pending now (as at a restart,
        ``release_claims``) rather than waiting out their lease; a package that did reach its
        peer is sent again and answered with its first receipt."""
        cfg = self.node.cfg
        self.node.state.release_claims(worker_seat(cfg.name, cfg.listen))

    async def _send(self, items: list[OutboxItem]) -> None:
        """One round: every claimed row attempted, peer by peer. Every delivery is let finish
        before an error is raised, so none is still running when the next round begins."""
        by_peer: dict[str, list[OutboxItem]] = defaultdict(list)
        for item in items:
            by_peer[item.next_hop].append(item)
        _raise_first(await asyncio.gather(
            *(self._drain_peer(peer, rows) for peer, rows in by_peer.items()),
            return_exceptions=True))

    async def _drain_peer(self, peer_name: str, items: list[OutboxItem]) -> None:
        classes: dict[int, list[OutboxItem]] = defaultdict(list)
        for item in items:
            classes[item.priority].append(item)
        sem = asyncio.Semaphore(self.settings.concurrency)
        for priority in sorted(classes, reverse=True):
            rows = classes[priority]
            statuses = [i for i in rows if i.kind == "status" and peer_name != NATIONAL]
            singles = [i for i in rows if not (i.kind == "status" and peer_name != NATIONAL)]
            bundles = [statuses[k:k + BUNDLE] for k in range(0, len(statuses), BUNDLE)]
            results = _raise_first(await asyncio.gather(
                *(self._deliver(sem, i) for i in singles),
                *(self._deliver_bundle(sem, b) for b in bundles), return_exceptions=True))
            down_until = max((r for r in results if r is not None), default=None)
            if down_until is not None:  # the peer is failing: lower classes wait with it
                rest = [i for p in classes if p < priority for i in classes[p]]
                if rest:
                    await asyncio.to_thread(self.node.state.release, [i.id for i in rest],
                                            down_until)
                return

    async def _deliver(self, sem: asyncio.Semaphore, item: OutboxItem) -> datetime | None:
        """Deliver one row; None when done, else the time the peer should be tried again."""
        state = self.node.state
        async with sem:
            try:
                if item.next_hop == LOCAL:  # a recipient hosted here: no network, same checks
                    status, body = await asyncio.to_thread(
                        self.node.receiver.process, item.package, SELF, item.recipients)
                    if status != 200:
                        raise TransportError(f"Tự nhận thất bại: HTTP {status}",
                                             f"local delivery failed: {body[:300]!r}",
                                             retryable=status >= 500)
                    receipt, _ = open_sealed(body, expected_fingerprint=self.node.own_fingerprint)
                    await asyncio.to_thread(self._mark_delivered, item, body, receipt)
                    return None
                if item.next_hop == NATIONAL:
                    receipt, raw = await asyncio.to_thread(self.node.axis.send, item)
                    await asyncio.to_thread(self._mark_delivered, item, raw, receipt)
                    return None
                peer = self.node.cfg.peer(item.next_hop)
                answer = await self.client.post(peer, PACKAGE_PATH, item.package,
                                                {TO_HEADER: ",".join(item.recipients)})
                if answer.status_code != 200:
                    raise TransportError(
                        f"Nút {peer.name} trả lời HTTP {answer.status_code}",
                        f"peer {peer.name} answered HTTP {answer.status_code}: "
                        f"{answer.body[:300]!r}", retryable=retryable_status(answer.status_code))
                receipt, raw = open_sealed(answer.body, expected_fingerprint=peer.fingerprint)
                if receipt.package_sha256 != item.package_sha256:
                    raise TransportError("Biên nhận không khớp gói tin",
                                         "receipt is for another package", retryable=False)
            except TransportError as exc:
                return await asyncio.to_thread(self._failed, item, exc)
            except Exception as exc:  # noqa: BLE001 - unexpected: keep the row, back off
                log.exception("delivery of outbox row %s failed", item.id)
                return await asyncio.to_thread(self._failed, item,
                                               TransportError(str(exc), str(exc)))
            self.node.crash_point("sender_before_mark_delivered")
            await asyncio.to_thread(self._mark_delivered, item, answer.body, receipt)
            if item.attempts > 1:
                await asyncio.to_thread(state.wake_peer, item.next_hop, self.now())
            return None

    def _mark_delivered(self, item: OutboxItem, answer: bytes, receipt) -> None:
        """Record the delivery; a document relayed here and refused whole by the next hop is
        reported to its sender in the same transaction (``Receiver.refused_relay``)."""
        then = (self.node.receiver.refused_relay(item.package, receipt.recipients)
                if item.kind == "document" else [])
        self.node.state.mark_delivered(item, answer, receipt, self.now(), then)

    async def _deliver_bundle(self, sem: asyncio.Semaphore, items: list[OutboxItem]
                              ) -> datetime | None:
        """Statuses to one peer in one request (a directive's 3,321 answers are not 3,321
        round trips); every package still gets, and is checked against, its own receipt."""
        if len(items) == 1:
            return await self._deliver(sem, items[0])
        async with sem:
            try:
                peer = self.node.cfg.peer(items[0].next_hop)
                body = json.dumps({"packages": [
                    {"package": base64.b64encode(i.package).decode("ascii"), "to": i.recipients}
                    for i in items]}).encode("ascii")
                answer = await self.client.post(peer, BUNDLE_PATH, body,
                                                {"content-type": "application/json"})
                if answer.status_code != 200:
                    raise TransportError(
                        f"Nút {peer.name} trả lời HTTP {answer.status_code}",
                        f"peer {peer.name} answered HTTP {answer.status_code}: "
                        f"{answer.body[:300]!r}", retryable=retryable_status(answer.status_code))
                answers = json.loads(answer.body)["answers"]
                if len(answers) != len(items):
                    raise TransportError("Số biên nhận không khớp",
                                         "bundle answered with a wrong number of receipts")
            except (TransportError, ValueError, KeyError) as exc:
                err = exc if isinstance(exc, TransportError) else TransportError(str(exc),
                                                                                  str(exc))
                until = [await asyncio.to_thread(self._failed, i, err) for i in items]
                return max(until)
            done = []
            for item, one in zip(items, answers, strict=True):
                raw = base64.b64decode(one["body"])
                try:
                    if one["status"] != 200:
                        raise TransportError(f"HTTP {one['status']}",
                                             f"package refused: HTTP {one['status']} {raw[:200]!r}",
                                             retryable=one["status"] >= 500)
                    receipt, _ = open_sealed(raw, expected_fingerprint=peer.fingerprint)
                    if receipt.package_sha256 != item.package_sha256:
                        raise TransportError("Biên nhận không khớp gói tin",
                                             "receipt is for another package", retryable=False)
                    done.append((item, raw, receipt))
                except TransportError as exc:
                    await asyncio.to_thread(self._failed, item, exc)
            await asyncio.to_thread(self.node.state.mark_delivered_many, done, self.now())
            return None

    def _failed(self, item: OutboxItem, exc: TransportError) -> datetime:
        """Record a failed attempt (``item.attempts`` already counts it: the claim did);
        return when the peer may be tried again."""
        error = str(exc)
        if not exc.retryable or item.attempts >= self.settings.max_attempts:
            self.node.state.mark_failed(item, error)
            log.warning("outbox row %s failed for good: %s", item.id, error)
            return self.now()
        until = self.now() + timedelta(seconds=backoff_delay(item.attempts, self.settings,
                                                              self.rng))
        self.node.state.mark_retry(item, error, until)
        return until

