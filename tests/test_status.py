"""The status lifecycle as data: transitions, who sends what, duplicates, take-back."""

from __future__ import annotations

import pytest

from edoc.document import BusinessType
from edoc.status import (
    SENT_BY,
    TRANSITIONS,
    Lifecycle,
    Role,
    StatusCode,
    StatusError,
    is_duplicate,
)

R, S = Role.RECIPIENT, Role.SENDER


def test_codes_and_meanings() -> None:
    assert [c.value for c in StatusCode] == ["01", "02", "03", "04", "05", "06", "13", "15", "16"]
    assert StatusCode.ARRIVED.meaning_vi == "Đã đến"
    assert StatusCode.TAKE_BACK_REQUEST.meaning_vi == "Yêu cầu lấy lại"
    assert all(c.meaning_vi and c.meaning_en for c in StatusCode)
    assert StatusCode.parse("3") is StatusCode.ACCEPTED
    with pytest.raises(StatusError):
        StatusCode.parse("07")


def test_who_sends_what() -> None:
    assert SENT_BY[StatusCode.TAKE_BACK_REQUEST] is S
    assert all(SENT_BY[c] is R for c in StatusCode if c is not StatusCode.TAKE_BACK_REQUEST)
    with pytest.raises(StatusError, match="sent by the recipient"):
        Lifecycle().apply(StatusCode.ARRIVED, S)
    with pytest.raises(StatusError):
        Lifecycle().apply(StatusCode.TAKE_BACK_REQUEST, R)


def test_happy_path_and_processing_repeats() -> None:
    state = Lifecycle()
    for code in ("01", "03", "04", "05", "05", "05", "06"):
        state = state.apply(StatusCode(code), R)
    assert state.state is StatusCode.COMPLETED
    with pytest.raises(StatusError):
        state.apply(StatusCode.PROCESSING, R)  # nothing follows 06


def test_duplicates_except_05() -> None:
    assert is_duplicate([StatusCode.ARRIVED], StatusCode.ARRIVED)
    assert not is_duplicate([StatusCode.PROCESSING], StatusCode.PROCESSING)
    state = Lifecycle().apply(StatusCode.ARRIVED, R)
    with pytest.raises(StatusError, match="duplicate"):
        state.apply(StatusCode.ARRIVED, R)


def test_transitions_refused() -> None:
    with pytest.raises(StatusError, match="cannot follow"):
        Lifecycle().apply(StatusCode.COMPLETED, R)
    rejected = Lifecycle().apply(StatusCode.REJECTED, R)
    assert TRANSITIONS[StatusCode.REJECTED] == frozenset()
    with pytest.raises(StatusError):
        rejected.apply(StatusCode.ACCEPTED, R)


def test_take_back_handshake() -> None:
    state = Lifecycle().apply(StatusCode.ARRIVED, R).apply(StatusCode.TAKE_BACK_REQUEST, S)
    assert state.pending is StatusCode.TAKE_BACK_REQUEST
    with pytest.raises(StatusError):
        state.apply(StatusCode.TAKE_BACK_REQUEST, S)  # duplicate
    refused = state.apply(StatusCode.CHANGE_REFUSED, R)
    assert refused.pending is None and not refused.taken_back
    assert refused.apply(StatusCode.ACCEPTED, R).state is StatusCode.ACCEPTED
    agreed = state.apply(StatusCode.CHANGE_ACCEPTED, R)
    assert agreed.taken_back
    with pytest.raises(StatusError, match="taken back"):
        agreed.apply(StatusCode.ACCEPTED, R)
    with pytest.raises(StatusError, match="pending"):
        Lifecycle().apply(StatusCode.CHANGE_ACCEPTED, R)


def test_update_replace_revoke_are_answered_by_15_16() -> None:
    state = Lifecycle().apply(StatusCode.ACCEPTED, R)
    for business in (BusinessType.UPDATE, BusinessType.REPLACE):
        answered = state.request_change(business).apply(StatusCode.CHANGE_ACCEPTED, R)
        assert not answered.taken_back and answered.pending is None
    revoked = state.request_change(BusinessType.REVOKE).apply(StatusCode.CHANGE_ACCEPTED, R)
    assert revoked.taken_back
    with pytest.raises(StatusError):
        state.request_change(BusinessType.NEW)
