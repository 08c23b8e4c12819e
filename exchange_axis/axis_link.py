"""The node's link to the national axis: outbox rows routed to ``@national`` go out through
``sendEdoc``; a poller fetches what the axis holds for our agencies (documents and statuses),
hands each package to the receiver as if a peer had posted it, and acknowledges it with
``updateStatus`` ("done" once stored or answered, "fail" otherwise).

The axis gives no signed receipt: its DocId is the transport acknowledgement, and the business
statuses (01, 03…) come back later as status packages through the same poller.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging

from exchange_axis.national import HmacSha256Signer, NationalAxisClient
from exchange_axis.receipts import Receipt, RecipientOutcome
from exchange_axis.routing import NATIONAL

log = logging.getLogger("edoc.exchange.axis")


class AxisLink:
    def __init__(self, node) -> None:
        self.node = node
        cfg = node.cfg.national
        self.client = NationalAxisClient(cfg.url, HmacSha256Signer(cfg.system_id, cfg.secret),
                                         organ_id=node.organ_id)
        self._task: asyncio.Task | None = None
        self._stop = asyncio.Event()

    def send(self, item) -> tuple[Receipt, bytes]:
        """Blocking: hand one outbox row to the axis; the DocId is the acknowledgement."""
        doc_id = self.client.send_edoc(item.package,
                                       messagetype="status" if item.kind == "status" else "edoc")
        receipt = Receipt(NATIONAL, self.node.organ_id, "", item.package_sha256,
                          dt.datetime.now(dt.UTC), item.kind,
                          [RecipientOutcome(c, "relayed") for c in item.recipients])
        return receipt, json.dumps({"axis_doc_id": doc_id}).encode()

    def poll_once(self) -> int:
        """Fetch, receive and acknowledge everything waiting for us; returns how many."""
        count = 0
        for messagetype in ("edoc", "status"):
            for entry in self.client.get_received_edoc_list(messagetype=messagetype):
                doc_id = str(entry["docId"])
                try:
                    package = self.client.get_edoc(doc_id)
                    status, _answer = self.node.receiver.process(package, NATIONAL)
                except Exception:  # noqa: BLE001 - tell the axis, keep polling the rest
                    log.exception("axis package %s could not be received", doc_id)
                    status = 500
                self.client.update_status(doc_id, "done" if status == 200 else "fail")
                count += 1
        return count

    async def start(self, interval: float) -> None:
        async def loop() -> None:
            while not self._stop.is_set():
                try:
                    await asyncio.to_thread(self.poll_once)
                except Exception:  # noqa: BLE001 - the axis may be down: try again later
                    log.warning("polling the national axis failed", exc_info=True)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), interval)

        self._task = asyncio.create_task(loop(), name="axis-poller")

    async def stop(self) -> None:
        self._stop.set()
        if self._task:
            await self._task
        self.client.close()
