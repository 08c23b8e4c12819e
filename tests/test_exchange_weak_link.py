"""A commune hub behind a weak link: slow (64 KB/s) and cut mid-transfer on the first attempts.
The link is a real TCP proxy between the province and the hub (mutual TLS passes through it
untouched, so certificate pinning still holds end to end). Every cut attempt is a transport
error at the sender and a request that never reached the hub's application; the directive is
retried with back-off until it gets through whole, and each commune registers it exactly once."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from sqlalchemy import select

from api.cluster import NAMED_COMMUNES, PROVINCE, layout, running
from api.directive import document_json, sign_directive
from exchange_axis.config import WorkerSettings, load
from storage.db import models as m
from tests.exchange_helpers import (
    all_have,
    assert_consistent,
    db_counts,
    province_and_hub,
    scalars,
    wait_for,
)
from tests.fixtures.pki import free_port


class WeakLink:
    """TCP proxy on 127.0.0.1: ``rate`` bytes/s towards the target; each of the first
    ``cuts`` connections is reset after ``cut_after`` bytes towards the target."""

    def __init__(self, target_port: int, *, rate: int, cuts: int, cut_after: int) -> None:
        self.port = free_port()
        self.target_port, self.rate, self.cuts, self.cut_after = target_port, rate, cuts, cut_after
        self.connections = 0
        self.cut = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> WeakLink:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def __exit__(self, *_exc) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", self.port))
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        index = self.connections
        self.connections += 1
        budget = self.cut_after if index < self.cuts else None
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return

        async def upstream() -> None:
            sent = 0
            while data := await reader.read(8192):
                if budget is not None and sent + len(data) > budget:
                    self.cut += 1
                    raise ConnectionResetError("link cut")
                up_writer.write(data)
                await up_writer.drain()
                sent += len(data)
                await asyncio.sleep(len(data) / self.rate)

        async def downstream() -> None:
            while data := await up_reader.read(8192):
                writer.write(data)
                await writer.drain()

        tasks = [asyncio.ensure_future(upstream()), asyncio.ensure_future(downstream())]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for t in tasks:
            t.cancel()
        for w in (writer, up_writer):
            w.transport.abort()  # a reset, not a polite close: what a dropped link looks like


def test_directive_crosses_a_slow_link_that_cuts_mid_transfer(tmp_path: Path, pki_server,
                                                              reliability) -> None:
    directive = sign_directive(pki_server, lambda _n: "61", pad_to_bytes=300_000)
    specs = province_and_hub()
    paths = layout(tmp_path, pki_server, specs,
                   worker=WorkerSettings(base_delay=0.2, max_delay=1.0, max_attempts=50,
                                         poll_interval=0.1))
    hub_port = load(paths["hub"]).port
    link = WeakLink(hub_port, rate=64 * 1024, cuts=3, cut_after=60_000)
    text = paths["province"].read_text(encoding="utf-8")  # the province reaches the hub via it
    paths["province"].write_text(text.replace(f"https://127.0.0.1:{hub_port}",
                                              f"https://127.0.0.1:{link.port}"), encoding="utf-8")
    with link, running(paths) as nodes:
        province, hub = nodes["province"], nodes["hub"]
        with province.admin() as p:
            doc_id = p.call("POST", "/admin/v1/issue", json=document_json(
                directive, PROVINCE, NAMED_COMMUNES))["document_id"]
        wait_for(all_have(province, doc_id, "01"), 120, "01 from both communes over the link")
        assert link.cut == 3 and link.connections >= 4
        attempts = scalars(province.cfg.database_url, select(m.OutboxItem.attempts).where(
            m.OutboxItem.kind == "document"))
        assert attempts and max(attempts) >= 4, attempts  # three cut, one through
        held = assert_consistent(hub.cfg.database_url, hub.cfg.store_url)
        assert held["incoming_documents"] == 2 and held["incoming_per_agency_doc"] == 1
        assert db_counts(hub.cfg.database_url)["inbox"] == 1  # one package, accepted once
        reliability(pdf_bytes=len(directive.pdf), link_bytes_per_s=64 * 1024,
                    cuts=link.cut, connections=link.connections, attempts=max(attempts))
