"""When the background tasks act, and how a failed batch is narrowed down.

Posting: a batch goes to the Wallet when it is full or once the first PENDING settlement has
waited `linger` (a few ms, so trades that arrive together share one database transaction
without delaying a lone trade noticeably). Anchoring: a batch is anchored when it holds
`max_count` settlements or its oldest has been POSTED for `max_age` (one memo transaction per
batch: fewer, larger batches cost less on chain; the age bounds how long a proof waits).

A batch posts whole or not at all. When the Wallet refuses it for a reason a retry cannot
cure (one trade's hold is short, an amount is invalid), the batch is split in halves until
the bad trades stand alone, so one bad trade never blocks the others; a transient failure
(the Wallet is down) counts one attempt for every settlement of the batch instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

# gRPC status codes after which the same request may succeed later without any change.
TRANSIENT_CODES = frozenset({"UNAVAILABLE", "DEADLINE_EXCEEDED", "ABORTED", "RESOURCE_EXHAUSTED",
                             "UNKNOWN", "INTERNAL", "CANCELLED"})


@dataclass(frozen=True, slots=True)
class BatchLimits:
    max_count: int
    max_wait_secs: float

    def __post_init__(self) -> None:
        if self.max_count < 1 or self.max_wait_secs < 0:
            raise ValueError("a batch holds at least one item and waits a non-negative time")

    def ready(self, count: int, oldest_wait_secs: float) -> bool:
        """Whether a batch of `count` whose oldest member has waited this long should go now."""
        return count >= self.max_count or (count > 0 and oldest_wait_secs >= self.max_wait_secs)

    def wait_left(self, oldest_wait_secs: float) -> float:
        """How much longer a batch that is not full yet should wait."""
        return max(0.0, self.max_wait_secs - oldest_wait_secs)


def is_transient(code: str) -> bool:
    return code in TRANSIENT_CODES


def halves(batch: Sequence[T]) -> tuple[Sequence[T], Sequence[T]]:
    """A batch of at least two split in two non-empty parts."""
    if len(batch) < 2:
        raise ValueError("only a batch of two or more can be split")
    middle = len(batch) // 2
    return batch[:middle], batch[middle:]
