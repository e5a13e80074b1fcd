"""CheckEligibility: each tier and action, the limits from configuration, who may ask, bad input.

A denial is an OK answer (allowed=false, a reason, what remains); callers turn it into
FAILED_PRECONDITION. Default tiers (services/kyc/domain/tiers.py): tier 1 orders up to 10,000
USDC each and 50,000 a day, withdrawals of up to 0.5 BTC a day; tier 2 up to 250,000 per order
and 10 BTC a day.
"""

from __future__ import annotations

import json
from typing import Any

import grpc
import pytest

from clearmesh.kyc.v1 import kyc_service_pb2 as pb
from services.runtime.errors import InvalidArgument

Kyc = Any
ORDER, WITHDRAW = pb.ELIGIBILITY_ACTION_PLACE_ORDER, pb.ELIGIBILITY_ACTION_WITHDRAW


def _answer(check: pb.CheckEligibilityResponse) -> tuple[bool, int, str, str]:
    return check.allowed, check.tier, check.reason, check.remaining


@pytest.mark.parametrize(("action", "asset"), [(ORDER, "USDC"), (WITHDRAW, "BTC")])
async def test_an_account_without_an_applicant_needs_kyc(kyc: Kyc, action: int, asset: str) -> None:
    assert _answer(await kyc.check("alice", action, "1", asset)) == (False, 0, "KYC_REQUIRED", "0")


async def test_an_applicant_in_review_still_needs_kyc(kyc: Kyc) -> None:
    applicant = await kyc.create("alice")
    await kyc.submit(applicant, "alice")
    assert _answer(await kyc.check("alice", ORDER, "1")) == (False, 0, "KYC_REQUIRED", "0")


async def test_a_revoked_approval_falls_back_to_tier_0_which_may_not_withdraw(kyc: Kyc) -> None:
    approved = await kyc.approved("alice", tier=2)
    await kyc.review(approved.name, pb.REVIEW_DECISION_REJECT, reason="revoked")
    assert _answer(await kyc.check("alice", WITHDRAW, "0.1", "BTC")) == (False, 0, "KYC_REQUIRED", "0")


@pytest.mark.parametrize(("tier", "action", "asset", "amount", "used", "answer"), [
    (1, ORDER, "USDC", "1000", "", (True, 1, "", "9000")),
    (1, ORDER, "USDC", "20000", "", (False, 1, "KYC_LIMIT_EXCEEDED", "10000")),
    (1, ORDER, "USDC", "6000", "45000", (False, 1, "KYC_LIMIT_EXCEEDED", "5000")),
    (2, ORDER, "USDC", "20000", "", (True, 2, "", "230000")),
    (1, WITHDRAW, "BTC", "0.4", "", (True, 1, "", "0.1")),
    (1, WITHDRAW, "BTC", "0.2", "0.4", (False, 1, "KYC_LIMIT_EXCEEDED", "0.1")),
    (2, WITHDRAW, "BTC", "5", "", (True, 2, "", "5")),
    (1, WITHDRAW, "DOGE", "1", "", (False, 1, "KYC_TIER_TOO_LOW", "0")),
])
async def test_each_tier_and_action_is_answered_with_what_remains(kyc_on_each_database: Kyc, tier: int, action: int,
                                                                  asset: str, amount: str, used: str,
                                                                  answer: tuple[bool, int, str, str]) -> None:
    kyc = kyc_on_each_database
    await kyc.approved("alice", tier=tier)
    assert _answer(await kyc.check("alice", action, amount, asset, used=used)) == answer


TIERS = {
    "notional_asset": "USDC",
    "tiers": {
        "0": {"may_trade": False, "max_order_notional": "0", "daily_traded_notional": "0"},
        "1": {"may_trade": False, "max_order_notional": "0", "daily_traded_notional": "0",
              "daily_withdrawal": {"*": "3"}},
        "2": {"may_trade": True, "max_order_notional": None, "daily_traded_notional": "100"},
    },
}


async def test_the_limits_come_from_configuration(kyc_service: Any, settings: Any) -> None:
    async with kyc_service(settings.model_copy(update={"kyc_tiers": json.dumps(TIERS)})) as kyc:
        await kyc.approved("alice", tier=1)
        assert _answer(await kyc.check("alice", ORDER, "1")) == (False, 1, "KYC_TIER_TOO_LOW", "0")
        assert _answer(await kyc.check("alice", WITHDRAW, "2", "ANY")) == (True, 1, "", "1")
        await kyc.approved("bob", tier=2)
        assert _answer(await kyc.check("bob", ORDER, "99", used="1")) == (True, 2, "", "0")


async def test_a_tier_table_that_opens_tier_0_is_refused_at_start(kyc_service: Any, settings: Any) -> None:
    open_tier_0 = json.loads(json.dumps(TIERS))
    open_tier_0["tiers"]["0"]["may_trade"] = True
    with pytest.raises(InvalidArgument) as raised:
        async with kyc_service(settings.model_copy(update={"kyc_tiers": json.dumps(open_tier_0)})):
            pass
    assert raised.value.reason == "INVALID_KYC_CONFIG"


async def test_an_owner_may_check_their_own_account(kyc: Kyc) -> None:
    await kyc.approved("alice")
    assert (await kyc.check("alice", ORDER, "1", metadata=kyc.trader("alice"))).allowed


async def test_an_owner_may_not_check_another_account(kyc: Kyc) -> None:
    refusal = await kyc.refused(kyc.check("bob", ORDER, "1", metadata=kyc.trader("alice")))
    assert (refusal.code, refusal.reason) == (grpc.StatusCode.PERMISSION_DENIED, "ACCOUNT_NOT_OWNED")


@pytest.mark.parametrize(("service", "code"), [
    ("order", grpc.StatusCode.OK), ("wallet", grpc.StatusCode.OK), ("settlement", grpc.StatusCode.PERMISSION_DENIED)])
async def test_order_and_wallet_may_check_any_account(kyc: Kyc, service: str, code: grpc.StatusCode) -> None:
    await kyc.approved("alice")
    try:
        await kyc.check("alice", ORDER, "1", metadata=kyc.bearer(service=service))
        answered = grpc.StatusCode.OK
    except grpc.aio.AioRpcError as error:
        answered = error.code()
    assert answered == code


@pytest.mark.parametrize(("request_fields", "field"), [
    ({"amount": ""}, "amount"),
    ({"amount": "abc"}, "amount"),
    ({"amount": "1e5"}, "amount"),
    ({"amount": "0"}, "amount"),
    ({"amount": "-3"}, "amount"),
    ({"used_amount": "-1"}, "used_amount"),
    ({"used_amount": "lots"}, "used_amount"),
    ({"account": "alice"}, "account"),
    ({"action": pb.ELIGIBILITY_ACTION_UNSPECIFIED}, "action"),
    ({"action": 42}, "action"),
    ({"asset": ""}, "asset"),
    ({"asset": "BTC"}, "asset"),  # order notionals are in the tier table's USDC
])
async def test_invalid_eligibility_input_is_an_invalid_argument(kyc: Kyc, request_fields: dict[str, Any],
                                                                field: str) -> None:
    fields = {"account": "accounts/alice", "action": ORDER, "asset": "USDC", "amount": "1", **request_fields}
    refusal = await kyc.refused(kyc.stub.CheckEligibility(pb.CheckEligibilityRequest(**fields),
                                                          metadata=kyc.bearer(service="order")))
    assert (refusal.code, refusal.reason, refusal.fields) == (
        grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ELIGIBILITY_REQUEST", [field])
