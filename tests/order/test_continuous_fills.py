"""Crossing orders on BTC-USDC (continuous): both end FILLED with the right quantity and
average price, the resting maker follows from Matching's events, and the holds keep exactly
what settlement of the trades needs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clearmesh.order.v1 import order_service_pb2 as pb
from clearmesh.type.v1 import trading_pb2

BUY, SELL = trading_pb2.SIDE_BUY, trading_pb2.SIDE_SELL
FILLED = trading_pb2.ORDER_STATE_FILLED
OPEN = trading_pb2.ORDER_STATE_OPEN


async def _cross(mesh: Any) -> None:
    alice = await mesh.trader("alice", deposits={"USDC": "10000"})
    bob = await mesh.trader("bob", deposits={"BTC": "1"})
    ask_low = await mesh.place(bob, side=SELL, price="100.00", quantity="0.1")
    ask_high = await mesh.place(bob, side=SELL, price="110.00", quantity="0.1")
    assert ask_low.state == OPEN
    bid = await mesh.place(alice, side=BUY, price="110.00", quantity="0.2")
    assert bid.state == FILLED
    assert bid.filled_quantity == "0.2000"
    assert bid.average_price == "105.00"
    maker = await mesh.state_becomes(ask_low.name, FILLED)
    assert maker.filled_quantity == "0.1000"
    assert maker.average_price == "100.00"
    assert (await mesh.state_becomes(ask_high.name, FILLED)).average_price == "110.00"
    # The buyer held 22 USDC + fee reserve; the fills need 21 + fees (0.021): the rest is back.
    await mesh.held_becomes("alice", "USDC", "21.021")
    await mesh.held_becomes("bob", "BTC", "0.2")


async def test_crossing_orders_fill_and_the_maker_follows_from_events_on_sqlite(mesh: Any) -> None:
    await _cross(mesh)


async def test_crossing_orders_fill_and_the_maker_follows_from_events_on_postgres(
        open_mesh: Callable[..., Any], postgres_url: str) -> None:
    async with open_mesh(postgres_url) as mesh:
        await _cross(mesh)


async def test_a_partly_filled_order_cancelled_keeps_held_exactly_what_its_fill_needs(mesh: Any) -> None:
    alice = await mesh.trader("alice", deposits={"USDC": "1000"})
    bob = await mesh.trader("bob", deposits={"BTC": "1"})
    bid = await mesh.place(alice, side=BUY, price="100.00", quantity="0.2")
    await mesh.place(bob, side=SELL, price="100.00", quantity="0.1")
    await mesh.state_becomes(bid.name, trading_pb2.ORDER_STATE_PARTIALLY_FILLED)
    await mesh.order.CancelOrder(pb.CancelOrderRequest(name=bid.name), metadata=alice)
    cancelled = await mesh.state_becomes(bid.name, trading_pb2.ORDER_STATE_CANCELLED)
    assert (cancelled.filled_quantity, cancelled.average_price) == ("0.1000", "100.00")
    await mesh.held_becomes("alice", "USDC", "10.01")  # the 10 USDC fill and its fee, for settlement


async def test_a_market_buy_spends_within_its_budget_and_gets_the_rest_back(mesh: Any) -> None:
    alice = await mesh.trader("alice", deposits={"USDC": "1000"})
    bob = await mesh.trader("bob", deposits={"BTC": "1"})
    await mesh.place(bob, side=SELL, price="100.00", quantity="0.1")
    bought = await mesh.place(alice, side=BUY, type=trading_pb2.ORDER_TYPE_MARKET, max_notional="50")
    assert bought.filled_quantity == "0.1000"
    assert bought.state == trading_pb2.ORDER_STATE_CANCELLED  # the book ran out before the budget
    await mesh.held_becomes("alice", "USDC", "10.01")
