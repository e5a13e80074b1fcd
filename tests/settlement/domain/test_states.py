"""The settlement state machine, property-based: PENDING → POSTED → ANCHORED, or FAILED after
the allowed attempts; only FAILED may be retried; backoff doubles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, strategies as st

from services.runtime.errors import FailedPrecondition
from services.settlement.domain.states import (
    Progress,
    RetryPolicy,
    State,
    anchored,
    attempt_failed,
    posted,
    retried,
)

T0 = datetime(2026, 12, 6, tzinfo=UTC)
POLICY = RetryPolicy(max_attempts=5, base_delay_secs=2.0)
EVENTS = st.sampled_from(["post", "fail", "anchor", "retry"])


def step(progress: Progress, event: str) -> Progress:
    """The event applied where the machine allows it; otherwise the state is unchanged."""
    if event == "post" and progress.state is State.PENDING:
        return posted(progress)
    if event == "fail" and progress.state is State.PENDING:
        return attempt_failed(progress, "HOLD_EXCEEDED: short", T0, POLICY)
    if event == "anchor" and progress.state is State.POSTED:
        return anchored(progress)
    if event == "retry" and progress.state is State.FAILED:
        return retried(progress)
    return progress


@given(st.lists(EVENTS, max_size=40))
def test_every_path_keeps_the_machine_s_invariants(events: list[str]) -> None:
    progress = Progress(State.PENDING)
    for event in events:
        before, progress = progress, step(progress, event)
        assert 0 <= progress.attempts <= POLICY.max_attempts
        if progress.state is State.FAILED:
            assert progress.attempts == POLICY.max_attempts and progress.failure_reason
        if before.state is State.ANCHORED:
            assert progress == before  # anchored is final
        if progress.state is not State.PENDING:
            assert progress.next_attempt_time is None


@given(st.integers(1, 4))
def test_a_failure_before_the_last_attempt_waits_a_doubling_delay(attempts: int) -> None:
    progress = Progress(State.PENDING)
    for _ in range(attempts):
        progress = attempt_failed(progress, "UNAVAILABLE: down", T0, POLICY)

    assert progress.state is State.PENDING
    assert progress.next_attempt_time == T0 + timedelta(seconds=2.0 * 2 ** (attempts - 1))


def test_the_last_allowed_failure_makes_it_failed() -> None:
    progress = Progress(State.PENDING, attempts=4)

    failed = attempt_failed(progress, "HOLD_NOT_FOUND: no hold", T0, POLICY)

    assert (failed.state, failed.attempts, failed.failure_reason) == (State.FAILED, 5, "HOLD_NOT_FOUND: no hold")


def test_a_retry_starts_afresh() -> None:
    again = retried(Progress(State.FAILED, 5, "HOLD_NOT_FOUND: no hold"))

    assert again == Progress(State.PENDING)


@pytest.mark.parametrize("state", [State.PENDING, State.POSTED, State.ANCHORED])
def test_only_a_failed_settlement_can_be_retried(state: State) -> None:
    with pytest.raises(FailedPrecondition) as refused:
        retried(Progress(state))

    assert refused.value.reason == "SETTLEMENT_NOT_FAILED"


def test_anchoring_needs_a_posted_settlement() -> None:
    with pytest.raises(ValueError):
        anchored(Progress(State.PENDING))
