"""The account's notional of the last 24 h, as a placement reads it (`OrderStore.placement`):
its whole hours from `order_notional_hours`, its oldest partial hour from the orders, its
rejected orders taken back out. Always the sum over its orders, on either database; kept by
groups that commit side by side without deadlocking; filled by the migration from the
orders stored before it."""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.order import tables
from services.order.domain.orders import Order
from services.order.group import GroupWriter
from services.order.service import SPEC
from services.order.store import OrderStore, hour_of, row_of, window_boundary
from services.runtime import migrate
from services.runtime.database import create_engine, stored_utc
from services.runtime.transactions import Transactions
from tests.order.conftest import OrderDb
from tests.testkit.orders import pending_order

START = datetime(2026, 12, 7, tzinfo=UTC)
HOUR_US = 3600 * 1_000_000
SPAN_US = 30 * HOUR_US  # more than the window, so some orders fall before `since`


def _order(account: str, create_time: datetime, units: int, request_id: str | None = None) -> Order:
    order_id = str(uuid.uuid4())
    return replace(pending_order(order_id), account=account, create_time=create_time, update_time=create_time,
                   kyc_notional_units=units, request_id=request_id or f"request-{order_id}")


async def _used(db: OrderDb, account: str, since: datetime) -> int:
    placement = await db.tx.read_alone(lambda connection: db.store.placement(connection, "no-such-request", account, since))
    return placement.notional_units


# ---------------------------------------------------------------- the sum


@dataclass(frozen=True)
class Placed:
    account: int  # which of the example's accounts
    at_us: int  # microseconds after START
    units: int
    rejected: bool
    retried: bool  # placed again with the same request_id (a concurrent retry): not stored twice


# Times anywhere in the span, and often on an hour or a hair either side of one.
instants = st.one_of(
    st.integers(0, SPAN_US),
    st.builds(lambda hour, nudge: hour * HOUR_US + nudge, st.integers(0, 30), st.sampled_from([0, 0, -1, 1])),
).map(lambda at_us: min(max(at_us, 0), SPAN_US))

placements = st.lists(st.builds(Placed, st.integers(0, 2), instants, st.integers(0, 10**9),
                                st.booleans(), st.integers(0, 9).map(lambda n: n == 0)), max_size=40)

_examples = itertools.count()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(placements, st.lists(st.integers(1, 8), min_size=1), st.lists(st.one_of(instants, st.just(-1)), min_size=1, max_size=6),
       st.data())
async def test_the_windows_notional_is_the_sum_over_the_accounts_orders_not_rejected(
        db: OrderDb, placed: list[Placed], group_sizes: list[int], sinces: list[int], data: st.DataObject) -> None:
    # Every example on accounts of its own, in the one database of the test.
    number = next(_examples)
    accounts = [f"accounts/x{number}-{index}" for index in range(3)]
    orders = [_order(accounts[p.account], START + timedelta(microseconds=p.at_us), p.units) for p in placed]
    # Stored in write transactions of a few orders each (as groups commit them), retries beside.
    sizes = itertools.cycle(group_sizes)
    start = 0
    while start < len(orders):
        chunk = list(zip(placed[start:], orders[start:start + next(sizes)]))
        start += len(chunk)

        async def insert(session: AsyncSession, chunk: list[tuple[Placed, Order]] = chunk) -> list[bool]:
            stored = []
            for p, order in chunk:
                stored.append(await db.store.insert(session, order))
                if p.retried:
                    stored.append(not await db.store.insert(session, _order(
                        order.account, order.create_time, order.kyc_notional_units + 1, order.request_id)))
            return stored

        assert all(await db.tx.write(insert))
    # Rejected later, each in a transaction of its own, as Lifecycle._reject saves it.
    for p, order in zip(placed, orders):
        if p.rejected:
            async def reject(session: AsyncSession, order: Order = order) -> None:
                current = await db.store.get(session, order.order_id, lock=True)
                assert current is not None
                await db.store.save(session, current.rejected("INSUFFICIENT_FUNDS", order.create_time, held=False))

            await db.tx.write(reject)

    for since_us in sinces:
        # -1: exactly an order's create time (the window includes it), when there is one.
        since = (data.draw(st.sampled_from(orders)).create_time if since_us == -1 and orders
                 else START + timedelta(microseconds=max(since_us, 0)))
        for index, account in enumerate(accounts):
            expected = sum(p.units for p, order in zip(placed, orders)
                           if p.account == index and order.create_time >= since and not p.rejected)
            assert await _used(db, account, since) == expected, (account, since)


def test_the_window_is_counted_by_hours_from_the_first_whole_hour_at_or_after_its_start() -> None:
    on_the_hour = datetime(2026, 12, 7, 5, tzinfo=UTC)
    assert window_boundary(on_the_hour) == on_the_hour
    assert window_boundary(on_the_hour + timedelta(microseconds=1)) == on_the_hour + timedelta(hours=1)
    assert window_boundary(on_the_hour - timedelta(microseconds=1)) == on_the_hour
    assert hour_of(on_the_hour - timedelta(microseconds=1)) == on_the_hour - timedelta(hours=1)
    # Another zone's time is placed in its UTC hour.
    assert hour_of(datetime(2026, 12, 7, 6, 30, tzinfo=ZoneInfo("Europe/Paris"))) == on_the_hour


