"""A stopped service started again on the same database has the same book and continues its
sequences: the journal is the truth of the book."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from clearmesh.matching.v1 import matching_service_pb2 as pb

BUY, SELL = 1, 2


async def some_trading(matching: Any, prefix: str) -> None:
    for index in range(6):
        await matching.submit(f"{prefix}s{index}", SELL, f"{100 + index}.00", "1", account="accounts/bob")
        await matching.submit(f"{prefix}b{index}", BUY, f"{99 + index}.50", "0.7")
    await matching.stub.CancelOrder(pb.CancelOrderRequest(order=f"{prefix}s5", market="markets/BTC-USDC"),
                                    metadata=matching.order_service)


QUIET_SECS = 0.5  # a stream that says nothing for this long has nothing more to say
WAIT_SECS = 20.0  # the most an item that must come may take


async def drain(stream: Any, through: int = 0, sequence: Callable[[Any], int] = lambda item: 0) -> list[Any]:
    """Everything a stream delivers until it has nothing more for a moment (then it is cancelled).
    The items up to sequence `through` are waited for as long as they take: on a loaded machine
    the first can take longer than that moment, and a stream cut short would read as a gap."""
    items: list[Any] = []
    while True:
        expected = through > (sequence(items[-1]) if items else 0)
        try:
            items.append(await asyncio.wait_for(stream.read(), WAIT_SECS if expected else QUIET_SECS))
        except TimeoutError:
            break
    stream.cancel()
    return items


async def all_trades(matching: Any, through: int = 0) -> list[Any]:
    request = pb.StreamTradesRequest(market="markets/BTC-USDC")
    stream = matching.stub.StreamTrades(request, metadata=matching.trader)
    return [item.trade for item in await drain(stream, through, lambda item: item.trade.sequence)]


async def all_events(matching: Any, through: int = 0) -> list[Any]:
    request = pb.StreamOrderEventsRequest(market="markets/BTC-USDC")
    stream = matching.stub.StreamOrderEvents(request, metadata=matching.order_service)
    return [item.event for item in await drain(stream, through, lambda item: item.event.sequence)]


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
        trades = await all_trades(matching, through=second.trades[-1].sequence)
        events = await all_events(matching, through=second.sequence)

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
