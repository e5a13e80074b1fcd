"""A trade's charges: exact notional, each side's fee rounded up to the quote unit, and
postings that consume exactly what the hold protocol expects from each order's hold."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from services.runtime.errors import InvalidArgument
from services.settlement.domain.charges import Charges, TradeTerms, charges_for, hold_of, trade_postings
from services.wallet.domain import DEFAULT_ASSETS, consumed_by_hold
from services.wallet.domain.postings import net_by_asset

RATE = Decimal("0.001")


def terms(price: str = "100.00", quantity: str = "0.5", *, base: str = "BTC", quote: str = "USDC") -> TradeTerms:
    return TradeTerms(price=price, quantity=quantity, buyer="accounts/alice", seller="accounts/bob",
                      buy_order="orders/b1", sell_order="orders/s1", base_asset=base, quote_asset=quote)


def test_the_notional_is_price_times_quantity_in_quote_units() -> None:
    assert charges_for(terms("100.00", "0.5"), DEFAULT_ASSETS, RATE).notional_units == 50_000_000


def test_an_exact_fee_is_not_rounded() -> None:
    charges = charges_for(terms("100.00", "0.5"), DEFAULT_ASSETS, RATE)

    assert (charges.buyer_fee_units, charges.seller_fee_units) == (50_000, 50_000)


def test_a_fractional_fee_is_rounded_up_to_the_next_quote_unit() -> None:
    # 1.23 × 0.001 = 0.00123 USDC = 1230 units; 0.1 % of that is 1.23 units.
    charges = charges_for(terms("1.23", "0.001"), DEFAULT_ASSETS, RATE)

    assert (charges.notional_units, charges.buyer_fee_units, charges.seller_fee_units) == (1230, 2, 2)


def test_a_zero_rate_charges_no_fee() -> None:
    charges = charges_for(terms(), DEFAULT_ASSETS, Decimal(0))

    assert (charges.buyer_fee_units, charges.seller_fee_units) == (0, 0)


def test_an_asset_the_wallet_does_not_know_cannot_be_charged() -> None:
    with pytest.raises(InvalidArgument) as refused:
        charges_for(terms(base="KWH"), DEFAULT_ASSETS, RATE)

    assert refused.value.reason == "UNKNOWN_ASSET"


def test_a_notional_finer_than_the_quote_unit_cannot_be_charged() -> None:
    with pytest.raises(InvalidArgument) as refused:
        charges_for(terms("0.0000001", "1"), DEFAULT_ASSETS, RATE)

    assert refused.value.reason == "INVALID_TRADE"


def test_an_order_s_hold_is_named_by_the_order_id() -> None:
    assert (hold_of("orders/7f3c"), hold_of("7f3c")) == ("7f3c", "7f3c")


@given(price_ticks=st.integers(1, 10**7), lots=st.integers(1, 10**6),
       rate=st.decimals(min_value=0, max_value=Decimal("0.05"), places=5))
def test_the_holds_give_exactly_what_order_expects_to_consume(price_ticks: int, lots: int, rate: Decimal) -> None:
    # tick 0.01 × lot 0.0001 = one USDC unit: every notional is whole (Matching's market rule).
    trade = terms(str(Decimal(price_ticks).scaleb(-2)), str(Decimal(lots).scaleb(-4)))
    charges = charges_for(trade, DEFAULT_ASSETS, rate)

    postings = trade_postings(trade, charges, DEFAULT_ASSETS)

    # BUY: notional + buyer fee out of the buy hold; SELL: the quantity out of the sell hold.
    assert consumed_by_hold(postings) == {
        "b1": charges.notional_units + charges.buyer_fee_units, "s1": charges.quantity_units}
    assert net_by_asset(postings) == {"USDC": 0, "BTC": 0}
    received = {(p.account, p.asset): p.units for p in postings if p.units > 0}
    assert received.get(("accounts/bob", "USDC"), 0) == charges.notional_units - charges.seller_fee_units
    assert received.get(("system/fees", "USDC"), 0) == charges.buyer_fee_units + charges.seller_fee_units


def test_charges_are_whole_units() -> None:
    # 33.33 × 0.0003 = 0.009999 USDC; 0.1 % of 9999 units is 9.999 → 10.
    assert charges_for(terms("33.33", "0.0003"), DEFAULT_ASSETS, RATE) == Charges(9999, 30000, 10, 10)
