"""A stopped service started again on the same database has the same book and continues its
sequences: the journal is the truth of the book."""

from __future__ import annotations

import asyncio
from typing import Any

from clearmesh.matching.v1 import matching_service_pb2 as pb

BUY, SELL = 1, 2


async def some_trading(matching: Any, prefix: str) -> None:
    for index in range(6):
        await matching.submit(f"{prefix}s{index}", SELL, f"{100 + index}.00", "1", account="accounts/bob")
        await matching.submit(f"{prefix}b{index}", BUY, f"{99 + index}.50", "0.7")
    await matching.stub.CancelOrder(pb.CancelOrderRequest(order=f"{prefix}s5", market="markets/BTC-USDC"),
                                    metadata=matching.order_service)


async def drain(stream: Any) -> list[Any]:
    """Everything a stream delivers until it has nothing more for a moment (then it is cancelled)."""
    items = []
    while True:
        try:
            items.append(await asyncio.wait_for(stream.read(), 0.5))
        except TimeoutError:
            break
    stream.cancel()
    return items


async def all_trades(matching: Any) -> list[Any]:
    request = pb.StreamTradesRequest(market="markets/BTC-USDC")
    return [item.trade for item in await drain(matching.stub.StreamTrades(request, metadata=matching.trader))]


async def all_events(matching: Any) -> list[Any]:
    request = pb.StreamOrderEventsRequest(market="markets/BTC-USDC")
    return [item.event for item in await drain(
        matching.stub.StreamOrderEvents(request, metadata=matching.order_service))]


async def test_a_restarted_service_has_the_identical_book(open_matching: Any, matching_settings: Any) -> None:
    async with open_matching(matching_settings) as matching:
        await some_trading(matching, "a")
        before = await matching.book()

    async with open_matching(matching_settings) as matching:
        after = await matching.book()

    assert after == before and len(before.bids) > 0


async def test_sequences_continue_after_a_restart_without_a_gap(open_matching: Any, matching_settings: Any) -> None:
    async with open_matching(matching_settings) as matching:
        await some_trading(matching, "a")
        first = await matching.submit("x1", BUY, "200.00", "0.1")
    async with open_matching(matching_settings) as matching:
        second = await matching.submit("x2", BUY, "200.00", "0.1")
        trades = await all_trades(matching)
        events = await all_events(matching)

    assert second.trades[0].sequence == first.trades[-1].sequence + 1
    assert [trade.sequence for trade in trades] == list(range(1, len(trades) + 1))
    assert [event.sequence for event in events] == list(range(1, second.sequence + 1))


async def test_an_order_resubmitted_after_a_restart_is_recognised(open_matching: Any, matching_settings: Any) -> None:
    async with open_matching(matching_settings) as matching:
        await matching.submit("m", SELL, "100.00", "1", account="accounts/bob")
        filled = await matching.submit("t", BUY, "100.00", "1")
    async with open_matching(matching_settings) as matching:
        again = await matching.submit("t", BUY, "100.00", "1")

        assert (again.state, again.filled_quantity) == (filled.state, filled.filled_quantity)
        assert len(await all_trades(matching)) == 1
