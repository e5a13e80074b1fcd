"""Open-loop pacing: calls start on a schedule, and a call's latency runs from when it was due.

A closed loop (each client sends its next call as soon as its last one answered) measures
mostly its own queue: by Little's law its mean latency is clients ÷ throughput whatever the
system does (32 clients at 500 calls/s wait 64 ms on average). Latency at a rate is measured
open loop instead: call k is due at `start + k / rate`, whichever client sends it. Timing a
call from when a client got round to sending it would hide a stall (every call due during it
would go out late and look fast: "coordinated omission"), so the latency of a paced call runs
from its due time, and a stall shows in each call that was due while it lasted.

Pure: the clock is the caller's (any monotonic seconds). `services/load/runner.py` and
`bench/order.py` pace their clients with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# A paced run kept up when it answered at least this share of the rate it was offered.
KEPT_UP_SHARE = 0.95


@dataclass
class Schedule:
    """Call k (0, 1, ...) is due at `start + k / rate`, the last one before `end`. Clients
    share one schedule: a free client takes the next call, so each call is taken once, in
    order, and a slow client's calls do not wait for it."""

    rate: float  # calls a second
    start: float  # when call 0 is due
    end: float = math.inf  # no call is due at or after this
    taken: int = 0  # calls handed out so far

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise ValueError("a schedule needs a rate above zero")

    def due(self, call: int) -> float:
        return self.start + call / self.rate

    def take(self) -> float | None:
        """The next call's due time, or None when it would be due at or after the end."""
        due = self.due(self.taken)
        if due >= self.end:
            return None
        self.taken += 1
        return due

    def due_by(self, moment: float) -> int:
        """How many calls are due at or before `moment` (never one due at or after the end)."""
        if moment < self.start:
            return 0
        count = math.floor((moment - self.start) * self.rate) + 1
        if self.end != math.inf:
            count = min(count, math.ceil((self.end - self.start) * self.rate))
        return count

    def behind(self, moment: float) -> int:
        """Calls due at or before `moment` that no client has taken yet."""
        return max(0, self.due_by(moment) - self.taken)

    def waits_ms(self, moment: float) -> list[float]:
        """How long each call due at or before `moment` and not taken had waited by then: when a
        run ends with such calls, these are lower bounds of their latencies, counted with the
        others so that a run that fell behind cannot look fast."""
        return [(moment - self.due(call)) * 1000 for call in range(self.taken, self.due_by(moment))]


def kept_up(offered_per_sec: float, achieved_per_sec: float) -> bool:
    """Whether a paced run delivered the rate it was offered (see KEPT_UP_SHARE)."""
    return achieved_per_sec >= KEPT_UP_SHARE * offered_per_sec
