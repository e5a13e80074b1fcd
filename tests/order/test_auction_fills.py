"""GRID-USDC (a periodic auction, cleared every 100 ms here): orders rest until the clearing,
then fill at the one clearing price, followed from Matching's events."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from clearmesh.type.v1 import trading_pb2

BUY, SELL = trading_pb2.SIDE_BUY, trading_pb2.SIDE_SELL
OPEN, FILLED = trading_pb2.ORDER_STATE_OPEN, trading_pb2.ORDER_STATE_FILLED


async def test_an_auction_fills_crossing_orders_at_one_price_and_returns_the_buyers_difference(mesh: Any) -> None:
    base = await mesh.base_asset("GRID-USDC")
    seller = await mesh.trader("sam", deposits={base: "10"})
    buyer = await mesh.trader("bea", deposits={"USDC": "100"})
    ask = await mesh.place(seller, market="GRID-USDC", side=SELL, price="0.1000", quantity="2")
    bid = await mesh.place(buyer, market="GRID-USDC", side=BUY, price="0.2000", quantity="2")
    assert (ask.state, bid.state) == (OPEN, OPEN)
    filled_bid = await mesh.state_becomes(bid.name, FILLED)
    filled_ask = await mesh.state_becomes(ask.name, FILLED)
    assert filled_bid.filled_quantity == filled_ask.filled_quantity == "2.000"
    assert filled_bid.average_price == filled_ask.average_price
    price = Decimal(filled_bid.average_price)
    assert Decimal("0.1") <= price <= Decimal("0.2")
    # Filled below the limit: what stays held is the trade's notional and fee, nothing more.
    notional = price * 2
    await mesh.held_becomes("bea", "USDC", str(notional + (notional * Decimal("0.001")).quantize(Decimal("0.000001"))))
    await mesh.held_becomes("sam", base, "2")


async def test_five_concurrent_one_kwh_buyers_against_a_four_kwh_sell_fill_exactly_four_at_one_price(mesh: Any) -> None:
    base = await mesh.base_asset("GRID-USDC")
    seller = await mesh.trader("sol", deposits={base: "4"})
    buyers = [await mesh.trader(f"buyer{i}", deposits={"USDC": "10"}) for i in range(5)]
    bids = await asyncio.gather(*(mesh.place(buyer, market="GRID-USDC", side=BUY, price="0.3000", quantity="1")
                                  for buyer in buyers))
    # Bids alone do not cross, so the first clearing after the sell sees all five.
    await mesh.place(seller, market="GRID-USDC", side=SELL, price="0.1000", quantity="4")

    async def cleared() -> bool:
        orders = [await mesh.get(bid.name) for bid in bids]
        return sum(Decimal(order.filled_quantity or "0") for order in orders) == 4 and all(
            order.state != OPEN for order in orders if Decimal(order.filled_quantity or "0"))

    await mesh.eventually(cleared)
    orders = [await mesh.get(bid.name) for bid in bids]
    filled = [order for order in orders if order.state == FILLED]
    assert len(filled) == 4
    assert len({order.average_price for order in filled}) == 1
    assert sum(Decimal(order.filled_quantity) for order in orders) == 4
