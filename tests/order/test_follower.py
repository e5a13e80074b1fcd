"""The event follower writes what Matching's events change: a batch of resting orders' OPEN
events that their recorded answers already showed is read, not written, and the stored cursor
catches up with a later write."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from clearmesh.matching.v1 import matching_pb2
from sqlalchemy.ext.asyncio import AsyncSession

from services.order.domain.enums import STATE_NUMBERS, OrderState
from services.order.domain.market import MarketRules
from services.order.domain.orders import Order
from services.order.follower import EventFollower
from services.order.service import SPEC
from services.order.store import OrderStore
from services.runtime import migrate
from services.runtime.database import create_engine
from services.runtime.transactions import Transactions
from tests.testkit.orders import pending_order

MARKET = MarketRules("BTC-USDC", "BTC", "USDC", Decimal("0.01"), Decimal("0.0001"), None, None, auction=False,
                     halted=False, reference_price=None, base_decimals=8, quote_decimals=6)
RESTING, PENDING = "0b7f6c1e-0000-4000-8000-000000000001", "0b7f6c1e-0000-4000-8000-000000000002"


def _opened(order_id: str, sequence: int) -> matching_pb2.OrderEvent:
    return matching_pb2.OrderEvent(sequence=sequence, market=MARKET.market_id, order=f"orders/{order_id}",
                                   state=STATE_NUMBERS[OrderState.OPEN], filled_quantity="0")  # type: ignore[arg-type]


class _Stream:
    """Matching's order events, each arriving on its own (so each is a batch of its own)."""

    def __init__(self, events: list[matching_pb2.OrderEvent]) -> None:
        self._events = events

    async def __aiter__(self) -> AsyncIterator[Any]:
        for event in self._events:
            await asyncio.sleep(0.05)
            yield SimpleNamespace(HasField=lambda _: False, event=event)

    def cancel(self) -> None:
        pass


class _Mesh:
    """An Order database with one order answered OPEN at sequence 1 (its answer recorded) and
    one still PENDING, a follower on it, and the write transactions the follower ran."""

    def __init__(self, tx: Transactions) -> None:
        self.tx, self.store, self.writes, self.reads = tx, OrderStore(), 0, 0
        read_alone = tx.read_alone

        async def counted(work: Callable[[Any], Awaitable[Any]]) -> Any:
            self.reads += 1
            return await read_alone(work)

        tx.read_alone = counted  # type: ignore[method-assign]

    async def write(self, work: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
        self.writes += 1
        return await self.tx.write(work)

    async def follow(self, events: list[matching_pb2.OrderEvent], cursor_lag_secs: float = 60.0,
                     recorded: dict[str, Order] | None = None) -> None:
        """Follow `events`; `recorded`: the orders as placements in this process recorded them."""
        peers = SimpleNamespace(order_events=lambda market, after: _Stream(events))
        kept = dict(recorded or {})

        def taken(order_ids: list[str]) -> dict[str, Order]:
            return {order_id: kept.pop(order_id) for order_id in order_ids if order_id in kept}

        follower = EventFollower(self.tx, self.store, cast(Any, peers), cast(Any, None), fee_rate=Decimal("0.001"),
                                 release=cast(Any, None), withdraw=cast(Any, None), spawn=cast(Any, None),
                                 recorded=taken, write=self.write, cursor_lag_secs=cursor_lag_secs)
        await follower._follow_stream(MARKET)

    async def cursor(self) -> int:
        return await self.tx.read(lambda session: self.store.cursor(session, MARKET.market_id))

    async def state(self, order_id: str) -> OrderState:
        return (await self.order(order_id)).state

    async def order(self, order_id: str) -> Order:
        order = await self.tx.read(lambda session: self.store.get(session, order_id))
        assert order is not None
        return order


@pytest.fixture
async def mesh(tmp_path: Path) -> AsyncIterator[_Mesh]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'order.db'}"
    await migrate.upgrade(url, SPEC.migrations)
    engine = create_engine(url)
    mesh = _Mesh(Transactions(engine))
    resting = pending_order(RESTING)
    answered = resting.answered(OrderState.OPEN, Decimal(0), "", "", 1, resting.update_time)

    async def store(session: AsyncSession) -> None:
        await mesh.store.insert(session, resting)
        await mesh.store.save(session, answered)
        await mesh.store.insert(session, replace(pending_order(PENDING), request_id="another"))

    await mesh.tx.write(store)
    try:
        yield mesh
    finally:
        await engine.dispose()


async def test_an_open_event_the_orders_answer_already_showed_is_not_written(mesh: _Mesh) -> None:
    await mesh.follow([_opened(RESTING, 1)])
    assert (mesh.writes, await mesh.cursor()) == (0, 0)


async def test_an_open_event_of_an_order_still_pending_is_written_with_the_cursor(mesh: _Mesh) -> None:
    await mesh.follow([_opened(RESTING, 1), _opened(PENDING, 2)])
    assert (mesh.writes, await mesh.cursor(), await mesh.state(PENDING)) == (1, 2, OrderState.OPEN)


async def test_the_stored_cursor_catches_up_once_it_has_lagged_long_enough(mesh: _Mesh) -> None:
    # Two batches that move nothing: the first leaves the cursor behind, the second (the lag
    # allowed being none) writes it, and only it.
    await mesh.follow([_opened(RESTING, 1), _opened(RESTING, 1)], cursor_lag_secs=0)
    assert (mesh.writes, await mesh.cursor(), await mesh.state(RESTING)) == (1, 1, OrderState.OPEN)


async def test_an_open_event_its_placement_recorded_is_decided_without_reading_the_order(mesh: _Mesh) -> None:
    resting = await mesh.order(RESTING)
    await mesh.follow([_opened(RESTING, 1)], recorded={RESTING: resting})
    assert (mesh.reads, mesh.writes) == (0, 0)


async def test_only_the_orders_no_placement_recorded_are_read(mesh: _Mesh) -> None:
    resting = await mesh.order(RESTING)
    await mesh.follow([_opened(RESTING, 1), _opened(PENDING, 2)], recorded={RESTING: resting})
    # PENDING's event moves it: read (to find that out), then written.
    assert (mesh.reads, mesh.writes, await mesh.state(PENDING)) == (1, 1, OrderState.OPEN)


async def test_an_event_past_what_the_placement_recorded_is_written(mesh: _Mesh) -> None:
    # The recorded order does not hide a later event: its sequences move it, so it is written.
    resting = await mesh.order(RESTING)
    await mesh.follow([_opened(RESTING, 2)], recorded={RESTING: resting})
    assert (mesh.writes, await mesh.cursor(), (await mesh.order(RESTING)).state_sequence) == (1, 2, 2)
