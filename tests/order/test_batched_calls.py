"""Concurrent placements share KYC.CheckEligibilities, Wallet.PlaceHolds and
Matching.SubmitOrders calls, and each order still ends as its own answer says: one account
short of funds, or without KYC, refuses only its order."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
from clearmesh.order.v1 import order_service_pb2 as pb
from clearmesh.type.v1 import trading_pb2
from prometheus_client import REGISTRY

BUY = trading_pb2.SIDE_BUY
OPEN, REJECTED = trading_pb2.ORDER_STATE_OPEN, trading_pb2.ORDER_STATE_REJECTED


def _served(service: str, method: str) -> float:
    """Calls of `method` the services in this process answered OK so far."""
    return REGISTRY.get_sample_value("grpc_server_handled_total", {
        "grpc_service": service, "grpc_method": method, "grpc_code": "OK"}) or 0.0


async def _orders(mesh: Any, caller: Any) -> list[Any]:
    return list((await mesh.order.ListOrders(pb.ListOrdersRequest(), metadata=caller)).orders)


async def test_concurrent_placements_go_in_batch_calls_each_ending_as_its_own_answer_says(mesh: Any) -> None:
    funded = [await mesh.trader(f"rich-{i}", deposits={"USDC": "1000"}) for i in range(5)]
    poor = await mesh.trader("poor", deposits={"USDC": "10"})
    before = {method: _served(service, method) for service, method in (
        ("clearmesh.wallet.v1.WalletService", "PlaceHold"), ("clearmesh.wallet.v1.WalletService", "PlaceHolds"),
        ("clearmesh.matching.v1.MatchingService", "SubmitOrder"),
        ("clearmesh.matching.v1.MatchingService", "SubmitOrders"))}

    outcomes = await asyncio.gather(*(mesh.place(caller, side=BUY, price="100.00", quantity="0.5")
                                      for caller in [*funded, poor]), return_exceptions=True)

    assert [getattr(order, "state", order) for order in outcomes[:5]] == [OPEN] * 5
    refused = outcomes[5]
    assert isinstance(refused, grpc.aio.AioRpcError) and mesh.reason(refused) == "INSUFFICIENT_FUNDS"
    assert [(o.state, o.reject_reason) for o in await _orders(mesh, poor)] == [(REJECTED, "INSUFFICIENT_FUNDS")]
    assert await mesh.balance("rich-0", "USDC") == ("949.950000", "50.050000")
    assert _served("clearmesh.wallet.v1.WalletService", "PlaceHold") == before["PlaceHold"]
    assert _served("clearmesh.matching.v1.MatchingService", "SubmitOrder") == before["SubmitOrder"]
    assert 1 <= _served("clearmesh.wallet.v1.WalletService", "PlaceHolds") - before["PlaceHolds"] <= 6
    assert 1 <= _served("clearmesh.matching.v1.MatchingService", "SubmitOrders") - before["SubmitOrders"] <= 5


async def test_concurrent_placements_ask_kyc_in_batch_calls_and_a_refusal_refuses_only_its_order(mesh: Any) -> None:
    approved = [await mesh.trader(f"known-{i}", deposits={"USDC": "1000"}) for i in range(5)]
    unknown = await mesh.trader("unknown", tier=0, deposits={"USDC": "1000"})
    kyc = "clearmesh.kyc.v1.KycService"
    before = {method: _served(kyc, method) for method in ("CheckEligibility", "CheckEligibilities")}

    outcomes = await asyncio.gather(*(mesh.place(caller, side=BUY, price="100.00", quantity="0.5")
                                      for caller in [*approved, unknown]), return_exceptions=True)

    assert [getattr(order, "state", order) for order in outcomes[:5]] == [OPEN] * 5
    refused = outcomes[5]
    assert isinstance(refused, grpc.aio.AioRpcError) and refused.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert mesh.reason(refused) == "KYC_REQUIRED"
    assert await _orders(mesh, unknown) == []
    assert await mesh.balance("unknown", "USDC") == ("1000.000000", "0.000000")
    assert _served(kyc, "CheckEligibility") == before["CheckEligibility"]
    assert 1 <= _served(kyc, "CheckEligibilities") - before["CheckEligibilities"] <= 5

