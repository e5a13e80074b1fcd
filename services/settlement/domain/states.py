"""The settlement state machine: PENDING → POSTED → ANCHORED, or PENDING → FAILED after
SETTLEMENT_RETRY_ATTEMPTS failed postings; an operator puts a FAILED one back to PENDING.

Pure: the store persists what these functions return and never decides a transition itself.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from services.runtime.errors import FailedPrecondition
from services.settlement.domain.reasons import SettlementReason


class State(StrEnum):
    PENDING = "PENDING"
    POSTED = "POSTED"
    ANCHORED = "ANCHORED"
    FAILED = "FAILED"


@dataclass(frozen=True, slots=True)
class Progress:
    """Where one settlement stands; the part of it that changes."""

    state: State
    attempts: int = 0
    failure_reason: str | None = None
    # PENDING only: not to be posted before this moment (the retry backoff).
    next_attempt_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int
    base_delay_secs: float

    def delay_after(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failure: base × 2^(attempts − 1)."""
        return timedelta(seconds=self.base_delay_secs * 2 ** (attempts - 1))


def posted(progress: Progress) -> Progress:
    _require(progress, State.PENDING, "post")
    return Progress(State.POSTED, progress.attempts)


def anchored(progress: Progress) -> Progress:
    _require(progress, State.POSTED, "anchor")
    return Progress(State.ANCHORED, progress.attempts)


def attempt_failed(progress: Progress, reason: str, now: datetime, policy: RetryPolicy) -> Progress:
    """One more failed posting: back off, or give up once the attempts are spent."""
    _require(progress, State.PENDING, "fail")
    attempts = progress.attempts + 1
    if attempts >= policy.max_attempts:
        return Progress(State.FAILED, attempts, reason)
    return Progress(State.PENDING, attempts, reason, now + policy.delay_after(attempts))


def failed_at_intake(reason: str) -> Progress:
    """A trade that can never be posted as it stands (e.g. an asset the Wallet does not know)."""
    return Progress(State.FAILED, 0, reason)


def retried(progress: Progress) -> Progress:
    """The operator's RetrySettlement: a fresh set of attempts, due now."""
    if progress.state is not State.FAILED:
        raise FailedPrecondition(SettlementReason.SETTLEMENT_NOT_FAILED,
                                 f"only a FAILED settlement can be retried; it is {progress.state}",
                                 metadata={"state": progress.state})
    return replace(progress, state=State.PENDING, attempts=0, failure_reason=None, next_attempt_time=None)


def _require(progress: Progress, state: State, action: str) -> None:
    if progress.state is not state:
        # The background tasks only act on rows they selected in that state: reaching here is a bug.
        raise ValueError(f"cannot {action} a {progress.state} settlement")
