"""market_orders_total: each order PlaceOrder makes is counted once, by market, side and how
its placement ended."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from clearmesh.type.v1 import trading_pb2
from prometheus_client import REGISTRY

BUY, SELL = trading_pb2.SIDE_BUY, trading_pb2.SIDE_SELL


def orders(side: str, outcome: str, market: str = "BTC-USDC") -> float:
    return REGISTRY.get_sample_value("market_orders_total",
                                     {"market": market, "side": side, "outcome": outcome}) or 0.0


async def test_an_order_that_trades_in_full_is_counted_as_filled_by_its_side(mesh: Any) -> None:
    seller = await mesh.trader("sam", deposits={"BTC": "1"})
    buyer = await mesh.trader("bea", deposits={"USDC": "1000"})
    await mesh.place(seller, side=SELL, price="100.00", quantity="0.5")
    before_buy, before_sell = orders("buy", "filled"), orders("sell", "filled")
    await mesh.place(buyer, side=BUY, price="100.00", quantity="0.5")
    assert (orders("buy", "filled"), orders("sell", "filled")) == (before_buy + 1, before_sell)


async def test_a_refused_order_is_counted_as_rejected(mesh: Any) -> None:
    alice = await mesh.trader("alice", deposits={"USDC": "10"})
    before = orders("buy", "rejected")
    with pytest.raises(grpc.aio.AioRpcError):
        await mesh.place(alice, side=BUY, price="100.00", quantity="0.5")  # INSUFFICIENT_FUNDS
    assert orders("buy", "rejected") == before + 1


async def test_a_retry_of_the_same_request_is_not_counted_again(mesh: Any) -> None:
    alice = await mesh.trader("alice", deposits={"USDC": "1000"})
    before = orders("buy", "open")
    for _ in range(2):
        await mesh.place(alice, side=BUY, price="100.00", quantity="0.5", request_id="the-same-order")
    assert orders("buy", "open") == before + 1
