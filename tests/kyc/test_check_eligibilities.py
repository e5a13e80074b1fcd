"""CheckEligibilities: the Order service's concurrent checks in one call, each check answered
(or refused) on its own, exactly as CheckEligibility would have answered it alone."""

from __future__ import annotations

from typing import Any

import grpc
import pytest
from google.rpc import code_pb2, status_pb2

from clearmesh.kyc.v1 import kyc_service_pb2 as pb
from tests.testkit.rpc import status as status_of

Kyc = Any
ORDER = pb.ELIGIBILITY_ACTION_PLACE_ORDER


def check(account: str, amount: str = "1000", used_amount: str = "") -> pb.CheckEligibilityRequest:
    return pb.CheckEligibilityRequest(account=f"accounts/{account}", action=ORDER, asset="USDC", amount=amount,
                                      used_amount=used_amount)


async def check_all(kyc: Kyc, *checks: pb.CheckEligibilityRequest) -> list[pb.CheckEligibilityResult]:
    answer = await kyc.stub.CheckEligibilities(pb.CheckEligibilitiesRequest(checks=checks),
                                               metadata=kyc.bearer(service="order"))
    return list(answer.results)


async def unary_status(kyc: Kyc, request: pb.CheckEligibilityRequest) -> status_pb2.Status:
    """The status CheckEligibility ends with for `request`."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await kyc.stub.CheckEligibility(request, metadata=kyc.bearer(service="order"))
    return status_of(caught.value)


async def test_a_batch_answers_every_check_in_order_as_check_eligibility_would(kyc: Kyc) -> None:
    await kyc.approved("alice", tier=1)
    checks = [check("alice", "1000"), check("bob", "1"), check("alice", "20000"), check("alice", "6000", used_amount="45000")]
    alone = [await kyc.stub.CheckEligibility(one, metadata=kyc.bearer(service="order")) for one in checks]

    results = await check_all(kyc, *checks)

    assert [result.WhichOneof("result") for result in results] == ["eligibility"] * 4
    assert [result.eligibility for result in results] == alone
    assert [(r.eligibility.allowed, r.eligibility.reason) for r in results] == [
        (True, ""), (False, "KYC_REQUIRED"), (False, "KYC_LIMIT_EXCEEDED"), (False, "KYC_LIMIT_EXCEEDED")]


async def test_an_invalid_check_is_refused_alone_with_the_status_check_eligibility_gives(kyc: Kyc) -> None:
    await kyc.approved("alice", tier=1)
    invalid = check("alice", "-5")
    alone = await unary_status(kyc, invalid)

    results = await check_all(kyc, check("alice"), invalid, check("alice", "2000"))

    assert [result.WhichOneof("result") for result in results] == ["eligibility", "error", "eligibility"]
    assert results[1].error == alone
    assert results[1].error.code == code_pb2.INVALID_ARGUMENT
    assert results[2].eligibility.allowed


async def test_an_empty_batch_is_invalid(kyc: Kyc) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await check_all(kyc)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize("caller", ["trader", "wallet"])
async def test_only_the_order_service_may_check_in_batches(kyc: Kyc, caller: str) -> None:
    metadata = kyc.trader("alice") if caller == "trader" else kyc.bearer(service="wallet")
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await kyc.stub.CheckEligibilities(pb.CheckEligibilitiesRequest(checks=[check("alice")]), metadata=metadata)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
