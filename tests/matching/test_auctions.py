"""The periodic auction clears on its own, journaled like any command."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest

from clearmesh.matching.v1 import matching_service_pb2 as pb

BUY, SELL = 1, 2
GRID = "GRID-USDC"


async def until(condition: Any, attempts: int = 200) -> Any:
    """Poll `condition` (an async callable) until it is truthy; bounded, no timing assertion."""
    for _ in range(attempts):
        value = await condition()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("the condition never held")


@pytest.fixture
async def fast_auctions(open_matching: Any, matching_settings: Any) -> Any:
    async with open_matching(matching_settings.model_copy(update={"matching_interval_ms": 50})) as matching:
        yield matching


async def test_crossing_orders_in_an_auction_market_wait_for_the_clearing(matching: Any) -> None:
    await matching.submit("s1", SELL, "0.1000", "10", market=GRID, account="accounts/bob")

    answer = await matching.submit("b1", BUY, "0.1200", "4", market=GRID)

    assert (answer.state, len(answer.trades)) == (1, 0)


async def test_the_periodic_auction_clears_at_one_price_on_its_own(fast_auctions: Any) -> None:
    matching = fast_auctions
    # The bids first: nothing can clear before the sell arrives, so however the auction's
    # timer falls between these calls, one auction clears all three.
    await matching.submit("b1", BUY, "0.1200", "4", market=GRID)
    await matching.submit("b2", BUY, "0.1100", "3", market=GRID, account="accounts/carol")
    await matching.submit("s1", SELL, "0.1000", "10", market=GRID, account="accounts/bob")

    async def trades() -> Any:
        page = await matching.stub.ListTrades(pb.ListTradesRequest(market=f"markets/{GRID}"), metadata=matching.trader)
        return list(page.trades) if len(page.trades) == 2 else None

    cleared = await until(trades)
    assert {trade.price for trade in cleared} == {"0.100"}  # the anchor (reference price) lies in [L, U]
    assert {trade.auction for trade in cleared} == {f"markets/{GRID}/auctions/1"}


async def test_a_cleared_auction_is_listed_with_its_price_and_volume(fast_auctions: Any) -> None:
    matching = fast_auctions
    await matching.submit("s1", SELL, "0.1000", "10", market=GRID, account="accounts/bob")
    await matching.submit("b1", BUY, "0.1000", "4", market=GRID)

    async def auctions() -> Any:
        page = await matching.stub.ListAuctions(pb.ListAuctionsRequest(market=f"markets/{GRID}"),
                                                metadata=matching.trader)
        return list(page.auctions)

    listed = await until(auctions)
    assert [(a.name, a.clearing_price, a.volume, a.trade_count) for a in listed] == [
        (f"markets/{GRID}/auctions/1", "0.100", "4.000", 1)]
    assert (await matching.book(GRID)).asks[0].quantity == "6.000"


async def test_a_market_order_in_an_auction_market_is_invalid(matching: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await matching.submit("m1", BUY, "", "1", market=GRID, type=2, time_in_force=2)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert await matching.store.journal_length(GRID) == 0
