"""CheckEligibility: who may place an order or withdraw, and how much is left."""

from decimal import Decimal

import pytest

from services.kyc.domain import DEFAULT_TIER_TABLE, EligibilityAction, Tier, TierTable, check_eligibility
from services.runtime.errors import InvalidArgument

TIERS = TierTable.parse(
    {
        "notional_asset": "USD",
        "tiers": {
            "0": {"may_trade": False, "max_order_notional": "0", "daily_traded_notional": "0"},
            "1": {"may_trade": True, "max_order_notional": "1000", "daily_traded_notional": "5000", "daily_withdrawal": {"BTC": "1"}},
            "2": {"may_trade": True, "max_order_notional": None, "daily_traded_notional": None, "daily_withdrawal": {"BTC": None}},
        },
    }
)


def order(applicant, amount="100", used="0", asset="USD", tiers=TIERS):
    return check_eligibility(applicant, action=EligibilityAction.PLACE_ORDER, asset=asset, amount=Decimal(amount), used_24h=Decimal(used), tiers=tiers)


def withdraw(applicant, amount="0.1", used="0", asset="BTC", tiers=TIERS):
    return check_eligibility(applicant, action=EligibilityAction.WITHDRAW, asset=asset, amount=Decimal(amount), used_24h=Decimal(used), tiers=tiers)


def test_an_account_without_an_applicant_needs_kyc(journey):
    assert (order(None).allowed, order(None).reason) == (False, "KYC_REQUIRED")


@pytest.mark.parametrize("stage", ["create", "in_review"])
def test_an_applicant_not_yet_approved_needs_kyc(journey, stage):
    decision = withdraw(getattr(journey, stage)())
    assert (decision.allowed, decision.reason) == (False, "KYC_REQUIRED")


def test_an_approved_tier_one_applicant_may_trade_within_limits(journey):
    decision = order(journey.approved(Tier.TIER_1), amount="1000", used="100")
    assert (decision.allowed, decision.reason, decision.remaining) == (True, None, Decimal("1000"))


def test_an_order_above_the_per_order_limit_is_over_the_limit(journey):
    decision = order(journey.approved(Tier.TIER_1), amount="1000.01")
    assert (decision.allowed, decision.reason, decision.remaining) == (False, "KYC_LIMIT_EXCEEDED", Decimal("1000"))


def test_an_order_beyond_the_rolling_daily_limit_is_over_the_limit(journey):
    decision = order(journey.approved(Tier.TIER_1), amount="300", used="4800")
    assert (decision.allowed, decision.reason, decision.remaining) == (False, "KYC_LIMIT_EXCEEDED", Decimal("200"))


def test_remaining_never_goes_below_zero(journey):
    assert order(journey.approved(Tier.TIER_1), used="9999").remaining == 0


def test_a_withdrawal_within_the_daily_limit_is_allowed(journey):
    decision = withdraw(journey.approved(Tier.TIER_1), amount="0.4", used="0.6")
    assert (decision.allowed, decision.remaining) == (True, Decimal("0.4"))


def test_a_withdrawal_beyond_the_daily_limit_is_over_the_limit(journey):
    decision = withdraw(journey.approved(Tier.TIER_1), amount="0.5", used="0.6")
    assert (decision.allowed, decision.reason, decision.remaining) == (False, "KYC_LIMIT_EXCEEDED", Decimal("0.4"))


def test_an_asset_the_tier_cannot_withdraw_is_a_tier_too_low(journey):
    decision = withdraw(journey.approved(Tier.TIER_1), asset="ETH")
    assert (decision.allowed, decision.reason) == (False, "KYC_TIER_TOO_LOW")


def test_a_tier_that_may_not_trade_is_a_tier_too_low(journey):
    no_trading = TierTable.parse(
        {"notional_asset": "USD", "tiers": {**{str(t.value): TIERS.limits_for(t).model_dump() for t in Tier}, "1": {"may_trade": False, "max_order_notional": "0", "daily_traded_notional": "0", "daily_withdrawal": {"BTC": "1"}}}}
    )
    decision = order(journey.approved(Tier.TIER_1), tiers=no_trading)
    assert (decision.allowed, decision.reason) == (False, "KYC_TIER_TOO_LOW")


def test_unlimited_tiers_report_no_remaining_limit(journey):
    decision = order(journey.approved(Tier.TIER_2), amount="1000000000")
    assert (decision.allowed, decision.remaining) == (True, None)


def test_the_decision_reports_the_applicants_tier(journey):
    assert order(journey.approved(Tier.TIER_2)).tier is Tier.TIER_2


def test_the_default_tiers_let_tier_one_trade_a_small_order(journey):
    assert order(journey.approved(Tier.TIER_1), asset="USDC", tiers=DEFAULT_TIER_TABLE).allowed


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"action": EligibilityAction.UNSPECIFIED}, "action"),
        ({"action": "TRANSFER"}, "action"),
        ({"asset": ""}, "asset"),
        ({"asset": "EUR"}, "asset"),
        ({"amount": Decimal("0")}, "amount"),
        ({"amount": Decimal("NaN")}, "amount"),
        ({"used_24h": Decimal("-1")}, "used_24h"),
    ],
)
def test_an_invalid_eligibility_request_names_the_field(journey, kwargs, field):
    request = {"action": EligibilityAction.PLACE_ORDER, "asset": "USD", "amount": Decimal("1"), "used_24h": Decimal("0"), **kwargs}
    with pytest.raises(InvalidArgument) as raised:
        check_eligibility(journey.approved(), tiers=TIERS, **request)
    assert [f for f, _ in raised.value.violations] == [field]
