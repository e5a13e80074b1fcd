"""An order checked against its market: every violated rule named at once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.order.domain.enums import OrderType, Side, TimeInForce
from services.order.domain.market import MarketRules
from services.order.domain.validation import OrderDraft, check_order
from services.runtime.errors import FailedPrecondition, InvalidArgument
from services.runtime.validation import Violations

NOW = datetime(2026, 12, 6, tzinfo=UTC)
BTC_USDC = MarketRules("BTC-USDC", "BTC", "USDC", Decimal("0.01"), Decimal("0.00001"), Decimal("0.00001"),
                       Decimal(1000), auction=False, halted=False, reference_price=None,
                       base_decimals=8, quote_decimals=6)
AUCTION = replace(BTC_USDC, market_id="GRID-USDC", auction=True)
LIMIT_BUY = OrderDraft(side=1, order_type=1, time_in_force=0, price=Decimal("100.00"), quantity=Decimal("0.5"),
                       max_notional=None, post_only=False, expire_time=None, client_order_id="")


def _fields(draft: OrderDraft, market: MarketRules = BTC_USDC) -> set[str]:
    with pytest.raises(InvalidArgument) as refused:
        check_order(draft, market, NOW, Violations())
    assert refused.value.reason == "INVALID_ORDER"
    return {field for field, _ in refused.value.violations}


def test_a_limit_order_without_time_in_force_is_good_till_cancelled() -> None:
    spec = check_order(LIMIT_BUY, BTC_USDC, NOW, Violations())
    assert (spec.side, spec.order_type, spec.time_in_force) == (Side.BUY, OrderType.LIMIT, TimeInForce.GTC)


def test_a_market_order_without_time_in_force_is_immediate_or_cancel() -> None:
    draft = replace(LIMIT_BUY, order_type=2, price=None, quantity=None, max_notional=Decimal(50))
    assert check_order(draft, BTC_USDC, NOW, Violations()).time_in_force is TimeInForce.IOC


def test_price_and_quantity_off_the_ticks_and_lots_are_named_together() -> None:
    assert _fields(replace(LIMIT_BUY, price=Decimal("100.001"), quantity=Decimal("0.000015"))) == {
        "order.price", "order.quantity"}


def test_a_limit_order_needs_a_price_and_a_market_order_takes_none() -> None:
    assert _fields(replace(LIMIT_BUY, price=None)) == {"order.price"}
    assert _fields(replace(LIMIT_BUY, order_type=2, side=2)) == {"order.price"}


def test_a_market_buy_needs_a_budget_and_a_market_sell_a_quantity() -> None:
    assert _fields(replace(LIMIT_BUY, order_type=2, price=None)) == {"order.max_notional"}
    assert _fields(replace(LIMIT_BUY, order_type=2, side=2, price=None, quantity=None)) == {"order.quantity"}


def test_only_a_market_buy_carries_a_budget() -> None:
    assert _fields(replace(LIMIT_BUY, max_notional=Decimal(10))) == {"order.max_notional"}


def test_post_only_is_for_limit_orders_that_may_rest() -> None:
    assert _fields(replace(LIMIT_BUY, post_only=True, time_in_force=2)) == {"order.post_only"}
    assert _fields(replace(LIMIT_BUY, order_type=2, price=None, max_notional=Decimal(5), post_only=True)) == {
        "order.post_only"}


def test_gtt_needs_a_future_expire_time_and_nothing_else_carries_one() -> None:
    assert _fields(replace(LIMIT_BUY, time_in_force=4)) == {"order.expire_time"}
    assert _fields(replace(LIMIT_BUY, time_in_force=4, expire_time=NOW)) == {"order.expire_time"}
    assert _fields(replace(LIMIT_BUY, expire_time=NOW + timedelta(hours=1))) == {"order.expire_time"}
    assert check_order(replace(LIMIT_BUY, time_in_force=4, expire_time=NOW + timedelta(hours=1)),
                       BTC_USDC, NOW, Violations()).time_in_force is TimeInForce.GTT


def test_quantity_limits_of_the_market_apply() -> None:
    assert _fields(replace(LIMIT_BUY, quantity=Decimal("1000.00001"))) == {"order.quantity"}


def test_an_auction_market_takes_resting_limit_orders_only() -> None:
    assert _fields(replace(LIMIT_BUY, time_in_force=2), AUCTION) == {"order.time_in_force"}
    assert _fields(replace(LIMIT_BUY, post_only=True), AUCTION) == {"order.post_only"}


def test_side_and_type_are_required() -> None:
    assert _fields(replace(LIMIT_BUY, side=0, order_type=0)) >= {"order.side", "order.type"}


def test_a_halted_market_takes_no_orders() -> None:
    with pytest.raises(FailedPrecondition) as refused:
        check_order(LIMIT_BUY, replace(BTC_USDC, halted=True), NOW, Violations())
    assert refused.value.reason == "MARKET_HALTED"


def test_a_price_too_large_for_the_engine_is_invalid_not_an_internal_error() -> None:
    huge = Decimal("489457123092403025620053072282003753540813204312.05")
    assert _fields(replace(LIMIT_BUY, price=huge)) == {"order.price"}
