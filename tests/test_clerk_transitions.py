"""Every (state of an incoming copy, processing status a clerk asks for) pair is decided by the
lifecycle table: allowed pairs pass, all others are refused with both messages, before anything
is recorded (the check runs inside the node's transaction, ahead of any write)."""

from __future__ import annotations

import pytest

from edoc.status import TRANSITIONS, StatusCode, StatusError
from exchange_axis.state import PROCESSING_CODES, STATE_CODES, check_clerk_transition

STATES = [*STATE_CODES, "revoked", "replaced", "take_back_requested", "updated", "withdrawn"]


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("code", sorted(PROCESSING_CODES))
def test_every_pair(state: str, code: StatusCode) -> None:
    current = STATE_CODES.get(state)
    legal = current is not None and code in TRANSITIONS.get(current, frozenset())
    if legal:
        check_clerk_transition(state, code, "lý do")
        return
    with pytest.raises(StatusError) as refused:
        check_clerk_transition(state, code, "lý do")
    assert refused.value.message_vi and refused.value.message_en


def test_the_expected_path_and_its_refusals() -> None:
    path = [("arrived", StatusCode.ACCEPTED), ("accepted", StatusCode.ASSIGNED),
            ("assigned", StatusCode.PROCESSING), ("processing", StatusCode.PROCESSING),
            ("processing", StatusCode.COMPLETED), ("arrived", StatusCode.REJECTED)]
    for state, code in path:
        check_clerk_transition(state, code, "lý do")
    for state, code in [("arrived", StatusCode.COMPLETED), ("done", StatusCode.ACCEPTED),
                        ("rejected", StatusCode.ACCEPTED), ("accepted", StatusCode.ACCEPTED)]:
        with pytest.raises(StatusError):
            check_clerk_transition(state, code, None)


def test_a_rejection_needs_a_reason() -> None:
    with pytest.raises(StatusError) as refused:
        check_clerk_transition("arrived", StatusCode.REJECTED, "  ")
    assert "reason" in refused.value.message_en


def test_answers_to_requests_are_not_processing_statuses() -> None:
    for code in (StatusCode.CHANGE_ACCEPTED, StatusCode.CHANGE_REFUSED):
        check_clerk_transition("take_back_requested", code, None)  # decided by Lifecycle
