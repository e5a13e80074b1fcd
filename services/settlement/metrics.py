"""Settlement's metrics: what became of each settlement (counted as it happens), and the
backlog (sampled from the store every few seconds, so every replica reports the same truth).

settlement_lag_seconds is the age of the oldest trade not yet posted to the ledger: it grows
while the Wallet refuses or is away, and is 0 when everything is posted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from prometheus_client import Counter, Gauge

from services.runtime.clock import Clock
from services.runtime.transactions import Transactions
from services.settlement.store import Backlog, SettlementStore

OUTCOMES = Counter("settlement_outcomes_total",
                   "Settlement state changes, by outcome: posted, retrying (a failed posting that will "
                   "be tried again), failed (given up, or unpostable at intake), anchored.", ["outcome"])
PENDING = Gauge("settlement_pending", "Settlements not yet posted, including those waiting out a retry backoff.")
FAILED = Gauge("settlement_failed", "Settlements FAILED, waiting for an operator's RetrySettlement.")
LAG = Gauge("settlement_lag_seconds", "Age of the oldest trade not yet posted to the ledger (0 when none is).")

POSTED = OUTCOMES.labels("posted")
RETRYING = OUTCOMES.labels("retrying")
GAVE_UP = OUTCOMES.labels("failed")
ANCHORED = OUTCOMES.labels("anchored")


def lag_seconds(backlog: Backlog, now: datetime) -> float:
    """How long ago the oldest trade still PENDING executed (0 when none is)."""
    oldest = backlog.oldest_pending_execute_time
    return 0.0 if oldest is None else max(0.0, (now - datetime.fromisoformat(oldest)).total_seconds())


def backlog_sampler(tx: Transactions, store: SettlementStore, clock: Clock) -> Callable[[], Awaitable[None]]:
    """The sampler runtime.metrics.sample_forever runs: the backlog gauges from the store."""

    async def sample() -> None:
        backlog = await tx.read(store.backlog)
        PENDING.set(backlog.pending)
        FAILED.set(backlog.failed)
        LAG.set(lag_seconds(backlog, clock.now()))

    return sample
