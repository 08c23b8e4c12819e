"""Status messages (QCVN 102 status packages) and their lifecycle, written as data.

A status answers one document for one (sender, recipient) pair. The rules below are tables, not
code paths, so that the exchange layer, the UI and the tests all read the same facts:

* ``TRANSITIONS``: which code may follow which (``None`` is "document delivered, no status yet");
* ``SENT_BY``: who sends each code (13 is the only one the *sender* of the document sends);
* the duplicate rule: the same code again for the same pair is a duplicate, except 05;
* the take-back handshake: 13 (sender asks) is answered by 15 (agreed) or 16 (refused); an
  update, replace or revoke package is answered the same way.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from edoc.document import (
    BusinessType,
    Deviation,
    EnvelopeSignature,
    Organization,
    ResponseFor,
    StaffInfo,
    TraceHeader,
)
from edoc.errors import EdocError


class Role(StrEnum):
    """Who, relative to the document, sends a status."""

    SENDER = "sender"
    RECIPIENT = "recipient"


class StatusCode(StrEnum):
    """Status codes of QCVN 102 with their meanings."""

    ARRIVED = "01"
    REJECTED = "02"
    ACCEPTED = "03"
    ASSIGNED = "04"
    PROCESSING = "05"
    COMPLETED = "06"
    TAKE_BACK_REQUEST = "13"
    CHANGE_ACCEPTED = "15"
    CHANGE_REFUSED = "16"

    @property
    def meaning_vi(self) -> str:
        return _MEANINGS[self][0]

    @property
    def meaning_en(self) -> str:
        return _MEANINGS[self][1]

    @property
    def sent_by(self) -> Role:
        return SENT_BY[self]

    @property
    def repeatable(self) -> bool:
        """Only 05 (processing) may be sent again for the same pair."""
        return self is StatusCode.PROCESSING

    @classmethod
    def parse(cls, value: str) -> StatusCode:
        text = value.strip()
        if len(text) == 1 and text.isdigit():
            text = "0" + text
        try:
            return cls(text)
        except ValueError:
            raise StatusError(
                f"Mã trạng thái {value!r} không thuộc 01–06, 13, 15, 16",
                f"status code {value!r} is not one of 01–06, 13, 15, 16",
            ) from None


_MEANINGS: dict[StatusCode, tuple[str, str]] = {
    StatusCode.ARRIVED: ("Đã đến", "arrived, not yet handled"),
    StatusCode.REJECTED: ("Từ chối", "rejected (reason in the description)"),
    StatusCode.ACCEPTED: ("Đã tiếp nhận", "accepted and registered"),
    StatusCode.ASSIGNED: ("Phân công", "assigned for handling"),
    StatusCode.PROCESSING: ("Đang xử lý", "being processed"),
    StatusCode.COMPLETED: ("Hoàn thành", "completed"),
    StatusCode.TAKE_BACK_REQUEST: ("Yêu cầu lấy lại", "request to take the document back"),
    StatusCode.CHANGE_ACCEPTED: ("Đồng ý cập nhật, lấy lại", "agrees to the update / take-back"),
    StatusCode.CHANGE_REFUSED: ("Từ chối cập nhật, lấy lại", "refuses the update / take-back"),
}

SENT_BY: dict[StatusCode, Role] = {
    code: (Role.SENDER if code is StatusCode.TAKE_BACK_REQUEST else Role.RECIPIENT)
    for code in StatusCode
}

#: Processing states a recipient moves through (None: delivered, nothing answered yet).
TRANSITIONS: dict[StatusCode | None, frozenset[StatusCode]] = {
    None: frozenset({StatusCode.ARRIVED, StatusCode.REJECTED, StatusCode.ACCEPTED}),
    StatusCode.ARRIVED: frozenset({StatusCode.REJECTED, StatusCode.ACCEPTED}),
    StatusCode.ACCEPTED: frozenset({StatusCode.ASSIGNED, StatusCode.PROCESSING,
                                    StatusCode.COMPLETED}),
    StatusCode.ASSIGNED: frozenset({StatusCode.PROCESSING, StatusCode.COMPLETED}),
    StatusCode.PROCESSING: frozenset({StatusCode.PROCESSING, StatusCode.COMPLETED}),
    StatusCode.REJECTED: frozenset(),
    StatusCode.COMPLETED: frozenset(),
}
#: States in which the sender may still ask for the document back (13).
TAKE_BACK_ALLOWED_FROM: frozenset[StatusCode | None] = frozenset(
    {None, StatusCode.ARRIVED, StatusCode.ACCEPTED, StatusCode.ASSIGNED, StatusCode.PROCESSING})
#: Answers to a pending request (13, or an update/replace/revoke package).
CHANGE_ANSWERS = frozenset({StatusCode.CHANGE_ACCEPTED, StatusCode.CHANGE_REFUSED})
#: Business types that ask the recipient to agree (answered by 15/16).
BUSINESS_NEEDING_ANSWER = frozenset({BusinessType.REVOKE, BusinessType.UPDATE,
                                     BusinessType.REPLACE})


class StatusError(EdocError):
    """A status that the lifecycle does not allow."""


def is_duplicate(previous: Iterable[StatusCode], code: StatusCode) -> bool:
    """The same code for the same (document, sender, recipient) is a duplicate, except 05."""
    return not code.repeatable and code in set(previous)


@dataclass
class Lifecycle:
    """The state of one document at one recipient, advanced by statuses and business packages.

    Immutable in use: ``apply`` returns a new Lifecycle or raises StatusError, so a caller can
    check a status before storing it."""

    state: StatusCode | None = None
    history: tuple[StatusCode, ...] = ()
    #: What the pending request is (13, or a business type awaiting 15/16), if any.
    pending: StatusCode | BusinessType | None = None
    taken_back: bool = False

    def apply(self, code: StatusCode, by: Role) -> Lifecycle:
        if by is not code.sent_by:
            raise StatusError(
                f"Mã {code.value} ({code.meaning_vi}) chỉ do bên "
                f"{'gửi' if code.sent_by is Role.SENDER else 'nhận'} gửi",
                f"status {code.value} is sent by the {code.sent_by.value} only",
            )
        if is_duplicate(self.history, code):
            raise StatusError(f"Mã {code.value} đã nhận trước đó (trùng lặp)",
                              f"status {code.value} was already received (duplicate)")
        if self.taken_back:
            raise StatusError("Văn bản đã được lấy lại", "the document was taken back")
        history = (*self.history, code)
        if code is StatusCode.TAKE_BACK_REQUEST:
            if self.pending is not None or self.state not in TAKE_BACK_ALLOWED_FROM:
                raise self._refuse(code)
            return Lifecycle(self.state, history, code, False)
        if code in CHANGE_ANSWERS:
            if self.pending is None:
                raise StatusError(
                    f"Mã {code.value} chỉ trả lời một yêu cầu lấy lại/cập nhật đang chờ",
                    f"status {code.value} only answers a pending take-back/update request",
                )
            taken = code is StatusCode.CHANGE_ACCEPTED and self.pending in (
                StatusCode.TAKE_BACK_REQUEST, BusinessType.REVOKE)
            return Lifecycle(self.state, history, None, taken)
        if code not in TRANSITIONS.get(self.state, frozenset()):
            raise self._refuse(code)
        return Lifecycle(code, history, self.pending, False)

    def request_change(self, business: BusinessType) -> Lifecycle:
        """The sender sent an update/replace/revoke package: it waits for 15/16."""
        if business not in BUSINESS_NEEDING_ANSWER:
            raise StatusError("Gói văn bản mới không phải yêu cầu thay đổi",
                              "a new-document package is not a change request")
        if self.pending is not None or self.taken_back:
            raise StatusError("Đang có yêu cầu chờ trả lời", "a request is already pending")
        return Lifecycle(self.state, self.history, business, False)

    def _refuse(self, code: StatusCode) -> StatusError:
        now = self.state.value if self.state else "chưa có"
        now_en = self.state.value if self.state else "none"
        return StatusError(
            f"Không thể chuyển từ trạng thái {now} sang {code.value} ({code.meaning_vi})",
            f"status {code.value} cannot follow {now_en}",
        )


@dataclass
class StatusMessage:
    """A status package: which document (ResponseFor), who answers (From), what (StatusCode)."""

    sender: Organization
    response_for: ResponseFor
    code: StatusCode
    timestamp: dt.datetime
    description: str | None = None
    staff: StaffInfo | None = None
    traces: list[TraceHeader] = field(default_factory=list)
    signature: EnvelopeSignature | None = field(default=None, compare=False)
    deviations: list[Deviation] = field(default_factory=list, compare=False, repr=False)

    kind = "status"

    def match_key(self) -> tuple[str, str, str | None]:
        """(document sender, status sender, number/notation): how a status finds its document."""
        return (self.response_for.organ_id, self.sender.organ_id, self.response_for.code)


#: The codec's name for a parsed status package.
StatusPackage = StatusMessage
