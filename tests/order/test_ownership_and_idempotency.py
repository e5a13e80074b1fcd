"""A trader can neither read, list nor cancel another's orders (operators can); PlaceOrder is
idempotent by request_id."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from clearmesh.order.v1 import order_pb2
from clearmesh.order.v1 import order_service_pb2 as pb
from clearmesh.type.v1 import trading_pb2

BUY = trading_pb2.SIDE_BUY
OPEN = trading_pb2.ORDER_STATE_OPEN


async def _alice_and_her_order(mesh: Any) -> tuple[Any, order_pb2.Order]:
    alice = await mesh.trader("alice", deposits={"USDC": "1000"})
    return alice, await mesh.place(alice, side=BUY, price="100.00", quantity="0.1")


async def test_a_trader_cannot_read_anothers_order_which_looks_missing(mesh: Any) -> None:
    _, order = await _alice_and_her_order(mesh)
    mallory = mesh.bearer(account="mallory")
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await mesh.get(order.name, mallory)
    assert denied.value.code() == grpc.StatusCode.NOT_FOUND
    assert mesh.reason(denied.value) == "ORDER_NOT_FOUND"


async def test_a_trader_cannot_cancel_anothers_order(mesh: Any) -> None:
    _, order = await _alice_and_her_order(mesh)
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await mesh.order.CancelOrder(pb.CancelOrderRequest(name=order.name), metadata=mesh.bearer(account="mallory"))
    assert denied.value.code() == grpc.StatusCode.NOT_FOUND
    assert (await mesh.get(order.name)).state == OPEN


async def test_a_trader_lists_only_their_own_orders(mesh: Any) -> None:
    await _alice_and_her_order(mesh)
    mallory = mesh.bearer(account="mallory")
    assert list((await mesh.order.ListOrders(pb.ListOrdersRequest(), metadata=mallory)).orders) == []
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await mesh.order.ListOrders(pb.ListOrdersRequest(account="accounts/alice"), metadata=mallory)
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_an_operator_reads_lists_and_cancels_any_order(mesh: Any) -> None:
    _, order = await _alice_and_her_order(mesh)
    assert (await mesh.get(order.name)).account == "accounts/alice"
    listed = await mesh.order.ListOrders(pb.ListOrdersRequest(account="accounts/alice"), metadata=mesh.operator)
    assert [o.name for o in listed.orders] == [order.name]
    cancelled = await mesh.order.CancelOrder(pb.CancelOrderRequest(name=order.name), metadata=mesh.operator)
    assert cancelled.state == trading_pb2.ORDER_STATE_CANCELLED


async def test_list_orders_filters_by_state_and_pages(mesh: Any) -> None:
    alice = await mesh.trader("alice", deposits={"USDC": "1000"})
    names = [(await mesh.place(alice, side=BUY, price="10.00", quantity="0.1")).name for _ in range(3)]
    await mesh.order.CancelOrder(pb.CancelOrderRequest(name=names[1]), metadata=alice)
    first = await mesh.order.ListOrders(pb.ListOrdersRequest(page_size=2, states=[OPEN]), metadata=alice)
    assert [o.name for o in first.orders] == [names[0], names[2]]
    assert first.next_page_token == ""
    paged = await mesh.order.ListOrders(pb.ListOrdersRequest(page_size=2), metadata=alice)
    rest = await mesh.order.ListOrders(pb.ListOrdersRequest(page_size=2, page_token=paged.next_page_token),
                                       metadata=alice)
    assert [o.name for o in (*paged.orders, *rest.orders)] == names


async def test_placing_again_with_the_same_request_id_answers_the_same_order(mesh: Any) -> None:
    alice = await mesh.trader("alice", deposits={"USDC": "1000"})
    first = await mesh.place(alice, side=BUY, price="100.00", quantity="0.1", request_id="place-1")
    again = await mesh.place(alice, side=BUY, price="100.00", quantity="0.1", request_id="place-1")
    assert again == first
    listed = await mesh.order.ListOrders(pb.ListOrdersRequest(), metadata=alice)
    assert len(listed.orders) == 1
    assert await mesh.balance("alice", "USDC") == ("989.990000", "10.010000")  # held once


async def test_the_same_request_id_for_a_different_order_is_refused_as_reused(mesh: Any) -> None:
    alice = await mesh.trader("alice", deposits={"USDC": "1000"})
    await mesh.place(alice, side=BUY, price="100.00", quantity="0.1", request_id="place-1")
    with pytest.raises(grpc.aio.AioRpcError) as reused:
        await mesh.place(alice, side=BUY, price="99.00", quantity="0.1", request_id="place-1")
    assert reused.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert mesh.reason(reused.value) == "REQUEST_ID_REUSED"
