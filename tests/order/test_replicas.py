"""Order's replicas (each its own process in the mesh; here two Order services on one
PostgreSQL database) place one account's orders at the same time, and the account's daily
limit still holds: each placement asks KYC with the usage it read, and its commit checks that
no other replica stored more since than KYC's answer left room for (`store.placed_since`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from prometheus_client import REGISTRY
from clearmesh.order.v1 import order_pb2
from clearmesh.order.v1 import order_service_pb2 as pb
from clearmesh.type.v1 import trading_pb2

from services.order import store
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


def _refuse_checks(monkeypatch: pytest.MonkeyPatch, times: int) -> list[int]:
    """The commit's check refuses the first `times` new orders as if another replica had placed
    meanwhile, then checks for real; the list counts the checks made."""
    checks: list[int] = []
    real = store.placed_since

    async def refusing(session: Any, expected: list[Any]) -> None:
        checks.append(len(expected))
        if len(checks) <= times:
            raise store.PlacedMeanwhile(expected[0].account)
        await real(session, expected)

    monkeypatch.setattr(store, "placed_since", refusing)
    return checks


async def test_a_placement_whose_commit_finds_another_replicas_orders_asks_again_and_is_placed_once(
        mesh: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    alice = await mesh.trader("alice", tier=1, deposits={"USDC": "10000"})
    checks = _refuse_checks(monkeypatch, times=2)
    conflicts = REGISTRY.get_sample_value("order_placement_conflicts_total") or 0

    placed = await mesh.place(alice, side=BUY, price="2000.00", quantity="1")

    assert len(checks) == 3
    assert REGISTRY.get_sample_value("order_placement_conflicts_total") == conflicts + 2
    assert placed.state == trading_pb2.ORDER_STATE_OPEN
    assert [order.name for order in (await mesh.order.ListOrders(pb.ListOrdersRequest(), metadata=alice)).orders] == [
        placed.name]
    assert await mesh.balance("alice", "USDC") == ("7998.000000", "2002.000000")


async def test_a_placement_refused_at_every_attempt_is_aborted_and_leaves_nothing(
        mesh: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    alice = await mesh.trader("alice", tier=1, deposits={"USDC": "10000"})
    _refuse_checks(monkeypatch, times=3)

    with pytest.raises(grpc.aio.AioRpcError) as aborted:
        await mesh.place(alice, side=BUY, price="2000.00", quantity="1", request_id="once")

    assert aborted.value.code() == grpc.StatusCode.ABORTED
    assert mesh.reason(aborted.value) == "CONCURRENT_PLACEMENTS"
    assert not (await mesh.order.ListOrders(pb.ListOrdersRequest(), metadata=alice)).orders
    assert await mesh.balance("alice", "USDC") == ("10000.000000", "0.000000")
    # Retried with the same request_id once the replicas are quiet, it is placed.
    monkeypatch.undo()
    placed = await mesh.place(alice, side=BUY, price="2000.00", quantity="1", request_id="once")
    assert placed.state == trading_pb2.ORDER_STATE_OPEN
