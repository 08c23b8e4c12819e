"""A node: the parts of the exchange axis composed around one configuration.

The node hosts agencies, owns one database, one object store, one routing table, one verifier
cache, one receipt signer and one outbox worker. The HTTP layer (``api.node_app``) calls
``receive`` for peers and the operator methods for the node's own staff; everything here is
synchronous (run in threads) except the worker's start/stop.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import hashlib
import logging
import os
from dataclasses import replace
from typing import Any

from edoc.agency import normalise
from edoc.document import (
    VIETNAM,
    Attachment,
    Business,
    BusinessType,
    Document,
    DocumentCode,
    DocumentPackage,
    DocumentType,
    Organization,
    Priority,
    ReplacementInfo,
    ResponseFor,
    SignerInfo,
    StaffInfo,
    TraceHeader,
)
from edoc.document import Receiver as BusinessReceiver
from edoc.edxml import build
from edoc.status import StatusCode, StatusMessage
from exchange_axis.config import NodeConfig, Peer
from exchange_axis.errors import ExchangeError, RoutingError
from exchange_axis.outbox import OutboxWorker
from exchange_axis.receipts import ReceiptSigner
from exchange_axis.receiver import Receiver
from exchange_axis.routing import SELF, RoutingTable
from exchange_axis.state import NodeState, Transfer, require_reason
from exchange_axis.transport import cert_fingerprint_file, fingerprint, matches
from exchange_axis.verification import Verifier

log = logging.getLogger("edoc.exchange.node")


class Node:
    def __init__(self, cfg: NodeConfig) -> None:
        from storage.objects import open_store  # noqa: PLC0415

        self.cfg = cfg
        self.hosted = cfg.hosted()
        self.organ_id = cfg.agencies[0].code if cfg.agencies else next(iter(self.hosted), "")
        self.routing = RoutingTable.from_config(cfg)
        self.own_fingerprint = cert_fingerprint_file(cfg.tls.cert)
        self._by_fp: dict[str, Peer] = {}
        for peer in cfg.peers:
            self._by_fp.setdefault(peer.fingerprint, peer)
        self.store = open_store(cfg.store_url)
        self.state = NodeState(cfg.database_url, node_name=cfg.name, hosted=self.hosted)
        self.verifier = Verifier(trust_dirs=cfg.trust_dirs, development=cfg.development,
                                 revocation=cfg.revocation, processes=cfg.verify_processes)
        self.receipt_signer = ReceiptSigner(cfg.tls.cert, cfg.tls.key, cfg.tls.key_password)
        self.receiver = Receiver(self)
        self.worker = OutboxWorker(self, now=self.now)
        self.axis = None
        if cfg.national is not None:
            from exchange_axis.axis_link import AxisLink  # noqa: PLC0415

            self.axis = AxisLink(self)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._anchoring: asyncio.Task | None = None

    # -- lifetime ----------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self.worker.start()
        if self.axis is not None:
            await self.axis.start(self.cfg.national.poll_interval)
        if self.cfg.audit.tsa_url:
            self._anchoring = asyncio.create_task(self._anchor_loop(self.cfg.audit.tsa_url))

    async def stop(self) -> None:
        if self._anchoring is not None:
            self._anchoring.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._anchoring
        if self.axis is not None:
            await self.axis.stop()
        await self.worker.stop()
        await asyncio.to_thread(self.verifier.close)

    async def _anchor_loop(self, tsa_url: str) -> None:
        """Time-stamp the audit log's head whenever it has moved and the last anchor is older
        than the configured period. A TSA that is down costs nothing but a warning: the log
        keeps growing and the next round anchors it."""
        from signing.tsa import timestamper  # noqa: PLC0415

        stamp = timestamper(tsa_url)
        period = self.cfg.audit.anchor_every_seconds
        every = dt.timedelta(seconds=period)
        while True:
            try:
                await asyncio.to_thread(self.state.anchor_audit, stamp, every)
            except Exception as exc:  # noqa: BLE001 - reported, retried next round
                log.warning("audit anchoring failed (TSA %s): %s; will retry", tsa_url, exc)
            await asyncio.sleep(min(max(period / 4, 0.2), 60.0))

    def after_commit(self) -> None:
        """New outbox rows are committed: wake the worker now rather than at its next poll."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.worker.wake)

    def now(self) -> dt.datetime:
        return dt.datetime.now(VIETNAM)

    def crash_point(self, name: str) -> None:
        """Crash-injection hook for tests: die like kill -9 at a named point."""
        if self.cfg.crash_at == name:
            os._exit(137)

    def identify(self, der: bytes | None) -> Peer | None:
        """Which declared peer presented this TLS client certificate (None: nobody we know).
        The node's own certificate is its operators' (and its own local deliveries)."""
        if not der:
            return None
        fp = fingerprint(der)
        if fp == self.own_fingerprint:
            return Peer(name=SELF, fingerprint=fp)
        peer = self._by_fp.get(fp)
        return peer if peer is not None and matches(peer, der) else None

    # -- peers ---------------------------------------------------------------------------------
    def receive(self, body: bytes, peer_cert: bytes | None, to: list[str] | None = None
                ) -> tuple[int, bytes]:
        return self.receiver.handle(body, self.identify(peer_cert), to)

    # -- issuing -------------------------------------------------------------------------------
    def issue(self, document: Document, files: list[Attachment],
              business: Business | None = None, *, draft_id: int | None = None,
              actor: str | None = None) -> dict[str, Any]:
        """Issue a signed document: store the originals, then commit the document's state and one
        outbox row per next hop in one transaction. Returns the document id and the plan.
        ``draft_id``: the e-office's sealed draft row becomes the issued document (checked to
        still be ``sealed`` in that transaction); ``actor`` names who issued it in the audit."""
        sender = normalise(document.sender.organ_id)
        if sender not in self.hosted:
            raise RoutingError(f"Cơ quan gửi {sender} không thuộc nút này",
                               f"sender {sender} is not hosted at this node")
        if document.document_id is None:
            document = replace(document, document_id=document.make_document_id())
        codes = [normalise(r.organ_id) for r in document.recipients]
        plan = self.routing.plan(codes)
        if plan.unroutable:
            raise RoutingError(
                f"Không có đường tới: {', '.join(plan.unroutable)}",
                f"no route to: {', '.join(plan.unroutable)}")
        business = business or Business(BusinessType.NEW)
        links = self._business_links(business)
        keys = {hashlib.sha256(f.data).hexdigest(): self.store.put(f.data) for f in files}
        package = DocumentPackage(document=document, business=business,
                                  traces=[TraceHeader(sender, self.now())], attachments=files)
        transfers = []
        for hop, hop_codes in plan.hops.items():
            wanted = set(hop_codes)
            doc = replace(document, recipients=[r for r in document.recipients
                                                if normalise(r.organ_id) in wanted])
            data = build(replace(package, document=doc))
            transfers.append(Transfer(hop, hop_codes, data, hashlib.sha256(data).hexdigest(),
                                      int(document.priority or 0), "document"))
        tracked = document.document_id
        local_id = None
        if business.doc_type == BusinessType.UPDATE:  # a new version of the original, tracked there
            tracked = business.document_id
            self.state.record_update(tracked, {
                "document_id": document.document_id, "issued_at": self.now().isoformat(),
                "reason": business.reason, "subject": document.subject,
                "code": str(document.code) if document.code else None,
                "recipients": codes, "files": keys}, transfers, self.now())
        else:
            local_id = self.state.record_issue(document, keys, transfers, self.now(),
                                    files=[(f.name, hashlib.sha256(f.data).hexdigest(),
                                            len(f.data)) for f in files],
                                    business_type=int(business.doc_type), links=links,
                                    draft_id=draft_id, actor=actor)
        self.crash_point("sender_after_commit")
        self.after_commit()
        return {"document_id": tracked, "package_document_id": document.document_id,
                "local_id": local_id,
                "hops": {t.next_hop: len(t.recipients) for t in transfers}, "files": keys}

    def _business_links(self, business: Business) -> dict[str, Any]:
        """What an update/replace package refers to must be a document sent from here (a
        clear error otherwise, before anything is stored); returned for the document's meta."""
        if business.doc_type == BusinessType.UPDATE:
            if not business.document_id:
                raise ExchangeError("Gói cập nhật phải nêu DocumentId của văn bản gốc",
                                    "an update package must name the original DocumentId")
            self.state.document_track(business.document_id)
            return {}
        if business.doc_type == BusinessType.REPLACE:
            if not business.replacements:
                raise ExchangeError("Gói thay thế phải nêu văn bản bị thay thế (ReplacementInfo)",
                                    "a replacement package must name the replaced document")
            for info in business.replacements:
                self.state.document_track(info.document_id)
            return {"replaces": [i.document_id for i in business.replacements]}
        return {}

    def update(self, original_id: str, document: Document, reason: str,
               files: list[Attachment] | None = None, *, document_info: bool = True,
               receivers: list[BusinessReceiver] | None = None) -> dict[str, Any]:
        """Correct an already-sent document (BussinessDocType 2): ``document`` carries the
        corrected metadata for the recipients concerned; they answer 15 (agree) or 16."""
        return self.issue(document, files or [], Business(
            BusinessType.UPDATE, document_id=original_id, reason=reason,
            document_info=1 if document_info else 0,
            document_receiver=1 if receivers else 0, receivers=receivers or None))

    def replace_document(self, document: Document, files: list[Attachment],
                         replaces: list[ReplacementInfo], reason: str | None = None
                         ) -> dict[str, Any]:
        """Send a new signed document (BussinessDocType 3) that replaces earlier ones, each for
        the agencies named in its ReplacementInfo (none: all recipients); it arrives as a new
        document (01) and the replaced copies are marked ``replaced`` at the recipients."""
        return self.issue(document, files, Business(
            BusinessType.REPLACE, document_id=replaces[0].document_id if replaces else None,
            reason=reason, replacements=replaces))

    def issue_request(self, body: dict[str, Any]) -> dict[str, Any]:
        """The operator API's form of ``issue``: JSON metadata and base64 files."""
        document = document_from_json(body["document"])
        files = [Attachment(name=f["name"], data=base64.b64decode(f["data"]))
                 for f in body["files"]]
        raw = body["document"].get("business")
        business = business_from_json(raw) if raw else None
        if business is not None and business.doc_type == BusinessType.UPDATE:
            return self.update(business.document_id or "", document, business.reason or "",
                               files, document_info=business.document_info != 0,
                               receivers=business.receivers)
        if business is not None and business.doc_type == BusinessType.REPLACE:
            return self.replace_document(document, files, business.replacements or [],
                                         business.reason)
        return self.issue(document, files, business)

    def allocate_number(self, agency: str, notation: str, subject: str | None = None
                        ) -> dict[str, Any]:
        """The clerk numbers a signed draft before sealing it (sổ văn bản đi)."""
        agency = normalise(agency)
        if agency not in self.hosted:
            raise RoutingError(f"Cơ quan {agency} không thuộc nút này",
                               f"agency {agency} is not hosted at this node")
        number = self.state.allocate_number(agency, notation, self.now(), subject)
        return {"number": number, "notation": notation, "code": f"{number}/{notation}"}

    # -- clerks' statuses --------------------------------------------------------------------
    def clerk_status(self, document_id: str, recipients: list[str] | str, code: str,
                     reason: str | None = None, staff: str | None = None, *,
                     assigned_to: int | None = None, actor: str | None = None
                     ) -> dict[str, Any]:
        """A clerk of hosted recipients answers a received document (03, 02, 04, 05, 06, 15,
        16): the status is recorded and a status package queued towards the document's sender."""
        status_code = StatusCode.parse(code)
        # checked on the clerk's own words: the status's description below falls back to the
        # code's meaning, which must not pass for a reason
        require_reason(status_code, reason)
        if isinstance(recipients, str):
            recipients = [recipients]
        received = self.state.received_document(document_id)
        if received is None:
            raise ExchangeError(f"Không có văn bản đến {document_id}",
                                f"no received document {document_id}")
        transfers = []
        messages = []
        for recipient in recipients:
            recipient = normalise(recipient)
            if recipient not in self.hosted:
                raise RoutingError(f"{recipient} không thuộc nút này",
                                   f"{recipient} is not hosted here")
            msg = StatusMessage(
                sender=Organization(recipient, self.hosted.get(recipient) or None),
                response_for=ResponseFor(received.sender, received.code,
                                         received.promulgation_date, document_id),
                code=status_code, timestamp=self.now(),
                description=reason or status_code.meaning_vi,
                staff=StaffInfo(staff=staff) if staff else None,
                traces=[TraceHeader(recipient, self.now())])
            if self.routing.next_hop(normalise(received.sender)) is None:
                raise RoutingError(f"Không có đường tới {received.sender}",
                                   f"no route to {received.sender}")
            transfers.append(self.receiver.status_transfer(msg))
            messages.append(msg)
        self.state.record_clerk_statuses(document_id, messages, transfers, self.now(),
                                         assigned_to=assigned_to, actor=actor)
        self.after_commit()
        return {"document_id": document_id, "code": status_code.value, "count": len(messages)}

    def take_back(self, document_id: str, recipients: list[str],
                  reason: str = "Yêu cầu lấy lại văn bản") -> dict[str, Any]:
        """The sender asks recipients to give a document back (status 13); they answer 15
        (agree) or 16 (refuse) through ``clerk_status``."""
        track = self.state.document_track(document_id)
        codes = [normalise(c) for c in recipients]
        unknown = [c for c in codes if c not in track.recipients]
        if unknown:
            raise ExchangeError(f"{', '.join(unknown)} không nhận văn bản {document_id}",
                                f"{', '.join(unknown)} did not receive {document_id}")
        sender, date, code = self.state.outgoing_header(document_id)
        msg = StatusMessage(
            sender=Organization(sender, self.hosted.get(sender) or None),
            response_for=ResponseFor(sender, code, date, document_id),
            code=StatusCode.parse("13"), timestamp=self.now(), description=reason,
            traces=[TraceHeader(sender, self.now())])
        data = build(msg)
        plan = self.routing.plan(codes)
        transfers = [Transfer(hop, hop_codes, data, hashlib.sha256(data).hexdigest(), 2,
                              "status") for hop, hop_codes in plan.hops.items()]
        self.state.record_take_back(document_id, msg, transfers, self.now())
        self.after_commit()
        return {"document_id": document_id, "code": "13", "count": len(codes)}

    # -- reports -------------------------------------------------------------------------------
    def tracking_report(self, document_id: str) -> dict[str, Any]:
        from exchange_axis.tracking import document_tracking  # noqa: PLC0415

        return document_tracking(self.state, document_id)

    def inbox_report(self) -> list[dict[str, Any]]:
        return self.state.received_list()

    def queue_report(self) -> dict[str, Any]:
        return self.state.queue_report()

    def retry_failed(self, row_id: int | None = None) -> dict[str, Any]:
        count = self.state.retry_failed(row_id, self.now())
        self.after_commit()
        return {"requeued": count}


