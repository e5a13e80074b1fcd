"""Tier limits configuration: defaults and the parser."""

from decimal import Decimal

import pytest

from services.kyc.domain import DEFAULT_TIER_TABLE, Tier, TierTable
from services.runtime.errors import InvalidArgument

CLOSED_TIER = {"may_trade": False, "max_order_notional": "0", "daily_traded_notional": "0"}
OPEN_TIER = {"may_trade": True, "max_order_notional": "100", "daily_traded_notional": None, "daily_withdrawal": {"BTC": "1"}}


def table(**tiers) -> dict:
    return {"tiers": {"0": CLOSED_TIER, "1": OPEN_TIER, "2": OPEN_TIER, **tiers}}


def test_default_tier_zero_may_neither_trade_nor_withdraw():
    limits = DEFAULT_TIER_TABLE.limits_for(Tier.TIER_0)
    assert (limits.may_trade, limits.may_withdraw_anything) == (False, False)


def test_default_limits_grow_with_the_tier():
    one, two = DEFAULT_TIER_TABLE.limits_for(Tier.TIER_1), DEFAULT_TIER_TABLE.limits_for(Tier.TIER_2)
    assert one.max_order_notional < two.max_order_notional
    assert one.daily_traded_notional < two.daily_traded_notional
    assert all(one.withdrawal_limit(asset) < two.withdrawal_limit(asset) for asset in one.daily_withdrawal)


def test_a_json_string_parses_into_decimal_limits():
    parsed = TierTable.parse('{"tiers": {"0": {"may_trade": false, "max_order_notional": "0", "daily_traded_notional": "0"},'
                             ' "1": {"may_trade": true, "max_order_notional": "0.1", "daily_traded_notional": "7"},'
                             ' "2": {"may_trade": true, "max_order_notional": null, "daily_traded_notional": null}}}')
    assert parsed.limits_for(Tier.TIER_1).max_order_notional == Decimal("0.1")


def test_null_means_no_limit():
    assert TierTable.parse(table()).limits_for(Tier.TIER_1).daily_traded_notional is None


def test_the_wildcard_asset_is_the_fallback_withdrawal_limit():
    limits = TierTable.parse(table(**{"1": {**OPEN_TIER, "daily_withdrawal": {"*": "3", "BTC": "1"}}})).limits_for(Tier.TIER_1)
    assert (limits.withdrawal_limit("BTC"), limits.withdrawal_limit("DOGE")) == (Decimal("1"), Decimal("3"))


def test_an_unlisted_asset_cannot_be_withdrawn_without_a_wildcard():
    assert TierTable.parse(table()).limits_for(Tier.TIER_1).withdrawal_limit("DOGE") == 0


@pytest.mark.parametrize(
    "bad",
    [
        table(**{"0": {**CLOSED_TIER, "may_trade": True}}),
        table(**{"0": {**CLOSED_TIER, "daily_withdrawal": {"BTC": "1"}}}),
        table(**{"1": {**OPEN_TIER, "max_order_notional": "-1"}}),
        table(**{"1": {**OPEN_TIER, "daily_withdrawal": {"BTC": "-1"}}}),
        table(**{"1": {**OPEN_TIER, "surprise": 1}}),
        {"tiers": {"0": CLOSED_TIER, "1": OPEN_TIER}},
        "{not json",
    ],
    ids=["tier0-trades", "tier0-withdraws", "negative-order", "negative-withdrawal", "unknown-key", "missing-tier", "bad-json"],
)
def test_an_invalid_configuration_is_refused(bad):
    with pytest.raises(InvalidArgument) as raised:
        TierTable.parse(bad)
    assert raised.value.reason == "INVALID_KYC_CONFIG" and raised.value.violations
