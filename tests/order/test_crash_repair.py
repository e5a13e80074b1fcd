"""Crash repair: an order stored PENDING (the process died between its steps) is finished when
the Order service starts again — held (again: the hold id is the order id) and submitted, or
rejected and released if Matching refuses it. No hold is orphaned, no order lost."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import grpc
from clearmesh.matching.v1 import matching_service_pb2 as matching_pb
from clearmesh.order.v1 import order_service_pb2_grpc as pb_grpc
from clearmesh.type.v1 import trading_pb2
from clearmesh.wallet.v1 import wallet_service_pb2 as wallet_pb

from services.order.domain.enums import OrderState, OrderType, Side, TimeInForce
from services.order.domain.orders import Order
from services.order.domain.validation import OrderSpec
from services.order.service import SPEC as ORDER
from services.order.store import OrderStore

NOW = datetime.now(UTC)


def _pending(price: str, *, request_id: str) -> Order:
    spec = OrderSpec(Side.BUY, OrderType.LIMIT, TimeInForce.GTC, Decimal(price), Decimal("0.01"), None, False,
                     None, "")
    return Order(str(uuid.uuid4()), "accounts/alice", "BTC-USDC", spec, request_id, "f", "USDC", 2_000_000,
                 1_000_000, OrderState.PENDING, Decimal(0), "", "", NOW, NOW)


async def test_pending_orders_are_submitted_or_rejected_and_released_when_the_service_starts_again(
        mesh: Any, serve: Any) -> None:
    await mesh.trader("alice", deposits={"USDC": "100"})
    running = mesh.services["order"]
    held_then_crashed = _pending("100.00", request_id="crash-1")
    never_held = _pending("99.00", request_id="crash-2")
    refused_by_matching = _pending("100.001", request_id="crash-3")  # off the tick: Matching refuses it
    store = OrderStore()
    for order in (held_then_crashed, never_held, refused_by_matching):
        await running.runtime.transactions.write(lambda session, order=order: store.insert(session, order))
    for order in (held_then_crashed, refused_by_matching):
        await mesh.wallet.PlaceHold(wallet_pb.PlaceHoldRequest(
            hold=order.hold_name, account="accounts/alice", asset="USDC", amount="2"),
            metadata=mesh.bearer(service="order"))
    settings = running.runtime.settings
    await running.stop(grace=0)

    async with serve(ORDER, settings) as restarted, grpc.aio.insecure_channel(f"127.0.0.1:{restarted.port}") as channel:
        mesh.order = pb_grpc.OrderServiceStub(channel)
        await mesh.state_becomes(held_then_crashed.name, trading_pb2.ORDER_STATE_OPEN)
        await mesh.state_becomes(never_held.name, trading_pb2.ORDER_STATE_OPEN)
        rejected = await mesh.state_becomes(refused_by_matching.name, trading_pb2.ORDER_STATE_REJECTED)
        assert rejected.reject_reason == "INVALID_ARGUMENT"  # Matching's reason
        await mesh.held_becomes("alice", "USDC", "4")  # the two submitted orders' holds, nothing else
        book = await mesh.matching.GetOrderBook(matching_pb.GetOrderBookRequest(market="markets/BTC-USDC"),
                                                metadata=mesh.operator)
        assert [(level.price, level.quantity) for level in book.bids] == [("100.00", "0.0100"), ("99.00", "0.0100")]
