"""Tracking at the sender: per document and recipient, the latest status and when.

The leaders' numbers (Decision 28/2018 asks that send, receive and processing status be tracked):
documents sent, received the same day, accepted, rejected with their reasons, completed early /
on time / late against the due date, and the share of documents digitally signed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from edoc.document import VIETNAM

#: Codes that say the recipient has the document in hand (arrived or beyond).
ARRIVED = {"01", "03", "04", "05", "06"}


@dataclass
class StatusEvent:
    recipient: str
    code: str  # "pending", "relayed", or an axis code "01".."16"
    at: dt.datetime
    reason: str | None = None
    indication: str | None = None
    incoming_number: int | None = None


@dataclass
class RecipientTrack:
    agency_code: str
    name: str = ""
    status: str = "pending"
    status_at: dt.datetime | None = None
    received_at: dt.datetime | None = None
    accepted_at: dt.datetime | None = None
    done_at: dt.datetime | None = None
    reason: str | None = None
    indication: str | None = None
    incoming_number: int | None = None

    def to_dict(self) -> dict[str, Any]:
        def iso(v: dt.datetime | None) -> str | None:
            return v.astimezone(VIETNAM).isoformat() if v else None

        return {"agency_code": self.agency_code, "name": self.name, "status": self.status,
                "status_at": iso(self.status_at), "received_at": iso(self.received_at),
                "accepted_at": iso(self.accepted_at), "done_at": iso(self.done_at),
                "reason": self.reason, "indication": self.indication,
                "incoming_number": self.incoming_number}


@dataclass
class DocumentTrack:
    document_id: str
    sent_at: dt.datetime
    due_date: dt.date | None
    signed: bool
    recipients: dict[str, RecipientTrack] = field(default_factory=dict)
    state: str = "issued"  # issued, updated (new versions sent), replaced (superseded)
    replaced_by: str | None = None
    replaces: list[str] = field(default_factory=list)
    versions: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"document_id": self.document_id,
                "sent_at": self.sent_at.astimezone(VIETNAM).isoformat(),
                "due_date": self.due_date.isoformat() if self.due_date else None,
                "signed": self.signed, "state": self.state, "replaced_by": self.replaced_by,
                "replaces": self.replaces, "versions": self.versions,
                "recipients": [r.to_dict() for r in self.recipients.values()]}


_RANK = {"pending": 0, "relayed": 1, "01": 2, "02": 9, "03": 3, "04": 4, "05": 5, "06": 6,
         "13": 7, "15": 8, "16": 8}


def fold(track: DocumentTrack, events: Iterable[StatusEvent]) -> DocumentTrack:
    """Apply events in the order they were recorded (wire timestamps have second precision, so
    they cannot order a 13 and its answer); a processing status only moves forward (a late 01
    never hides a 03), while take-back codes 13/15/16 always apply."""
    for e in events:
        r = track.recipients.setdefault(e.recipient, RecipientTrack(e.recipient))
        if _RANK.get(e.code, 0) >= _RANK.get(r.status, 0) or e.code in ("13", "15", "16"):
            r.status, r.status_at = e.code, e.at
        if e.code in ARRIVED and r.received_at is None:
            r.received_at = e.at
        if e.code == "03" and r.accepted_at is None:
            r.accepted_at = e.at
        if e.code == "06":
            r.done_at = e.at
        if e.code in ("02", "16"):  # a refusal (of the document, an update, a take-back)
            r.reason = e.reason
        if e.indication:
            r.indication = e.indication
        if e.incoming_number is not None:
            r.incoming_number = e.incoming_number
    return track


def leaders_numbers(tracks: Iterable[DocumentTrack]) -> dict[str, Any]:
    """The figures a leader asks for, over recipients of the given documents."""
    out = {"documents": 0, "signed_share": 0.0, "sent": 0, "received_same_day": 0,
           "accepted": 0, "rejected": 0, "rejections": [], "done_early": 0, "done_on_time": 0,
           "done_late": 0}
    signed = 0
    for t in tracks:
        out["documents"] += 1
        signed += int(t.signed)
        sent_day = t.sent_at.astimezone(VIETNAM).date()
        for r in t.recipients.values():
            out["sent"] += 1
            if r.received_at and r.received_at.astimezone(VIETNAM).date() == sent_day:
                out["received_same_day"] += 1
            if r.accepted_at:
                out["accepted"] += 1
            if r.status == "02":
                out["rejected"] += 1
                out["rejections"].append({"document_id": t.document_id,
                                          "agency_code": r.agency_code, "reason": r.reason})
            if r.done_at and t.due_date:
                done = r.done_at.astimezone(VIETNAM).date()
                key = ("done_early" if done < t.due_date else
                       "done_on_time" if done == t.due_date else "done_late")
                out[key] += 1
    out["signed_share"] = signed / out["documents"] if out["documents"] else 0.0
    return out


def document_tracking(state: Any, document_id: str) -> dict[str, Any]:
    """Tracking of one sent document as JSON (operator API, demo table)."""
    track = state.document_track(document_id)
    result = track.to_dict()
    result["numbers"] = leaders_numbers([track])
    return result
