"""Settlement's metrics: each settlement's outcome counted as it happens, and the backlog
(pending, failed, how far behind) as the sampler reads it from the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import update

from clearmesh.settlement.v1 import settlement_pb2
from services.settlement import tables
from services.settlement.metrics import lag_seconds
from services.settlement.store import Backlog
from tests.settlement.conftest import eventually

ANCHORED = settlement_pb2.SETTLEMENT_STATE_ANCHORED
FAILED = settlement_pb2.SETTLEMENT_STATE_FAILED
EXECUTED = "2026-03-01T12:00:00.123456789Z"  # as protobuf's Timestamp JSON prints it, nanoseconds and all


def outcomes(outcome: str) -> float:
    return REGISTRY.get_sample_value("settlement_outcomes_total", {"outcome": outcome}) or 0.0


async def _counts(*names: str) -> tuple[float, ...]:
    """Read until the last outcome is counted: an outcome is counted once its commit returns,
    a moment after a reader can see the settlement's new state."""
    return tuple(outcomes(name) for name in names)


# The counters do not depend on the database (the backlog's SQL below runs on both).
SQLITE_ONLY = pytest.mark.parametrize("databases", ["sqlite"], indirect=True)


@SQLITE_ONLY
async def test_a_settled_trade_is_counted_posted_then_anchored(settled: Any) -> None:
    posted, anchored = outcomes("posted"), outcomes("anchored")
    [trade] = await settled.trade("alice", "bob", "100.00", "0.1")
    await settled.reaches(trade, ANCHORED)
    counted = await eventually(lambda: _counts("posted", "anchored"), lambda counts: counts[1] > anchored,
                               "the anchor to be counted")
    assert counted == (posted + 1, anchored + 1)


@SQLITE_ONLY
async def test_a_trade_that_cannot_post_counts_each_retry_then_its_failure(settled: Any) -> None:
    retrying, failed = outcomes("retrying"), outcomes("failed")
    [trade] = await settled.trade("alice", "bob", "100.00", "0.1", seller_hold=False)
    await settled.reaches(trade, FAILED)
    # SETTLEMENT_RETRY_ATTEMPTS is 3 in these tests: two retries, then it gives up.
    counted = await eventually(lambda: _counts("retrying", "failed"), lambda counts: counts[1] > failed,
                               "the failure to be counted")
    assert counted == (retrying + 2, failed + 1)


async def test_the_backlog_counts_pending_and_failed_and_knows_the_oldest_pending_trade(settled: Any) -> None:
    [stuck] = await settled.trade("alice", "bob", "100.00", "0.1", seller_hold=False)
    [failed] = await settled.trade("alice", "bob", "100.00", "0.1", seller_hold=False)
    for trade in (stuck, failed):
        await settled.reaches(trade, FAILED)
    tx, store = settled.store()
    # `stuck` back to PENDING, its next attempt far away so the poster leaves it alone.
    await tx.write(lambda session: session.execute(
        update(tables.settlements).where(tables.settlements.c.trade == stuck)
        .values(state="PENDING", execute_time=EXECUTED, next_attempt_time=datetime.now(UTC) + timedelta(hours=1))))
    assert await tx.read(store.backlog) == Backlog(pending=1, failed=1, oldest_pending_execute_time=EXECUTED)


def test_the_lag_is_the_age_of_the_oldest_pending_trade() -> None:
    now = datetime(2026, 3, 1, 12, 1, 30, 123456, tzinfo=UTC)
    assert lag_seconds(Backlog(1, 0, EXECUTED), now) == 90.0


def test_no_pending_trade_means_no_lag() -> None:
    assert lag_seconds(Backlog(0, 3, None), datetime.now(UTC)) == 0.0