def business_from_json(data: dict[str, Any]) -> Business:
    """Operator API: ``{"type": 0..3, "document_id", "reason", "document_info",
    "receivers": [{"organ_id", "type"}], "replacements": [{"document_id", "organ_ids"}]}``."""
    receivers = [BusinessReceiver(r["organ_id"], int(r.get("type", 1)))
                 for r in data.get("receivers") or []]
    replacements = [ReplacementInfo(r["document_id"], list(r.get("organ_ids") or []))
                    for r in data.get("replacements") or []]
    doc_type = BusinessType(int(data["type"]))
    return Business(
        doc_type, document_id=data.get("document_id"), reason=data.get("reason"),
        document_info=(int(data.get("document_info", 1))
                       if doc_type == BusinessType.UPDATE else None),
        document_receiver=(1 if receivers else 0) if doc_type == BusinessType.UPDATE else None,
        receivers=receivers or None, replacements=replacements or None)


def document_from_json(data: dict[str, Any]) -> Document:
    """Operator API / demo: the few fields an issuing clerk fills in, as JSON."""
    def org(d: dict[str, Any]) -> Organization:
        return Organization(d["organ_id"], d.get("name"))

    return Document(
        sender=org(data["sender"]),
        recipients=[org(r) for r in data["recipients"]],
        subject=data["subject"],
        document_id=data.get("document_id"),
        code=DocumentCode(*data["code"].split("/", 1)) if data.get("code") else None,
        promulgation_place=data.get("place"),
        promulgation_date=dt.date.fromisoformat(data["date"]) if data.get("date") else None,
        document_type=DocumentType(int(data.get("type", 1)), name=data.get("type_name")),
        signer=SignerInfo(data.get("competence"), data.get("position"), data.get("signer")),
        due_date=dt.date.fromisoformat(data["due_date"]) if data.get("due_date") else None,
        priority=Priority(int(data.get("priority", 0))),
        to_places=data.get("to_places"),
    )
