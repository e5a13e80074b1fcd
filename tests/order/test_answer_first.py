"""The event follower lets a placement in flight record Matching's answer before it writes that
order's events (`Lifecycle.answered`): the caller is not kept waiting for the follower's commit."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from services.order.domain.enums import STATE_NUMBERS, OrderState, OrderType, Side, TimeInForce
from services.order.domain.orders import Order
from services.order.domain.validation import OrderSpec
from services.order.lifecycle import Lifecycle
from services.order.service import SPEC
from services.order.store import OrderStore
from services.runtime import migrate
from services.runtime.clock import SystemClock
from services.runtime.database import create_engine
from services.runtime.errors import Unavailable
from services.runtime.transactions import Transactions
from tests.testkit.orders import pending_order

START = datetime(2026, 12, 6, tzinfo=UTC)
ORDER_ID = "0b7f6c1e-0000-4000-8000-000000000000"


def _order() -> Order:
    spec = OrderSpec(Side.BUY, OrderType.LIMIT, TimeInForce.GTC, Decimal("100.00"), Decimal("0.01"), None, False,
                     None, "")
    return Order(ORDER_ID, "accounts/alice", "BTC-USDC", spec, "r1", "f", "USDC", 2_000_000, 0,
                 OrderState.PENDING, Decimal(0), "", "", START, START)


class _Peers:
    """The Wallet holds at once; Matching answers when `answer` is set (UNAVAILABLE, so the
    placement ends without a write of its own)."""

    def __init__(self) -> None:
        self.answer = asyncio.Event()
        self.submitted = asyncio.Event()

    async def place_hold(self, order: Order, amount: str) -> None:
        return None

    async def submit(self, order: Order) -> Any:
        self.submitted.set()
        await self.answer.wait()
        raise Unavailable("MATCHING_UNAVAILABLE", "no answer")


def _lifecycle(peers: _Peers) -> Lifecycle:
    markets = SimpleNamespace(decimals=lambda asset: 6)
    return Lifecycle(SimpleNamespace(is_sqlite=True), None, peers, markets, None,  # type: ignore[arg-type]
                     fee_rate=Decimal(0))


async def test_the_follower_waits_for_a_placement_that_awaits_matchings_answer() -> None:
    peers = _Peers()
    lifecycle = _lifecycle(peers)
    placing = asyncio.create_task(lifecycle._hold_and_submit(_order(), None, None, patient=True))  # type: ignore[arg-type]
    await peers.submitted.wait()
    follower = asyncio.create_task(lifecycle.answered([ORDER_ID]))
    await asyncio.sleep(0)
    assert not follower.done()
    peers.answer.set()
    await asyncio.gather(placing, return_exceptions=True)
    await follower


async def test_the_follower_does_not_wait_for_orders_no_placement_is_submitting() -> None:
    lifecycle = _lifecycle(_Peers())
    await asyncio.wait_for(lifecycle.answered([ORDER_ID, "another"]), timeout=5)


class _Answering:
    """Matching answers every SubmitOrder with `state` at sequence 1, `filled` filled."""

    def __init__(self, state: OrderState, filled: str = "0") -> None:
        self.answer = SimpleNamespace(state=STATE_NUMBERS[state], filled_quantity=filled, average_price="",
                                      reason="", sequence=1)

    async def submit(self, order: Order) -> Any:
        return self.answer


async def _recorded_after_placing(tmp_path: Path, peers: _Answering) -> tuple[Lifecycle, Order]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'order.db'}"
    await migrate.upgrade(url, SPEC.migrations)
    engine = create_engine(url)
    tx = Transactions(engine)
    store = OrderStore()
    order = pending_order(ORDER_ID)
    await tx.write(lambda session: store.insert(session, order))
    lifecycle = Lifecycle(tx, store, peers, SimpleNamespace(), SystemClock(),  # type: ignore[arg-type]
                          fee_rate=Decimal(0))
    await lifecycle._submit_and_record(order, None, patient=True)
    stored = await tx.read(lambda session: store.get(session, ORDER_ID))
    await tx.close()
    await engine.dispose()
    assert stored is not None
    return lifecycle, stored


async def test_a_placement_hands_the_follower_the_resting_order_it_recorded_once(tmp_path: Path) -> None:
    lifecycle, stored = await _recorded_after_placing(tmp_path, _Answering(OrderState.OPEN))
    assert lifecycle.recorded([ORDER_ID, "another"]) == {ORDER_ID: stored}
    assert lifecycle.recorded([ORDER_ID]) == {}


async def test_an_order_recorded_filled_is_left_for_the_follower_to_read(tmp_path: Path) -> None:
    lifecycle, _ = await _recorded_after_placing(tmp_path, _Answering(OrderState.FILLED, "0.001"))
    assert lifecycle.recorded([ORDER_ID]) == {}
