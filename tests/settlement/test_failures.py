"""Failed postings: retried with backoff, then FAILED; one bad trade never blocks the others;
an operator's RetrySettlement puts a FAILED one back to PENDING."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from tests.testkit.net import free_port

from clearmesh.settlement.v1 import settlement_pb2, settlement_service_pb2 as pb

ANCHORED = settlement_pb2.SETTLEMENT_STATE_ANCHORED
FAILED = settlement_pb2.SETTLEMENT_STATE_FAILED


async def test_a_trade_without_its_hold_fails_after_every_attempt(settled: Any) -> None:
    [trade] = await settled.trade("alice", "bob", "100.00", "0.1", seller_hold=False)

    failed = await settled.reaches(trade, FAILED)

    assert failed.attempts == 3  # SETTLEMENT_RETRY_ATTEMPTS in these tests
    assert failed.failure_reason.startswith("HOLD_NOT_FOUND")
    assert await settled.balances("system/fees") == {}


async def test_one_bad_trade_does_not_block_the_others(settled: Any) -> None:
    [good] = await settled.trade("alice", "bob", "100.00", "0.1")
    [bad] = await settled.trade("alice", "bob", "100.00", "0.1", seller_hold=False)
    [also_good] = await settled.trade("alice", "bob", "100.00", "0.1")

    assert (await settled.reaches(good, ANCHORED)).attempts == 0
    assert (await settled.reaches(also_good, ANCHORED)).attempts == 0
    await settled.reaches(bad, FAILED)


async def test_a_retried_settlement_posts_once_its_cause_is_fixed(settled: Any) -> None:
    [trade] = await settled.trade("alice", "bob", "100.00", "0.1", seller_hold=False)
    await settled.reaches(trade, FAILED)
    _, sell_order = settled.orders[trade]
    await settled.hold(sell_order, "bob", "BTC", "0.1")  # the hold Order would have placed

    retried = await settled.stub.RetrySettlement(pb.RetrySettlementRequest(
        name=settled.name_of(trade), request_id="retry-1"), metadata=settled.operator)

    assert (retried.state, retried.attempts, retried.failure_reason) == (settlement_pb2.SETTLEMENT_STATE_PENDING, 0, "")
    await settled.reaches(trade, ANCHORED)
    assert await settled.balances("system/fees") == {"USDC": "0.020000"}


async def test_only_a_failed_settlement_can_be_retried(settled: Any) -> None:
    [trade] = await settled.trade("alice", "bob", "100.00", "0.1")
    await settled.reaches(trade, ANCHORED)

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await settled.stub.RetrySettlement(pb.RetrySettlementRequest(name=settled.name_of(trade)),
                                           metadata=settled.operator)

    assert refused.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert settled.reason(refused.value) == "SETTLEMENT_NOT_FAILED"


async def test_a_trader_may_not_retry(settled: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await settled.stub.RetrySettlement(pb.RetrySettlementRequest(name="settlements/BTC-USDC-1"),
                                           metadata=settled.trader("alice"))
    assert refused.value.code() is grpc.StatusCode.PERMISSION_DENIED


async def test_a_wallet_that_is_down_counts_attempts_then_fails_them(mesh: Any) -> None:
    await mesh.fund("alice", "1000", "USDC")
    await mesh.fund("bob", "1", "BTC")
    mesh.settings = mesh.settings.model_copy(update={"wallet_addr": f"127.0.0.1:{free_port()}"})
    async with mesh.running_settlement():
        [trade] = await mesh.trade("alice", "bob", "100.00", "0.1")
        failed = await mesh.reaches(trade, FAILED)

    assert failed.attempts == 3
    assert failed.failure_reason.startswith("WALLET_UNAVAILABLE")