# ----------------------------------------------------- groups side by side


async def test_groups_adding_to_two_accounts_hours_in_opposite_orders_both_commit_without_a_deadlock(
        postgres_url: str, caplog: pytest.LogCaptureFixture) -> None:
    """A group's units run in order id order (group.py), which need not be the accounts' order:
    here one group stores bob's order before alice's and the other alice's before bob's, both
    before either commits (as two Order processes' groups could). Each adds to both accounts'
    hour; were the additions made as each unit ran, each group would hold one hour the other
    wants next, and PostgreSQL would find the deadlock only after deadlock_timeout (1 s) and
    roll one group back to run again."""
    await migrate.upgrade(postgres_url, SPEC.migrations)
    engine = create_engine(postgres_url)
    tx, store = Transactions(engine, keep_connections=True), OrderStore()
    writer = GroupWriter(tx, max_batch=2)
    at = START + timedelta(minutes=10)
    alice, bob = "accounts/alice", "accounts/bob"
    # Two groups of two (max_batch), each sorted by order id: [bob, alice] and [alice, bob].
    ids_and_accounts = [("10000000-0000-4000-8000-000000000000", bob), ("20000000-0000-4000-8000-000000000000", alice),
                        ("30000000-0000-4000-8000-000000000000", alice), ("40000000-0000-4000-8000-000000000000", bob)]
    firsts_stored = 0
    both_first_stored = asyncio.Event()
    runs: list[str] = []

    def place(order_id: str, account: str):
        order = replace(_order(account, at, 5), order_id=order_id, request_id=f"request-{order_id}")

        async def work(session: AsyncSession) -> bool:
            nonlocal firsts_stored
            runs.append(order_id)
            stored = await store.insert(session, order)
            if order_id[0] in "13":  # each group's first unit: the other group stores its first too
                firsts_stored += 1
                if firsts_stored == 2:
                    both_first_stored.set()
                await both_first_stored.wait()
            return stored

        return work

    try:
        with caplog.at_level(logging.WARNING, logger="clearmesh.db"):
            async with asyncio.timeout(5):
                stored = await asyncio.gather(*(writer.write(place(order_id, account), order_id=order_id)
                                                for order_id, account in ids_and_accounts))
        hours = await tx.read(lambda session: session.execute(
            select(tables.notional_hours.c.account, tables.notional_hours.c.units).order_by(tables.notional_hours.c.account)))
        assert [tuple(row) for row in hours] == [(alice, 10), (bob, 10)]
    finally:
        await tx.close()
        await engine.dispose()
    assert stored == [True] * 4
    assert sorted(runs) == [order_id for order_id, _ in ids_and_accounts]  # each ran once: nothing rolled back
    assert not [record for record in caplog.records if "rolled back" in record.getMessage()]


# ---------------------------------------------------------------- the migration


async def test_the_migration_fills_the_hours_from_the_orders_already_stored(database_url: str) -> None:
    await migrate.upgrade(database_url, SPEC.migrations, "order_0002")
    engine = create_engine(database_url)
    tx, store = Transactions(engine), OrderStore()
    ten = datetime(2026, 12, 7, 10, tzinfo=UTC)
    rejected = _order("accounts/alice", ten + timedelta(hours=1, minutes=5), 23)
    stored = [_order("accounts/alice", ten + timedelta(minutes=5), 7), _order("accounts/alice", ten + timedelta(minutes=59), 11),
              _order("accounts/alice", ten + timedelta(hours=1), 13), rejected.rejected("INSUFFICIENT_FUNDS", ten, held=False),
              _order("accounts/bob", ten - timedelta(microseconds=1), 17), _order("accounts/bob", ten + timedelta(minutes=1), 19)]

    async def insert(session: AsyncSession) -> None:
        # As the previous version stored them: the orders alone (the rejected one too, which the hours count).
        await session.execute(tables.orders.insert(), [row_of(order) for order in stored])

    try:
        await tx.write(insert)
        await migrate.upgrade(database_url, SPEC.migrations)
        rows = await tx.read(lambda session: session.execute(select(tables.notional_hours).order_by(
            tables.notional_hours.c.account, tables.notional_hours.c.hour_start)))
        hours = [(row.account, stored_utc(row.hour_start), row.units) for row in rows]
        used = await _used(OrderDb(tx, store), "accounts/alice", ten + timedelta(minutes=30))
    finally:
        await engine.dispose()
    assert hours == [("accounts/alice", ten, 18), ("accounts/alice", ten + timedelta(hours=1), 13 + 23),
                     ("accounts/bob", ten - timedelta(hours=1), 17), ("accounts/bob", ten, 19)]
    assert used == 11 + 13
