"""SubmitOrder, CancelOrder and GetOrderBook over a real socket."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.protobuf import timestamp_pb2

from clearmesh.matching.v1 import matching_service_pb2 as pb

BUY, SELL = 1, 2
LIMIT, MARKET = 1, 2
GTT = 4
OPEN, PARTIALLY_FILLED, FILLED, CANCELLED = 1, 2, 3, 4


async def test_a_limit_order_that_crosses_nothing_rests_in_the_book(matching: Any) -> None:
    answer = await matching.submit("o1", BUY, "100.00", "0.5")

    book = await matching.book()
    assert answer.state == OPEN
    assert [(level.price, level.quantity, level.order_count) for level in book.bids] == [("100.00", "0.5000", 1)]


async def test_a_crossing_order_trades_at_the_resting_price(matching: Any) -> None:
    await matching.submit("maker", SELL, "100.00", "1", account="accounts/bob")

    answer = await matching.submit("taker", BUY, "101.00", "0.4")

    assert answer.state == FILLED
    assert [(t.price, t.quantity, t.buy_order, t.sell_order, t.sequence) for t in answer.trades] == [
        ("100.00", "0.4000", "taker", "maker", 1)]
    assert answer.average_price.startswith("100")


async def test_resubmitting_an_order_returns_its_state_without_trading_again(matching: Any) -> None:
    await matching.submit("maker", SELL, "100.00", "1", account="accounts/bob")
    first = await matching.submit("taker", BUY, "100.00", "0.4")

    again = await matching.submit("taker", BUY, "100.00", "0.4")

    assert (again.state, again.filled_quantity, len(again.trades)) == (FILLED, first.filled_quantity, 0)
    book = await matching.book()
    assert book.asks[0].quantity == "0.6000"


async def test_resubmitting_a_resting_order_does_not_add_it_twice(matching: Any) -> None:
    await matching.submit("o1", BUY, "100.00", "1")

    again = await matching.submit("o1", BUY, "100.00", "1")

    assert again.state == OPEN
    assert (await matching.book()).bids[0].order_count == 1


async def test_cancel_removes_the_order_from_the_book(matching: Any) -> None:
    await matching.submit("o1", BUY, "100.00", "1")

    answer = await matching.stub.CancelOrder(pb.CancelOrderRequest(order="o1", market="markets/BTC-USDC"),
                                             metadata=matching.order_service)

    assert answer.state == CANCELLED
    assert list((await matching.book()).bids) == []


async def test_cancelling_twice_answers_the_final_state_again(matching: Any) -> None:
    await matching.submit("o1", BUY, "100.00", "1")
    request = pb.CancelOrderRequest(order="o1", market="markets/BTC-USDC")
    first = await matching.stub.CancelOrder(request, metadata=matching.order_service)

    second = await matching.stub.CancelOrder(request, metadata=matching.order_service)

    assert (second.state, second.sequence) == (CANCELLED, first.sequence)


async def test_cancelling_an_unknown_order_is_not_found(matching: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await matching.stub.CancelOrder(pb.CancelOrderRequest(order="nope", market="markets/BTC-USDC"),
                                        metadata=matching.order_service)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


async def test_the_book_is_aggregated_per_price_best_first_to_the_requested_depth(matching: Any) -> None:
    for index, price in enumerate(["99.00", "100.00", "100.00", "98.00"]):
        await matching.submit(f"b{index}", BUY, price, "1")

    book = await matching.book(depth=2)

    assert [(level.price, level.order_count) for level in book.bids] == [("100.00", 2), ("99.00", 1)]


async def test_a_full_book_refuses_more_resting_orders(open_matching: Any, matching_settings: Any) -> None:
    async with open_matching(matching_settings.model_copy(update={"max_order_book_size": 1})) as matching:
        await matching.submit("o1", BUY, "100.00", "1")
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await matching.submit("o2", BUY, "100.00", "1")
        assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert await matching.store.journal_length("BTC-USDC") == 1


def _future(seconds: int) -> timestamp_pb2.Timestamp:
    return timestamp_pb2.Timestamp(seconds=seconds)


BAD_ORDERS: dict[str, tuple[dict[str, Any], str]] = {
    "price off the tick": ({"price": "100.001"}, "price"),
    "quantity off the lot": ({"quantity": "0.000001"}, "quantity"),
    "zero quantity": ({"quantity": "0"}, "quantity"),
    "negative price": ({"price": "-1"}, "price"),
    "market order with a limit price": ({"type": MARKET, "time_in_force": 2}, "price"),
    "GTT without an expire time": ({"time_in_force": GTT}, "expire_time"),
    "GTT expiring in the past": ({"time_in_force": GTT, "expire_time": _future(1)}, "expire_time"),
    "missing side": ({"side": 0}, "side"),
    "missing quantity": ({"quantity": ""}, "quantity"),
    "missing price on a limit order": ({"price": ""}, "price"),
    "missing order id": ({"order": ""}, "order"),
    "market name malformed": ({"market": "BTC-USDC"}, "market"),
}


@pytest.mark.parametrize("case", list(BAD_ORDERS), ids=list(BAD_ORDERS))
async def test_a_bad_order_is_invalid_argument_and_nothing_is_journaled(matching: Any, case: str) -> None:
    fields, field = BAD_ORDERS[case]
    request = pb.SubmitOrderRequest(order="o1", account="accounts/alice", market="markets/BTC-USDC",
                                    side=BUY, type=LIMIT,  # type: ignore[arg-type]  # a wire number; the .pyi wants the enum type
                                    price="100.00", quantity="1")
    for name, value in fields.items():
        if isinstance(value, timestamp_pb2.Timestamp):
            request.expire_time.CopyFrom(value)
        else:
            setattr(request, name, value)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await matching.stub.SubmitOrder(request, metadata=matching.order_service)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in matching.violations(caught.value)
    assert await matching.store.journal_length("BTC-USDC") == 0


async def test_an_order_for_an_unknown_market_is_not_found_and_nothing_is_journaled(matching: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await matching.submit("o1", BUY, "1", "1", market="DOGE-USDC")

    assert (caught.value.code(), matching.reason(caught.value)) == (grpc.StatusCode.NOT_FOUND, "MARKET_NOT_FOUND")
    assert await matching.store.journal_length("DOGE-USDC") == 0


async def test_a_rule_the_engine_checks_is_invalid_argument_and_nothing_is_journaled(matching: Any) -> None:
    # Post-only IOC passes the adapter's field checks; the market's rules refuse it.
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await matching.submit("o1", BUY, "100.00", "1", post_only=True, time_in_force=2)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert await matching.store.journal_length("BTC-USDC") == 0
