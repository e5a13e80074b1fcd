"""SubmitOrders: the Order service's concurrent submissions in one call, each order answered
(or refused) on its own, exactly as SubmitOrder would have answered it alone."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.rpc import code_pb2, status_pb2

from clearmesh.matching.v1 import matching_service_pb2 as pb
from tests.testkit.rpc import status as status_of

BUY, SELL = 1, 2
OPEN, FILLED = 1, 3


def order(order_id: str, side: int, price: str, quantity: str, *, market: str = "BTC-USDC",
          account: str = "accounts/alice", **fields: Any) -> pb.SubmitOrderRequest:
    return pb.SubmitOrderRequest(order=order_id, account=account, market=f"markets/{market}",
                                 side=side,  # type: ignore[arg-type]  # a wire number; the .pyi wants the enum type
                                 type=fields.pop("type", 1), price=price, quantity=quantity, **fields)


async def submit_all(matching: Any, *orders: pb.SubmitOrderRequest) -> list[pb.SubmitOrderResult]:
    answer = await matching.stub.SubmitOrders(pb.SubmitOrdersRequest(orders=orders), metadata=matching.order_service)
    return list(answer.results)


async def unary_status(matching: Any, request: pb.SubmitOrderRequest) -> status_pb2.Status:
    """The status SubmitOrder ends with for `request`."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await matching.stub.SubmitOrder(request, metadata=matching.order_service)
    return status_of(caught.value)


async def test_a_batch_answers_every_order_in_the_order_of_the_request(matching: Any) -> None:
    results = await submit_all(matching, order("maker", SELL, "100.00", "1", account="accounts/bob"),
                               order("taker", BUY, "100.00", "0.4"), order("rests", BUY, "99.00", "0.1"))

    assert [result.WhichOneof("result") for result in results] == ["order", "order", "order"]
    assert [result.order.state for result in results] == [OPEN, FILLED, OPEN]
    assert [(t.buy_order, t.sell_order, t.quantity) for t in results[1].order.trades] == [("taker", "maker", "0.4000")]
    book = await matching.book()
    assert [(level.price, level.quantity) for level in book.asks] == [("100.00", "0.6000")]
    assert [(level.price, level.quantity) for level in book.bids] == [("99.00", "0.1000")]


async def test_a_reused_order_id_refuses_only_that_order_with_the_status_submit_order_gives(matching: Any) -> None:
    await matching.submit("o1", BUY, "100.00", "1")
    reused = order("o1", BUY, "100.00", "2")
    alone = await unary_status(matching, reused)

    results = await submit_all(matching, order("o2", BUY, "98.00", "1"), reused, order("o3", BUY, "97.00", "1"))

    assert [result.WhichOneof("result") for result in results] == ["order", "error", "order"]
    assert results[1].error == alone
    assert results[1].error.code == code_pb2.ALREADY_EXISTS
    assert [level.price for level in (await matching.book()).bids] == ["100.00", "98.00", "97.00"]


async def test_an_invalid_order_is_refused_alone_naming_its_fields_as_submit_order_does(matching: Any) -> None:
    invalid = order("bad", BUY, "", "0.5")
    alone = await unary_status(matching, invalid)

    results = await submit_all(matching, invalid, order("good", BUY, "100.00", "0.5"))

    assert results[0].error == alone
    assert results[0].error.code == code_pb2.INVALID_ARGUMENT
    assert results[1].order.state == OPEN


async def test_an_order_for_an_unknown_market_is_refused_alone(matching: Any) -> None:
    unknown = order("elsewhere", BUY, "100.00", "1", market="NOPE-USDC")
    alone = await unary_status(matching, unknown)

    results = await submit_all(matching, unknown, order("here", BUY, "100.00", "1"))

    assert results[0].error == alone
    assert results[0].error.code == code_pb2.NOT_FOUND
    assert results[1].order.state == OPEN


async def test_an_order_submitted_twice_in_one_batch_is_placed_once(matching: Any) -> None:
    twice = order("o1", BUY, "100.00", "1")
    results = await submit_all(matching, twice, twice)

    assert [result.order.state for result in results] == [OPEN, OPEN]
    assert [(level.quantity, level.order_count) for level in (await matching.book()).bids] == [("1.0000", 1)]


async def test_an_empty_batch_is_invalid_argument(matching: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await submit_all(matching)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert matching.violations(caught.value) == {"orders": "is required"}


async def test_a_batch_of_more_than_a_thousand_orders_is_refused_whole(matching: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await submit_all(matching, *(order(f"o{i}", BUY, "100.00", "0.1") for i in range(1001)))
    assert matching.reason(caught.value) == "BATCH_TOO_LARGE"
    assert (await matching.book()).bids == []


async def test_only_the_order_service_may_submit_a_batch(matching: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await matching.stub.SubmitOrders(pb.SubmitOrdersRequest(orders=[order("o1", BUY, "100.00", "1")]),
                                         metadata=matching.trader)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
