"""A trade carries the trace context of the traced call that submitted its taker order, through
the journal (ListTrades reads it back from the store), so Settlement can link to that trace."""

from __future__ import annotations

import os
from typing import Any

from clearmesh.matching.v1 import matching_service_pb2 as pb

BUY, SELL = 1, 2


async def _take(matching: Any, order: str, traceparent: str | None) -> None:
    """A resting ask, then a buy that takes it, sent with `traceparent` (when given)."""
    await matching.submit(f"{order}-ask", SELL, "30000.00", "0.001", account="accounts/bob")
    extra = () if traceparent is None else (("traceparent", traceparent),)
    await matching.stub.SubmitOrder(pb.SubmitOrderRequest(
        order=order, account="accounts/alice", market="markets/BTC-USDC", side=BUY, type=1,  # type: ignore[arg-type]
        price="30000.00", quantity="0.001"), metadata=(*matching.order_service, *extra))


async def _journaled_trades(matching: Any) -> list[Any]:
    answer = await matching.stub.ListTrades(pb.ListTradesRequest(market="markets/BTC-USDC"), metadata=matching.trader)
    return list(answer.trades)


async def test_a_trade_carries_the_sampled_taker_calls_trace_through_the_journal(matching: Any) -> None:
    trace_id = os.urandom(16).hex()
    await _take(matching, "o-traced", f"00-{trace_id}-{os.urandom(8).hex()}-01")

    [trade] = await _journaled_trades(matching)
    version, kept_trace, span, flags = trade.taker_trace_parent.split("-")
    # The span is Matching's own server span of SubmitOrder, a child of the caller's.
    assert (version, kept_trace, len(span), flags) == ("00", trace_id, 16, "01")


async def test_a_trade_of_a_sampled_out_call_carries_no_trace(matching: Any) -> None:
    await _take(matching, "o-dropped", f"00-{os.urandom(16).hex()}-{os.urandom(8).hex()}-00")

    [trade] = await _journaled_trades(matching)
    assert trade.taker_trace_parent == ""


async def test_a_resting_makers_trace_is_not_the_trades(matching: Any) -> None:
    """Only the taker's call made the trade happen: the maker's trace is not carried."""
    maker_trace, taker_trace = os.urandom(16).hex(), os.urandom(16).hex()
    for order, account, side, trace_id in (("o-maker", "bob", SELL, maker_trace), ("o-taker", "alice", BUY, taker_trace)):
        await matching.stub.SubmitOrder(pb.SubmitOrderRequest(
            order=order, account=f"accounts/{account}", market="markets/BTC-USDC", side=side, type=1,  # type: ignore[arg-type]
            price="30000.00", quantity="0.001"),
            metadata=(*matching.order_service, ("traceparent", f"00-{trace_id}-{os.urandom(8).hex()}-01")))

    [trade] = await _journaled_trades(matching)
    assert trade.taker_trace_parent.split("-")[1] == taker_trace


async def test_an_order_that_joined_anothers_batch_gives_its_trades_its_own_trace(matching: Any) -> None:
    """SubmitOrders goes out in its first order's trace: that order's trades carry Matching's
    span of the call, as with SubmitOrder; another order's, the trace that placed it."""
    batch_trace, joined_trace = os.urandom(16).hex(), os.urandom(16).hex()
    await matching.submit("o-ask", SELL, "30000.00", "0.002", account="accounts/bob")
    placed = {order: f"00-{trace_id}-{os.urandom(8).hex()}-01"
              for order, trace_id in (("o-first", batch_trace), ("o-joined", joined_trace))}
    takers = [pb.SubmitOrderRequest(
        order=order, account="accounts/alice", market="markets/BTC-USDC", side=BUY, type=1,  # type: ignore[arg-type]
        price="30000.00", quantity="0.001", trace_parent=trace_parent) for order, trace_parent in placed.items()]
    await matching.stub.SubmitOrders(pb.SubmitOrdersRequest(orders=takers), metadata=(
        *matching.order_service, ("traceparent", f"00-{batch_trace}-{os.urandom(8).hex()}-01")))

    first, joined = await _journaled_trades(matching)
    assert (first.buy_order, first.taker_trace_parent.split("-")[1]) == ("o-first", batch_trace)
    assert first.taker_trace_parent != placed["o-first"]  # Matching's own span of the call
    assert (joined.buy_order, joined.taker_trace_parent) == ("o-joined", placed["o-joined"])
