"""The event follower lets a placement in flight record Matching's answer before it writes that
order's events (`Lifecycle.answered`): the caller is not kept waiting for the follower's commit."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from services.order.domain.enums import OrderState, OrderType, Side, TimeInForce
from services.order.domain.orders import Order
from services.order.domain.validation import OrderSpec
from services.order.lifecycle import Lifecycle
from services.runtime.errors import Unavailable

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
