"""Order's replicas (each its own process in the mesh; here two Order services on one
PostgreSQL database) place one account's orders at the same time, and the account's daily
limit still holds: each placement asks KYC with the usage it read, and its commit checks that
no other replica stored more since than KYC's answer left room for (`store.placed_since`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import grpc
from clearmesh.order.v1 import order_pb2
from clearmesh.order.v1 import order_service_pb2 as pb

from tests.order.conftest import BUY

ORDERS = 40  # twenty through each replica, at once; 2 000 each against tier 1's 50 000 a day
FIT = 25


async def test_the_daily_limit_holds_when_two_replicas_place_one_accounts_orders_at_once(
        open_mesh: Callable[..., Any], postgres_url: str) -> None:
    async with open_mesh(postgres_url, order_replicas=2) as mesh:
        alice = await mesh.trader("alice", tier=1, deposits={"USDC": "200000"})

        async def place(index: int) -> order_pb2.Order | str:
            """The order, or the reason it was refused; retried (same request id) while ABORTED,
            as a client retries a concurrency conflict."""
            request_id = mesh.request_id()
            while True:
                try:
                    return await mesh.place(alice, side=BUY, price="2000.00", quantity="1", request_id=request_id,
                                            replica=index % 2)
                except grpc.aio.AioRpcError as error:
                    if error.code() != grpc.StatusCode.ABORTED:
                        return mesh.reason(error)

        answers = await asyncio.gather(*(place(index) for index in range(ORDERS)))

        placed = [answer for answer in answers if isinstance(answer, order_pb2.Order)]
        assert len(placed) == FIT, answers
        assert [answer for answer in answers if isinstance(answer, str)] == ["KYC_LIMIT_EXCEEDED"] * (ORDERS - FIT)
        # Nothing beyond them was stored or held: each holds 2 000 and its fee reserve, 2.
        assert len((await mesh.order.ListOrders(pb.ListOrdersRequest(), metadata=alice)).orders) == FIT
        assert await mesh.balance("alice", "USDC") == ("149950.000000", "50050.000000")
