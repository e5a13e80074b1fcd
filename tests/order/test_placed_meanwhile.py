"""A new order's commit checks that no other process (another Order replica) stored more of its
account's notional, since the placement read it, than KYC's answer left room for
(`store.placed_since`): otherwise two replicas could each pass KYC against the same usage and
the account's daily limit be exceeded. On either database; on PostgreSQL the second of two such
commits waits for the first (the account's advisory lock) and sees what it stored."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.order import tables
from services.order.domain.orders import Order
from services.order.store import NotionalSeen, PlacedMeanwhile
from services.runtime.transactions import check_at_commit
from tests.order.conftest import OrderDb
from tests.testkit.orders import pending_order

ACCOUNT = "accounts/alice"
WINDOW = timedelta(hours=24)


def _order(units: int, account: str = ACCOUNT) -> Order:
    order_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    return replace(pending_order(order_id), account=account, create_time=now, update_time=now,
                   kyc_notional_units=units)


async def _seen(db: OrderDb, account: str = ACCOUNT) -> NotionalSeen:
    """What a placement reads before it asks KYC."""
    since = datetime.now(UTC) - WINDOW
    placement = await db.tx.read_alone(lambda connection: db.store.placement(connection, "no-such-request", account, since))
    return placement.seen


async def _store(db: OrderDb, order: Order, seen: NotionalSeen | None = None, slack: int | None = None) -> bool:
    return await db.tx.write(lambda session: db.store.insert(session, order, seen, slack))


async def _stored_units(db: OrderDb, account: str = ACCOUNT) -> int:
    async def read(session: AsyncSession) -> int:
        query = select(func.coalesce(func.sum(tables.orders.c.kyc_notional_units), 0)).where(
            tables.orders.c.account == account)
        return int((await session.execute(query)).scalar_one())

    return await db.tx.read(read)


async def test_an_order_stored_by_another_process_since_the_read_beyond_the_slack_refuses_the_commit(db: OrderDb) -> None:
    seen = await _seen(db)
    await _store(db, _order(700))  # another replica's, after this placement's read

    with pytest.raises(PlacedMeanwhile):
        await _store(db, _order(100), seen, slack=699)

    assert await _stored_units(db) == 700  # the refused order and its hour's addition rolled back
    assert (await _seen(db)).hours_units == 700


async def test_an_order_stored_meanwhile_within_the_slack_lets_the_commit_through(db: OrderDb) -> None:
    seen = await _seen(db)
    await _store(db, _order(700))

    assert await _store(db, _order(100), seen, slack=700)
    assert await _stored_units(db) == 800


async def test_nothing_stored_meanwhile_lets_the_commit_through_with_no_slack(db: OrderDb) -> None:
    await _store(db, _order(500))
    seen = await _seen(db)

    assert await _store(db, _order(100), seen, slack=0)
    assert (await _seen(db)).hours_units == 600


async def test_another_accounts_orders_do_not_count_against_the_slack(db: OrderDb) -> None:
    seen = await _seen(db)
    await _store(db, _order(10_000, account="accounts/bob"))

    assert await _store(db, _order(100), seen, slack=0)


async def test_of_two_commits_checked_at_once_the_second_sees_what_the_first_stored(db: OrderDb) -> None:
    # Both placements read the same usage and get no slack. The first is held between its check
    # and its commit while the second commits: the second must wait for it (PostgreSQL: the
    # account's advisory lock; SQLite: the one writer) and then see its order, not pass beside it.
    # The first's order is of the hour before (at the turn of an hour, on a replica whose clock
    # is a little behind): the two add to different hour rows, so no row lock orders them.
    seen = await _seen(db)
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    earlier = replace(_order(100), create_time=an_hour_ago, update_time=an_hour_ago)
    checked, release = asyncio.Event(), asyncio.Event()

    async def hold_after_the_check(_session: Any, _items: list[Any]) -> None:
        checked.set()
        await release.wait()

    async def first(session: AsyncSession) -> bool:
        stored = await db.store.insert(session, earlier, seen, 0)
        check_at_commit(session, hold_after_the_check, None)  # runs after placed_since's check
        return stored

    first_commit = asyncio.create_task(db.tx.write(first))
    await asyncio.wait_for(checked.wait(), 10)
    second_commit = asyncio.create_task(_store(db, _order(100), seen, slack=0))
    await asyncio.sleep(0.3)  # the second's check would have run by now, were it not waiting
    release.set()

    assert await first_commit
    with pytest.raises(PlacedMeanwhile):
        await second_commit
    assert await _stored_units(db) == 100
