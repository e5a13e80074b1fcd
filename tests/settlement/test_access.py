"""Who sees what: parties see their own settlements, operators all, others nothing."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from clearmesh.settlement.v1 import settlement_pb2, settlement_service_pb2 as pb

ANCHORED = settlement_pb2.SETTLEMENT_STATE_ANCHORED


@pytest.fixture
async def two_trades(settled: Any) -> tuple[str, str]:
    """alice buys from bob, then bob buys from alice."""
    await settled.fund("alice", "1", "BTC")
    await settled.fund("bob", "1000", "USDC")
    [first] = await settled.trade("alice", "bob", "100.00", "0.1")
    [second] = await settled.trade("bob", "alice", "100.00", "0.2")
    for trade in (first, second):
        await settled.reaches(trade, ANCHORED)
    return first, second


async def listed(mesh: Any, metadata: Any, **filters: Any) -> list[str]:
    answer = await mesh.stub.ListSettlements(pb.ListSettlementsRequest(**filters), metadata=metadata)
    return [settlement.trade for settlement in answer.settlements]


async def test_a_party_lists_the_settlements_of_its_trades(settled: Any, two_trades: tuple[str, str]) -> None:
    assert await listed(settled, settled.trader("alice")) == list(two_trades)
    assert await listed(settled, settled.trader("bob")) == list(two_trades)


async def test_a_third_trader_sees_nothing(settled: Any, two_trades: tuple[str, str]) -> None:
    assert await listed(settled, settled.trader("carol")) == []
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await settled.stub.GetSettlement(pb.GetSettlementRequest(name=settled.name_of(two_trades[0])),
                                         metadata=settled.trader("carol"))
    assert denied.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert settled.reason(denied.value) == "NOT_SETTLEMENT_PARTY"


async def test_a_trader_cannot_tell_a_missing_settlement_from_another_s(settled: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await settled.stub.GetSettlement(pb.GetSettlementRequest(name="settlements/BTC-USDC-999"),
                                         metadata=settled.trader("carol"))
    assert denied.value.code() is grpc.StatusCode.PERMISSION_DENIED


async def test_an_operator_gets_not_found_for_a_missing_settlement(settled: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await settled.stub.GetSettlement(pb.GetSettlementRequest(name="settlements/BTC-USDC-999"),
                                         metadata=settled.operator)
    assert missing.value.code() is grpc.StatusCode.NOT_FOUND
    assert settled.reason(missing.value) == "SETTLEMENT_NOT_FOUND"


async def test_an_operator_pages_through_every_settlement(settled: Any, two_trades: tuple[str, str]) -> None:
    first = await settled.stub.ListSettlements(pb.ListSettlementsRequest(page_size=1), metadata=settled.operator)
    second = await settled.stub.ListSettlements(pb.ListSettlementsRequest(
        page_size=1, page_token=first.next_page_token), metadata=settled.operator)

    assert [s.trade for s in [*first.settlements, *second.settlements]] == list(two_trades)
    assert second.next_page_token == ""


async def test_the_list_filters_by_state(settled: Any, two_trades: tuple[str, str]) -> None:
    assert await listed(settled, settled.operator, state=ANCHORED) == list(two_trades)
    assert await listed(settled, settled.operator, state=settlement_pb2.SETTLEMENT_STATE_FAILED) == []


async def test_a_page_token_is_bound_to_its_filter(settled: Any, two_trades: tuple[str, str]) -> None:
    first = await settled.stub.ListSettlements(pb.ListSettlementsRequest(page_size=1), metadata=settled.operator)

    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await settled.stub.ListSettlements(pb.ListSettlementsRequest(
            page_size=1, page_token=first.next_page_token, state=ANCHORED), metadata=settled.operator)
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert settled.reason(refused.value) == "INVALID_PAGE_TOKEN"


async def test_a_malformed_name_names_the_field(settled: Any) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await settled.stub.GetSettlement(pb.GetSettlementRequest(name="trades/1"), metadata=settled.operator)
    assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert settled.fields(refused.value) == {"name"}
