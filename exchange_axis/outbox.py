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
import contextlib
import logging
import random
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

from exchange_axis.config import WorkerSettings
from exchange_axis.errors import TransportError
from exchange_axis.receipts import open_sealed
from exchange_axis.routing import NATIONAL
from exchange_axis.state import OutboxItem
from exchange_axis.transport import PACKAGE_PATH, PeerClient

log = logging.getLogger("edoc.exchange.outbox")


def backoff_delay(attempts: int, settings: WorkerSettings, rng: random.Random) -> float:
    """Exponential back-off with "equal jitter": half fixed, half random, capped.

    The random half spreads the retries of many senders that lost the same hub at the same time."""
    base = min(settings.max_delay, settings.base_delay * (2 ** max(0, attempts - 1)))
    return base / 2 + rng.uniform(0, base / 2)


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
        await asyncio.to_thread(self.node.state.release_claims)
        self._task = asyncio.create_task(self._run(), name="outbox-worker")

    async def stop(self) -> None:
        self._stop = True
        self._wake.set()
        if self._task:
            await self._task
        if self.client:
            await self.client.aclose()

    async def _run(self) -> None:
        while not self._stop:
            try:
                items = await asyncio.to_thread(
                    self.node.state.claim_due, self.now(), self.settings.batch)
            except Exception:  # noqa: BLE001 - a DB hiccup must not kill the worker
                log.exception("claiming outbox rows failed")
                items = []
            if not items:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.poll_interval)
                continue
            by_peer: dict[str, list[OutboxItem]] = defaultdict(list)
            for item in items:
                by_peer[item.next_hop].append(item)
            await asyncio.gather(*(self._drain_peer(peer, rows) for peer, rows in by_peer.items()))

    async def _drain_peer(self, peer_name: str, items: list[OutboxItem]) -> None:
        classes: dict[int, list[OutboxItem]] = defaultdict(list)
        for item in items:
            classes[item.priority].append(item)
        sem = asyncio.Semaphore(self.settings.concurrency)
        for priority in sorted(classes, reverse=True):
            results = await asyncio.gather(*(self._deliver(sem, i) for i in classes[priority]))
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
                if item.next_hop == NATIONAL:
                    receipt, raw = await asyncio.to_thread(self.node.axis.send, item)
                    await asyncio.to_thread(state.mark_delivered, item, raw, receipt, self.now())
                    return None
                peer = self.node.cfg.peer(item.next_hop)
                answer = await self.client.post(peer, PACKAGE_PATH, item.package)
                if answer.status_code != 200:
                    retryable = answer.status_code >= 500 or answer.status_code == 429
                    raise TransportError(
                        f"Nút {peer.name} trả lời HTTP {answer.status_code}",
                        f"peer {peer.name} answered HTTP {answer.status_code}: "
                        f"{answer.body[:300]!r}", retryable=retryable)
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
            await asyncio.to_thread(state.mark_delivered, item, answer.body, receipt, self.now())
            if item.attempts > 1:
                await asyncio.to_thread(state.wake_peer, item.next_hop, self.now())
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

