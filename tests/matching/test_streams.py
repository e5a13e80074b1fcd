"""ListTrades, StreamTrades and StreamOrderEvents: history from a cursor, then live."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest

from clearmesh.matching.v1 import matching_service_pb2 as pb

BUY, SELL = 1, 2
ACCEPTED, FILLED = 1, 2


async def trade_pairs(matching: Any, count: int, prefix: str = "") -> None:
    """`count` trades, one per maker/taker pair (orders {prefix}m0, {prefix}t0, ...)."""
    for index in range(count):
        await matching.submit(f"{prefix}m{index}", SELL, "100.00", "1", account="accounts/bob")
        await matching.submit(f"{prefix}t{index}", BUY, "100.00", "1")


async def take(stream: Any, count: int) -> list[Any]:
    """The next `count` messages of a stream that stays open (read() keeps it usable afterwards)."""
    return [await asyncio.wait_for(stream.read(), 10) for _ in range(count)]


async def test_trades_page_in_sequence_order(matching: Any) -> None:
    await trade_pairs(matching, 5)
    sequences: list[int] = []
    token = ""
    while True:
        page = await matching.stub.ListTrades(
            pb.ListTradesRequest(market="markets/BTC-USDC", page_size=2, page_token=token), metadata=matching.trader)
        sequences += [trade.sequence for trade in page.trades]
        token = page.next_page_token
        if not token:
            break

    assert sequences == [1, 2, 3, 4, 5]


async def test_a_trade_stream_resumes_after_its_cursor_then_receives_live_trades(matching: Any) -> None:
    await trade_pairs(matching, 3)
    stream = matching.stub.StreamTrades(pb.StreamTradesRequest(market="markets/BTC-USDC", after_sequence=1),
                                        metadata=matching.trader)
    history = await take(stream, 2)

    await trade_pairs(matching, 1, prefix="live-")
    live = await take(stream, 1)
    stream.cancel()

    assert [item.trade.sequence for item in history + live] == [2, 3, 4]
    assert live[0].trade.buy_order == "live-t0"


async def test_a_trade_stream_waits_for_trades_that_do_not_exist_yet(matching: Any) -> None:
    stream = matching.stub.StreamTrades(pb.StreamTradesRequest(market="markets/BTC-USDC"), metadata=matching.trader)
    first = asyncio.ensure_future(take(stream, 1))
    await asyncio.sleep(0.05)

    await trade_pairs(matching, 1)
    received = await asyncio.wait_for(first, 10)
    stream.cancel()

    assert received[0].trade.sequence == 1


async def test_a_trade_stream_asked_for_batches_sends_what_is_there_in_messages_of_at_most_that_many(
        matching: Any) -> None:
    await trade_pairs(matching, 5)
    stream = matching.stub.StreamTrades(
        pb.StreamTradesRequest(market="markets/BTC-USDC", after_sequence=0, max_trades_per_message=2),
        metadata=matching.trader)
    history = await take(stream, 3)

    await trade_pairs(matching, 1, prefix="live-")
    live = await take(stream, 1)
    stream.cancel()

    assert [[trade.sequence for trade in item.trades.trades] for item in history + live] == [[1, 2], [3, 4], [5], [6]]
    assert live[0].trades.trades[0].buy_order == "live-t0"


@pytest.mark.parametrize("per_message", [-1, 1001])
async def test_a_trade_stream_refuses_a_batch_size_out_of_range(matching: Any, per_message: int) -> None:
    stream = matching.stub.StreamTrades(
        pb.StreamTradesRequest(market="markets/BTC-USDC", max_trades_per_message=per_message),
        metadata=matching.trader)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await asyncio.wait_for(stream.read(), 10)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_order_events_stream_from_zero_in_sequence_order(matching: Any) -> None:
    await trade_pairs(matching, 1)
    stream = matching.stub.StreamOrderEvents(pb.StreamOrderEventsRequest(market="markets/BTC-USDC"),
                                             metadata=matching.order_service)

    events = await take(stream, 4)
    stream.cancel()

    assert [(e.event.sequence, e.event.order, e.event.type) for e in events] == [
        (1, "m0", ACCEPTED), (2, "t0", ACCEPTED), (3, "m0", FILLED), (4, "t0", FILLED)]


async def test_order_events_resume_after_the_cursor(matching: Any) -> None:
    await trade_pairs(matching, 2)
    stream = matching.stub.StreamOrderEvents(
        pb.StreamOrderEventsRequest(market="markets/BTC-USDC", after_sequence=6), metadata=matching.order_service)

    events = await take(stream, 2)
    stream.cancel()

    assert [e.event.sequence for e in events] == [7, 8]
