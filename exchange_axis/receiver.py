"""What a node does with an arriving package, before it answers.

Order matters for crash safety and for "nothing stored" on refusal:
1. the peer is known by its TLS certificate (else 403, nothing read further);
2. a package already taken is answered with the FIRST receipt, byte for byte (idempotency on
   sender, DocumentId and package hash), and nothing changes;
3. the package is parsed by the edXML codec (hardened); too old a package is refused (replay);
4. each distinct PDF is verified once (cached by hash); recipients are checked: hosted here,
   routable onwards, or wrong;
5. if anything is accepted: originals go to the object store first, then ONE transaction writes
   the inbox row with the signed receipt, the document, incoming-register numbers, statuses 01,
   and outbox rows for what travels on (relays, and statuses 01 back to a distant sender);
6. the receipt answers the HTTP request. A crash before the commit loses nothing (the sender
   retries); a crash after it is healed by step 2 on the sender's retry.

Refusals (tampered file, invalid or untrusted signature, wrong recipient, stale replay) are answered
with a signed receipt carrying status 02 and the reason, and store nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from edoc.agency import normalise
from edoc.document import (
    Attachment,
    BusinessType,
    DocumentPackage,
    Organization,
    TraceHeader,
)
from edoc.edxml import EdxmlError, build, parse
from edoc.status import StatusCode, StatusMessage
from exchange_axis.config import Peer
from exchange_axis.errors import ExchangeError
from exchange_axis.receipts import Receipt, RecipientOutcome
from exchange_axis.routing import LOCAL, NATIONAL, SELF
from exchange_axis.state import Transfer
from exchange_axis.verification import Verdict

log = logging.getLogger(__name__)

MAX_PACKAGE_BYTES = 256 * 1024 * 1024
#: how many locks serialise arrivals of one idempotency key (a key always maps to the same one)
LOCK_STRIPES = 64
#: idempotency keys remembered per process (``Receiver._recorded``): far more than the
#: arrivals a node has in flight at once
RECORDED_KEYS = 4096
#: recipient outcomes that accept nothing (the arrival stores nothing for them)
REFUSALS = ("02", "16")
#: ExchangeError code of an arrival that could not be judged now (a revocation service did not
#: answer): 503, and the sender's retry is verified afresh
TRY_LATER = "try_later"
#: what is answered 503 (nothing recorded, the sender retries and the retry is verified anew):
#: a revocation service that did not answer, a verification process lost or failed midway
RETRYABLE = ("verifier_lost", "verifier_failed", TRY_LATER)


def error_body(code: str, message_vi: str, message_en: str) -> bytes:
    return json.dumps({"error": code, "message_vi": message_vi, "message_en": message_en},
                      ensure_ascii=False).encode("utf-8")


@dataclass
class Arrival:
    """Everything the single arrival transaction writes (see ``NodeState.record_arrival``)."""

    sender: str
    document_id: str
    package_sha256: str
    kind: str
    received_at: datetime
    package: bytes
    parsed: DocumentPackage | StatusMessage
    came_from: str
    to: list[str] = field(default_factory=list)  # transport addressing (status 13)
    local: list[str] = field(default_factory=list)
    outcomes: list[RecipientOutcome] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    file_keys: dict[str, str] = field(default_factory=dict)  # sha256 → object key
    #: sha256 of each signed PDF → object key of its validation report (JSON), kept as evidence
    report_keys: dict[str, str] = field(default_factory=dict)
    revokes: str | None = None  # DocumentId cancelled by a revoke package
    updates: str | None = None  # DocumentId an update package corrects (recipients knowing it)
    #: replacement packages: (replaced DocumentId, hosted recipients concerned)
    replaces: list[tuple[str, list[str]]] = field(default_factory=list)
    package_key: str | None = None  # object key of the package as received (documents)
    attachment_shas: list[tuple[Attachment, str]] = field(default_factory=list)
    #: outbox rows to commit with the arrival: relays onwards and statuses back to the sender
    forward: list[Transfer] = field(default_factory=list)
    #: why the sending peer may not send this package (vi, en): refused, and audited
    refused: tuple[str, str] | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        """The idempotency key: (sender, DocumentId, package hash)."""
        return (self.sender, self.document_id, self.package_sha256)


class Receiver:
    def __init__(self, node) -> None:
        self.node = node
        # arrivals with the same idempotency key are serialised in this process by one of a
        # fixed set of locks (bounded memory in a long-running worker; across workers the
        # database's unique inbox key decides)
        self._locks = [threading.Lock() for _ in range(LOCK_STRIPES)]
        # idempotency keys this process recorded lately: an arrival whose key is not among them
        # was not recorded here since ``_prepare`` looked it up, so it skips a second lookup
        # (one SQL round trip per arrival); another process's concurrent copy is caught by the
        # inbox's unique key in ``record_arrival``. Bounded: a key forgotten costs only that
        # lookup's saving, never a duplicate.
        self._recorded: OrderedDict[tuple[str, str, str], None] = OrderedDict()
        self._recorded_lock = threading.Lock()

    # -- entry point -------------------------------------------------------------------------
    def handle(self, body: bytes, peer: Peer | None, to: list[str] | None = None
               ) -> tuple[int, bytes]:
        """``peer``: who the TLS client certificate says sent it (None: not a declared peer)."""
        if peer is None:
            return 403, error_body(
                "unknown_peer", "Chứng thư của nút gửi không có trong danh sách nút ngang hàng",
                "the client certificate is not one of this node's declared peers")
        return self.process(body, peer.name, to)

    def handle_bundle(self, items: list[tuple[bytes, list[str]]], peer: Peer | None
                      ) -> list[tuple[int, bytes]]:
        """Many status packages from one peer: answered one by one, committed together (one
        transaction instead of one per status: 3,321 answers to a directive stay cheap)."""
        if peer is None:
            return [self.handle(b"", None)] * len(items)
        results: list[tuple[int, bytes] | None] = [None] * len(items)
        batch: list[tuple[int, Arrival]] = []
        seen: set[tuple[str, str, str]] = set()
        for idx, (body, to) in enumerate(items):
            prepared = self._prepare(body, peer.name, to)
            if isinstance(prepared, tuple):
                results[idx] = prepared
            elif (prepared.kind != "status" or prepared.key in seen
                  or all(o.status in REFUSALS for o in prepared.outcomes)):
                results[idx] = self.process(body, peer.name, to)  # the one-by-one path
            else:
                seen.add(prepared.key)
                batch.append((idx, prepared))
        if batch:
            answers = self.node.state.record_arrivals(
                [(a, self._sealer(a)) for _, a in batch])
            if answers is None:  # a concurrent duplicate got in: fall back, one by one
                for idx, a in batch:
                    results[idx] = self.process(a.package, peer.name, a.to)
            else:
                for (idx, _), answer in zip(batch, answers, strict=True):
                    results[idx] = (200, answer)
                self.node.after_commit()
        return [r for r in results if r is not None]

    def process(self, body: bytes, came_from: str, to: list[str] | None = None
                ) -> tuple[int, bytes]:
        """Handle a package from an authenticated source (a peer, or the national axis)."""
        try:
            prepared = self._prepare(body, came_from, to)
        except ExchangeError as exc:
            if exc.code not in RETRYABLE:
                raise
            # nothing was recorded: 503 makes the sender retry, and the retry is verified anew
            return 503, error_body(exc.code, exc.message_vi, exc.message_en)
        if isinstance(prepared, tuple):
            return prepared
        lock = self._locks[hash(prepared.key) % LOCK_STRIPES]
        with lock:
            if self._recently_recorded(prepared.key):  # a copy got in while this one was read
                first = self.node.state.inbox_receipt(*prepared.key)
                if first is not None:
                    return 200, first
            answer = self._answer(prepared)
            self._remember(prepared.key)
            self.node.crash_point("after_receiver_commit")
            return 200, answer

    def _recently_recorded(self, key: tuple[str, str, str]) -> bool:
        with self._recorded_lock:
            return key in self._recorded

    def _remember(self, key: tuple[str, str, str]) -> None:
        with self._recorded_lock:
            self._recorded[key] = None
            if len(self._recorded) > RECORDED_KEYS:
                self._recorded.popitem(last=False)

    def _prepare(self, body: bytes, came_from: str, to: list[str] | None
                 ) -> tuple[int, bytes] | Arrival:
        """Everything before the commit: a final answer (refusal, duplicate) or an Arrival."""
        node = self.node
        if len(body) > MAX_PACKAGE_BYTES:
            return 413, error_body("too_large", "Gói tin quá lớn", "package too large")
        sha = hashlib.sha256(body).hexdigest()
        try:
            package = parse(body)
        except EdxmlError as exc:
            return 422, error_body("bad_edxml", exc.message_vi, exc.message_en)
        if isinstance(package, DocumentPackage):
            sender = normalise(package.document.sender.organ_id)
            document_id = package.document.document_id or ""
        else:
            sender = normalise(package.sender.organ_id)
            document_id = package.response_for.document_id or ""
        first = node.state.inbox_receipt(sender, document_id, sha)
        if first is not None:
            return 200, first
        arrival = Arrival(sender, document_id, sha, package.kind, node.now(), body, package,
                          came_from, to=[normalise(c) for c in to or []])
        refusal = self._unauthorized(arrival, package)
        if refusal is not None:
            arrival.refused = refusal
            arrival.outcomes = [RecipientOutcome(c, "02", *refusal)
                                for c in self._addressees(arrival, package)]
        elif isinstance(package, DocumentPackage):
            self._document(arrival, package)
        else:
            self._status(arrival, package)
        return arrival

    # -- who may send what ---------------------------------------------------------------------
    def _unauthorized(self, arrival: Arrival, package: DocumentPackage | StatusMessage
                      ) -> tuple[str, str] | None:
        """A peer's certificate says who it is; what it may send is decided here, before
        anything is verified or stored:
        - no peer speaks for an agency hosted here (a document "from" one of our agencies, a
          status "from" one of them, arriving from outside, is spoofed);
        - a status about a document issued here must come from an agency it was sent to
          (forged statuses about another agency's copy, or about a document never sent, are
          refused);
        - a take-back request (13) must concern a document our recipients received from that
          sender.
        - the speaker must be behind the peer (``RoutingTable.behind``): a route to it leads
          through that peer, or node.toml lists it in the peer's ``speaks_for`` (a relay the
          table cannot show). Any matching route counts, so asymmetric paths (a relay one way,
          a direct link back) need no extra configuration when both links are routes.
        The national axis authenticates its own senders; what this node's outbox hands its own
        agencies is its own."""
        if arrival.came_from in (NATIONAL, SELF):  # the axis; this node to its own agencies
            return None
        routing, came_from, state = self.node.routing, arrival.came_from, self.node.state
        if isinstance(package, DocumentPackage):
            speaker = normalise(package.document.sender.organ_id)
            role_vi, role_en = "cơ quan gửi", "sender"
        else:
            speaker = normalise(package.sender.organ_id)
            role_vi, role_en = "cơ quan báo trạng thái", "reporting agency"
        if routing.next_hop(speaker) == LOCAL:
            return (f"Nút {came_from} không được gửi thay {role_vi} {speaker}, cơ quan thuộc "
                    "nút này",
                    f"peer {came_from} may not speak for {role_en} {speaker}, an agency "
                    "hosted at this node")
        if not routing.behind(came_from, speaker):
            return (f"Nút {came_from} không được gửi thay {role_vi} {speaker}: bảng định tuyến "
                    f"không đặt cơ quan này sau nút {came_from}. Nếu nút này chuyển tiếp cho "
                    f"{speaker}, quản trị viên khai báo speaks_for cho nút đó trong node.toml",
                    f"peer {came_from} may not speak for {role_en} {speaker}: the routing "
                    f"table puts no route to it through {came_from}. If that node relays for "
                    f"{speaker}, the operator lists it in the peer's speaks_for in node.toml")
        if isinstance(package, DocumentPackage):
            return None
        document_id = package.response_for.document_id or ""
        if package.code.value == "13":
            held = [c for c in arrival.to if routing.next_hop(c) == LOCAL
                    and state.holds_incoming(speaker, document_id, c)]
            if not held and any(routing.next_hop(c) == LOCAL for c in arrival.to):
                return (f"Không cơ quan nào ở đây nhận văn bản {document_id} của {speaker}",
                        f"no agency here received document {document_id} from {speaker}")
            return None
        owner = normalise(package.response_for.organ_id)
        if routing.next_hop(owner) == LOCAL and not state.sent_to(document_id, speaker):
            return (f"Văn bản {document_id} không được gửi tới {speaker}: không nhận trạng "
                    "thái này",
                    f"document {document_id} was not sent to {speaker}: status refused")
        return None

    @staticmethod
    def _addressees(arrival: Arrival, package: DocumentPackage | StatusMessage) -> list[str]:
        """Who a refusal's receipt answers for: the document's recipients, or the status's."""
        if isinstance(package, DocumentPackage):
            return [normalise(r.organ_id) for r in package.document.recipients] or ["?"]
        if package.code.value == "13":
            return arrival.to or ["?"]
        return [normalise(package.response_for.organ_id)]

    # -- document packages -------------------------------------------------------------------
    def _document(self, arrival: Arrival, package: DocumentPackage) -> None:
        node = self.node
        codes = [normalise(r.organ_id) for r in package.document.recipients]
        stale = self._stale(package.traces)
        if stale:
            arrival.outcomes = [RecipientOutcome(c, "02", *stale) for c in codes]
            return
        business = package.business
        kind = business.doc_type if business is not None else BusinessType.NEW
        pdfs = [a for a in package.attachments if a.media_type == "application/pdf"]
        if not pdfs and kind != BusinessType.UPDATE:  # an update may correct metadata only
            reason = ("Gói tin không có tệp văn bản PDF đã ký số",
                      "the package carries no signed PDF document")
            arrival.outcomes = [RecipientOutcome(c, "02", *reason) for c in codes]
            return
        # each file is hashed once (a 2 MB file costs ~2 ms a hash): a PDF by its verification,
        # which names it (SHA-256) from the hashes its check makes anyway, the others here; the
        # attachment list and the store below reuse the digests
        digests: dict[int, str] = {}
        for attachment in pdfs:
            verdict = node.verifier.check_pdf(attachment.data)
            digests[id(attachment)] = verdict.sha256
            arrival.verdicts.append(verdict)
        for attachment in package.attachments:
            if id(attachment) not in digests:
                digests[id(attachment)] = hashlib.sha256(attachment.data).hexdigest()
        unsure = [v for v in arrival.verdicts if v.try_later]
        if unsure:  # nothing is judged, nothing recorded: the sender's retry is checked afresh
            raise ExchangeError(
                f"Chưa kiểm tra được tình trạng thu hồi chứng thư ký ({unsure[0].summary_vi}); "
                "nơi gửi sẽ gửi lại sau",
                f"the signing certificates' revocation status could not be checked "
                f"({unsure[0].summary_en}); the sender will retry later", code=TRY_LATER)
        broken = [v for v in arrival.verdicts if not v.settled]
        if broken:  # the validator failed midway: no judgement of the file, never a 02
            log.warning("verification of %s from %s failed midway: %s",
                        package.document.document_id, arrival.came_from, broken[0].account())
            raise ExchangeError(
                f"Việc kiểm tra chữ ký số gặp lỗi giữa chừng ({broken[0].summary_vi}); nơi gửi "
                "sẽ gửi lại sau", f"the signature check failed midway ({broken[0].summary_en}):"
                " no judgement of the document; the sender will retry later",
                code="verifier_failed")
        bad = [v for v in arrival.verdicts if not v.passed]
        if bad:
            v = bad[0]
            log.warning("refused %s from %s: %s", package.document.document_id,
                        arrival.came_from, v.account())
            reason = (f"Chữ ký số không hợp lệ ({v.indication}): {v.summary_vi}",
                      f"invalid digital signature ({v.indication}): {v.summary_en}")
            arrival.outcomes = [RecipientOutcome(c, "02", *reason) for c in codes]
            return
        plan = node.routing.plan(codes, came_from=arrival.came_from)
        for code in plan.unroutable:
            arrival.outcomes.append(RecipientOutcome(
                code, "02", f"Sai nơi nhận: {code} không thuộc nút {node.cfg.name} và không "
                "chuyển tiếp được", f"wrong recipient: {code} is neither hosted at node "
                f"{node.cfg.name} nor routable from it"))
        # statuses travel back as packages unless the sender is our direct peer (its receipt
        # says it all): after a relay, or from the national axis (which gives no receipt)
        relayed = len(package.traces) > 1 or arrival.came_from == NATIONAL
        if kind == BusinessType.UPDATE:
            self._update(arrival, package, plan.local)
        else:
            for code in plan.local:
                arrival.local.append(code)
                arrival.outcomes.append(RecipientOutcome(code, "01"))
        if kind == BusinessType.REPLACE:
            self._replace(arrival, package, plan.local)
        for hop, hop_codes in plan.remote().items():
            forwarded = self.forward_package(package, hop_codes)
            arrival.forward.append(Transfer(hop, hop_codes, forwarded,
                                            hashlib.sha256(forwarded).hexdigest(),
                                            int(package.document.priority or 0), "document"))
            arrival.outcomes += [RecipientOutcome(c, "relayed") for c in hop_codes]
        if not (arrival.local or plan.remote()):
            return
        if business is not None and business.doc_type == BusinessType.REVOKE and plan.local:
            # the original is cancelled here (state "revoked") and the sender told: 15
            arrival.revokes = business.document_id
            arrival.forward += [t for t in (self.status_transfer(self.status_for(
                package, c, StatusCode("15"), "Đã hủy văn bản bị thu hồi", original=True))
                for c in plan.local) if t is not None]
        if relayed:  # the sender is not our neighbour: its 01/02 travel back as status packages
            arrival.forward += self.statuses_back(package, arrival.outcomes)
        for attachment in package.attachments:
            digest = digests[id(attachment)]
            arrival.attachment_shas.append((attachment, digest))
            if digest not in arrival.file_keys:
                arrival.file_keys[digest] = node.store.put(attachment.data, sha256=digest)
        # the validation report of each signed file, as judged on arrival, is shown to clerks
        # later (JSON and HTML) without verifying again: the verdict they act on is this one
        for verdict in arrival.verdicts:
            if verdict.report_json and verdict.sha256 not in arrival.report_keys:
                arrival.report_keys[verdict.sha256] = node.store.put(verdict.report_json)
        # the package as received is evidence too (which bytes came, from whom, when)
        arrival.package_key = node.store.put(arrival.package, sha256=arrival.package_sha256)

    def _update(self, arrival: Arrival, package: DocumentPackage, local: list[str]) -> None:
        """An update corrects a document already received here: recipients holding the original
        (same sender, same DocumentId) agree (15) and get the new version recorded; the others
        refuse (16) with the reason, and nothing is stored for them."""
        original = package.business.document_id if package.business else None
        for code in local:
            if original and self.node.state.holds_incoming(arrival.sender, original, code):
                arrival.local.append(code)
                arrival.outcomes.append(RecipientOutcome(code, "15", "Đồng ý cập nhật",
                                                         "update agreed"))
            else:
                arrival.outcomes.append(RecipientOutcome(
                    code, "16", f"Không có văn bản gốc {original} của {arrival.sender} tại "
                    f"{code} để cập nhật", f"no original document {original} from "
                    f"{arrival.sender} at {code} to update"))
        if arrival.local:
            arrival.updates = original

    def _replace(self, arrival: Arrival, package: DocumentPackage, local: list[str]) -> None:
        """A replacement is a new document (01) that supersedes earlier ones: the replaced copies
        held here are marked at commit; a replaced document unknown here is reported in the 01."""
        infos = (package.business.replacements if package.business else None) or []
        by_code = {o.agency_code: o for o in arrival.outcomes}
        for info in infos:
            wanted = {normalise(c) for c in info.organ_ids}
            concerned = [c for c in local if not wanted or c in wanted]
            arrival.replaces.append((info.document_id, concerned))
            for code in concerned:
                if self.node.state.holds_incoming(arrival.sender, info.document_id, code):
                    continue
                o = by_code[code]
                o.reason_vi = (o.reason_vi + "; " if o.reason_vi else "") + (
                    f"Đã đến; không có văn bản bị thay thế {info.document_id}")
                o.reason_en = (o.reason_en + "; " if o.reason_en else "") + (
                    f"arrived; the replaced document {info.document_id} is unknown here")

    def forward_package(self, package: DocumentPackage, codes: list[str]) -> bytes:
        """The same package for the next hop: only the recipients behind it, one more trace."""
        wanted = set(codes)
        recipients = [r for r in package.document.recipients if normalise(r.organ_id) in wanted]
        doc = replace(package.document, recipients=recipients)
        trace = TraceHeader(self.node.organ_id, self.node.now())
        return build(replace(package, document=doc, traces=[*package.traces, trace]))

    def statuses_back(self, package: DocumentPackage, outcomes: list[RecipientOutcome]
                      ) -> list[Transfer]:
        """Status packages telling a document's sender what became of its recipients (01, or
        02 with the reason), each routed towards the sender; "relayed" outcomes say nothing
        yet (the node further on answers for them)."""
        business = package.business
        original = business is not None and business.doc_type == BusinessType.UPDATE
        back = [self.status_for(package, o.agency_code, StatusCode(o.status),
                                o.reason_vi or None, original=original)
                for o in outcomes if o.status != "relayed"]
        return [t for t in map(self.status_transfer, back) if t is not None]

    def refused_relay(self, package_bytes: bytes, outcomes: list[RecipientOutcome]
                      ) -> list[Transfer]:
        """A document this node relayed, refused whole by the next hop: 02 status packages to
        its sender. A node that refuses every recipient of a package records nothing
        (``_answer``), so it sends no status either; only the relay holds its receipt, and
        without these the sender would wait at "relayed" for ever. A refusal of some
        recipients only is recorded there, and that node sends the statuses itself."""
        if not outcomes or not all(o.status in REFUSALS for o in outcomes):
            return []
        package = parse(package_bytes)
        if not isinstance(package, DocumentPackage):
            return []
        if self.node.routing.next_hop(normalise(package.document.sender.organ_id)) == LOCAL:
            return []  # our own document: its receipt is recorded as its statuses
        return self.statuses_back(package, outcomes)

    def status_for(self, package: DocumentPackage, recipient: str, code: StatusCode,
                   description: str | None = None, *, original: bool = False) -> StatusMessage:
        """A status from a hosted recipient about ``package`` (or, with ``original``, about the
        document a revoke/update package refers to)."""
        from edoc.document import ResponseFor  # noqa: PLC0415

        doc = package.document
        doc_id = (package.business.document_id if original and package.business
                  else doc.document_id)
        return StatusMessage(
            sender=Organization(recipient, self.node.hosted.get(recipient) or None),
            response_for=ResponseFor(doc.sender.organ_id, str(doc.code) if doc.code else None,
                                     doc.promulgation_date, doc_id),
            code=code, timestamp=self.node.now(), description=description or code.meaning_vi,
            traces=[TraceHeader(recipient, self.node.now())])

    def status_transfer(self, status: StatusMessage) -> Transfer | None:
        """An outbox row carrying a status package towards the document's sender."""
        target = normalise(status.response_for.organ_id)
        hop = self.node.routing.next_hop(target)
        if hop is None:
            return None
        data = build(status)
        return Transfer(hop, [target], data, hashlib.sha256(data).hexdigest(), 2, "status")

    def _stale(self, traces: list[TraceHeader]) -> tuple[str, str] | None:
        if not traces:
            return None
        newest = max(t.timestamp for t in traces)
        limit = timedelta(days=self.node.cfg.max_package_age_days)
        if self.node.now() - newest > limit:
            return (f"Gói tin quá cũ (gửi lúc {newest:%d/%m/%Y %H:%M}), có thể bị phát lại",
                    f"package too old (sent {newest.isoformat()}), possibly replayed")
        return None

    # -- status packages ---------------------------------------------------------------------
    def _status(self, arrival: Arrival, status: StatusMessage) -> None:
        if status.code.value == "13":  # from the sender to recipients: addressed by transport
            targets = arrival.to
        else:  # from a recipient to the document's sender
            targets = [normalise(status.response_for.organ_id)]
        stale = self._stale(status.traces)
        if stale or not targets:
            reason = stale or ("Không rõ nơi nhận của trạng thái",
                               "the status names no recipient")
            arrival.outcomes = [RecipientOutcome(t, "02", *reason) for t in targets or ["?"]]
            return
        for target in targets:
            self._status_to(arrival, status, target)

    def _status_to(self, arrival: Arrival, status: StatusMessage, target: str) -> None:
        node = self.node
        hop = node.routing.next_hop(target)
        if hop == LOCAL:
            arrival.local.append(target)
            arrival.outcomes.append(RecipientOutcome(target, "01"))
        elif hop is not None and hop != arrival.came_from:
            trace = TraceHeader(node.organ_id, node.now())
            forwarded = build(replace(status, traces=[*status.traces, trace]))
            arrival.forward.append(Transfer(hop, [target], forwarded,
                                            hashlib.sha256(forwarded).hexdigest(), 2, "status"))
            arrival.outcomes.append(RecipientOutcome(target, "relayed"))
        else:
            arrival.outcomes.append(RecipientOutcome(
                target, "02", f"Không chuyển được trạng thái tới {target}",
                f"cannot route the status to {target}"))

    # -- answer ------------------------------------------------------------------------------
    def _sealer(self, arrival: Arrival):
        """The function that signs ``arrival``'s receipt once its arrival numbers are known."""
        node = self.node

        def seal(numbers: dict[str, int]) -> bytes:
            for o in arrival.outcomes:
                if o.agency_code in numbers:
                    o.incoming_number = numbers[o.agency_code]
            receipt = Receipt(node.cfg.name, arrival.sender, arrival.document_id,
                              arrival.package_sha256, arrival.received_at, arrival.kind,
                              arrival.outcomes, {v.sha256: v.indication for v in arrival.verdicts})
            return node.receipt_signer.seal(receipt)

        return seal

    def _answer(self, arrival: Arrival) -> bytes:
        """Sign the receipt; if anything was accepted, commit it with the receipt in one go."""
        node = self.node
        seal = self._sealer(arrival)
        if all(o.status in REFUSALS for o in arrival.outcomes):
            answer = seal({})
            if arrival.refused is not None:  # a peer overstepping: the operator must see it
                node.state.audit_refusal(arrival, answer)
            return answer
        node.crash_point("receiver_before_commit")
        answer = node.state.record_arrival(arrival, seal)
        node.after_commit()
        return answer
