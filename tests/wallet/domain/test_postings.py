"""Legs become balanced postings; trade legs route quote, base and fees."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from services.runtime.errors import InvalidArgument
from services.wallet.domain import (
    DEFAULT_ASSETS,
    Leg,
    Posting,
    SystemAccount,
    WalletReason,
    build_trade_legs,
    check_balanced,
    consumed_by_hold,
    legs_to_postings,
)

GRID, USDC = DEFAULT_ASSETS["GRID"], DEFAULT_ASSETS["USDC"]
ALICE, BOB = "accounts/alice", "accounts/bob"


def test_a_leg_becomes_a_debit_and_an_equal_credit() -> None:
    postings = legs_to_postings([Leg(ALICE, BOB, "USDC", Decimal("1.5"), "order-1")], DEFAULT_ASSETS)
    assert postings == (Posting(ALICE, "USDC", -1_500_000, "order-1"), Posting(BOB, "USDC", 1_500_000))


def test_postings_that_do_not_sum_to_zero_per_asset_are_refused() -> None:
    # Sums to zero overall but not per asset.
    postings = [Posting(ALICE, "USDC", -5), Posting(BOB, "GRID", 5)]
    with pytest.raises(InvalidArgument) as caught:
        check_balanced(postings)
    assert caught.value.reason == WalletReason.UNBALANCED_TRANSFER
    assert caught.value.metadata == {"USDC": "-5", "GRID": "5"}


def test_balanced_postings_pass() -> None:
    check_balanced([Posting(ALICE, "USDC", -5), Posting(BOB, "USDC", 3), Posting(SystemAccount.FEES, "USDC", 2)])


def test_a_transfer_without_legs_is_invalid() -> None:
    with pytest.raises(InvalidArgument) as caught:
        legs_to_postings([], DEFAULT_ASSETS)
    assert caught.value.violations == [("legs", "must not be empty")]


def test_every_bad_leg_field_is_reported_at_once() -> None:
    legs = [
        Leg(ALICE, BOB, "USDC", Decimal("1")),
        Leg("nobody", ALICE, "DOGE", Decimal("1")),
        Leg(ALICE, ALICE, "USDC", Decimal("0.0000001")),
    ]
    with pytest.raises(InvalidArgument) as caught:
        legs_to_postings(legs, DEFAULT_ASSETS)
    fields = [field for field, _ in caught.value.violations]
    assert fields == ["legs[1].from_account", "legs[1].asset", "legs[2].to_account", "legs[2].amount"]


@pytest.mark.parametrize("amount", [Decimal("0"), Decimal("-1")])
def test_legs_move_positive_amounts_only(amount: Decimal) -> None:
    with pytest.raises(InvalidArgument) as caught:
        legs_to_postings([Leg(ALICE, BOB, "USDC", amount)], DEFAULT_ASSETS)
    assert caught.value.violations == [("legs[0].amount", "must be greater than zero")]


def trade(**overrides: object) -> list[Leg]:
    params: dict[str, Any] = dict(
        buyer=ALICE, seller=BOB, base=GRID, quote=USDC, quantity=Decimal("10"),
        quote_amount=Decimal("50"), buyer_fee=Decimal("0.1"), seller_fee=Decimal("0.2"),
        buyer_hold_id="buy-order", seller_hold_id="sell-order",
    )
    params.update(overrides)
    return build_trade_legs(**params)


def test_trade_pays_seller_net_of_fee_and_fees_to_fee_account_from_buyer_hold() -> None:
    assert trade() == [
        Leg(ALICE, BOB, "USDC", Decimal("49.8"), "buy-order"),
        Leg(ALICE, SystemAccount.FEES, "USDC", Decimal("0.3"), "buy-order"),
        Leg(BOB, ALICE, "GRID", Decimal("10"), "sell-order"),
    ]


def test_trade_legs_balance_and_consume_the_holds() -> None:
    postings = legs_to_postings(trade(), DEFAULT_ASSETS)
    check_balanced(postings)
    assert consumed_by_hold(postings) == {"buy-order": 50_100_000, "sell-order": 10_000}


def test_trade_without_fees_has_no_fee_leg() -> None:
    legs = trade(buyer_fee=Decimal("0"), seller_fee=Decimal("0"))
    assert [leg.to_account for leg in legs] == [BOB, ALICE]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"quantity": Decimal("0")}, "quantity"),
        ({"quote_amount": Decimal("-1")}, "quote_amount"),
        ({"buyer_fee": Decimal("-0.1")}, "buyer_fee"),
        ({"seller_fee": Decimal("51")}, "seller_fee"),
    ],
)
def test_trade_amounts_are_validated(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        trade(**overrides)
    assert field in [name for name, _ in caught.value.violations]
