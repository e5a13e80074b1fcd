"""The notional hours no window reaches any more are deleted (services/order/hours_sweep.py);
what a placement reads of the window stays the same."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from services.order import tables
from services.order.hours_sweep import sweep_once
from services.order.store import hour_of
from services.runtime.clock import FixedClock
from tests.order.conftest import OrderDb
from tests.testkit.orders import pending_order

WINDOW = timedelta(hours=24)
NOW = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)


async def _store(db: OrderDb, account: str, at: datetime, units: int) -> None:
    order = replace(pending_order(str(uuid.uuid4())), account=account, create_time=at, update_time=at,
                    kyc_notional_units=units)
    await db.tx.write(lambda session: db.store.insert(session, order))


async def _hours(db: OrderDb) -> list[tuple[str, datetime]]:
    rows = await db.tx.read(lambda session: session.execute(
        select(tables.notional_hours.c.account, tables.notional_hours.c.hour_start)
        .order_by(tables.notional_hours.c.account, tables.notional_hours.c.hour_start)))
    return [(account, hour_of(start)) for account, start in rows]


async def _used(db: OrderDb, account: str) -> int:
    found = await db.tx.read_alone(lambda connection: db.store.placement(connection, "none", account, NOW - WINDOW))
    return found.notional_units


async def test_hours_older_than_the_window_and_an_hour_are_deleted_and_the_windows_sum_stays(db: OrderDb) -> None:
    for account in ("accounts/alice", "accounts/bob"):
        await _store(db, account, NOW - timedelta(hours=40), 100)  # long gone
        await _store(db, account, NOW - timedelta(hours=25, minutes=10), 200)  # the hour kept beyond the window
        await _store(db, account, NOW - timedelta(hours=24, minutes=10), 400)  # the window's oldest hour, before it
        await _store(db, account, NOW - timedelta(hours=23, minutes=50), 1600)  # ... and in it
        await _store(db, account, NOW - timedelta(hours=2), 800)
    used = {account: await _used(db, account) for account in ("accounts/alice", "accounts/bob")}

    deleted = await sweep_once(db.tx, db.store, FixedClock(NOW), WINDOW)

    assert deleted == 2
    kept = [hour_of(NOW - timedelta(hours=25, minutes=10)), hour_of(NOW - timedelta(hours=24, minutes=10)),
            hour_of(NOW - timedelta(hours=2))]
    assert await _hours(db) == [(account, hour) for account in ("accounts/alice", "accounts/bob") for hour in kept]
    assert {account: await _used(db, account) for account in used} == used == {
        "accounts/alice": 2400, "accounts/bob": 2400}


async def test_a_second_sweep_finds_nothing_more(db: OrderDb) -> None:
    await _store(db, "accounts/alice", NOW - timedelta(hours=40), 100)

    assert await sweep_once(db.tx, db.store, FixedClock(NOW), WINDOW) == 1
    assert await sweep_once(db.tx, db.store, FixedClock(NOW), WINDOW) == 0
