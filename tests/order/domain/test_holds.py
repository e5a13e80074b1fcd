"""Hold arithmetic: what an order holds covers what its fills consume, however they are split,
and a fully filled order at its limit consumes its hold exactly."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from services.order.domain.enums import Side
from services.order.domain.holds import fill_consumption, hold_plan
from services.order.domain.market import MarketRules
from services.runtime.fees import fee_units

RATE = Decimal("0.001")
# tick × lot = 0.01 × 0.0001 = 1 USDC unit (6 decimals): every notional is whole.
BTC_USDC = MarketRules("BTC-USDC", "BTC", "USDC", Decimal("0.01"), Decimal("0.0001"), Decimal("0.0001"),
                       Decimal(1000), auction=False, halted=False, reference_price=None,
                       base_decimals=8, quote_decimals=6)
# tick × lot = 0.001 × 0.001 = 0.000001: 1 unit again, on the energy market.
GRID_USDC = MarketRules("GRID-USDC", "GRID", "USDC", Decimal("0.001"), Decimal("0.001"), None, None, auction=True,
                        halted=False, reference_price=None, base_decimals=3, quote_decimals=6)
FINER = MarketRules("OLD-USDC", "BTC", "USDC", Decimal("0.01"), Decimal("0.00001"), None, None, auction=False,
                    halted=False, reference_price=None, base_decimals=8, quote_decimals=6)


def test_a_sell_holds_its_quantity_in_base_units() -> None:
    plan = hold_plan(BTC_USDC, Side.SELL, None, 1_234, RATE)
    assert (plan.asset, plan.units) == ("BTC", 12_340_000)


def test_a_buy_holds_its_notional_and_that_notionals_fee() -> None:
    plan = hold_plan(BTC_USDC, Side.BUY, Decimal("100.00") * Decimal("2.0000"), 20_000, RATE)
    # 200 USDC = 200 000 000 units, fee 0.1 % = 200 000 units.
    assert (plan.asset, plan.units) == ("USDC", 200_000_000 + 200_000)


def test_a_buys_fee_is_rounded_up_to_the_quote_unit() -> None:
    plan = hold_plan(GRID_USDC, Side.BUY, Decimal("0.123") * Decimal("1.001"), 1_001, RATE)
    # 0.123123 USDC = 123 123 units; its fee 123.123 units rounds up to 124.
    assert plan.units == 123_123 + 124


def test_a_market_buy_holds_its_budget_and_the_budgets_fee() -> None:
    assert hold_plan(BTC_USDC, Side.BUY, Decimal(1000), None, RATE).units == 1_000_000_000 + 1_000_000


def test_a_sells_fill_consumes_its_quantity() -> None:
    assert fill_consumption(BTC_USDC, Side.SELL, 10_000 * 3, Decimal("0.0003"), 0, RATE) == 30_000


def test_a_buys_fill_consumes_its_notional_and_what_it_adds_to_the_orders_fee() -> None:
    # 1 000 ticks × 1 lot = 1 000 units (0.001 USDC): alone, fee 1 unit (0.1 rounds up) ...
    assert fill_consumption(BTC_USDC, Side.BUY, 1_000, Decimal("0.0001"), 0, RATE) == 1_001
    # ... after 1 000 units already filled (fee so far 1), 2 000 in all still owe 2: it adds 1.
    assert fill_consumption(BTC_USDC, Side.BUY, 1_000, Decimal("0.0001"), 1_000, RATE) == 1_001
    # ... after 500 units (fee 1), 1 500 owe ceil(1.5) = 2: it adds 1.
    assert fill_consumption(BTC_USDC, Side.BUY, 1_000, Decimal("0.0001"), 500, RATE) == 1_001
    # ... after 1 500 units (fee 2), 2 500 owe ceil(2.5) = 3: it adds 1.
    assert fill_consumption(BTC_USDC, Side.BUY, 1_000, Decimal("0.0001"), 1_500, RATE) == 1_001


def test_a_market_whose_tick_times_lot_is_finer_than_the_quote_unit_is_not_settleable() -> None:
    assert BTC_USDC.settleable and GRID_USDC.settleable
    assert not FINER.settleable


@st.composite
def split_buy(draw: st.DrawFn) -> tuple[int, int, list[tuple[int, int]]]:
    """A limit (ticks), a quantity (lots) and a split of it into fills at prices at or below the limit."""
    limit = draw(st.integers(1, 10**7))
    lots = draw(st.integers(1, 300))
    fills: list[tuple[int, int]] = []
    left = lots
    while left:
        size = draw(st.integers(1, left))
        fills.append((draw(st.integers(1, limit)), size))
        left -= size
    return limit, lots, fills


def _consumed(market: MarketRules, fills: list[tuple[int, int]], rate: Decimal) -> int:
    consumed, filled = 0, 0
    for ticks, size in fills:
        consumed += fill_consumption(market, Side.BUY, ticks * size, market.quantity(size), filled, rate)
        filled += ticks * size
    return consumed


@given(split_buy(), st.sampled_from([BTC_USDC, GRID_USDC]), st.sampled_from([Decimal(0), RATE, Decimal("0.0275")]))
def test_a_buy_hold_covers_every_split_of_its_fills(case: tuple[int, int, list[tuple[int, int]]],
                                                     market: MarketRules, rate: Decimal) -> None:
    limit, lots, fills = case
    plan = hold_plan(market, Side.BUY, market.price(limit) * market.quantity(lots), lots, rate)
    consumed = _consumed(market, fills, rate)
    assert consumed <= plan.units
    # What the fills consume is their notional plus the fee of that notional, however split.
    total = market.notional_units(sum(ticks * size for ticks, size in fills))
    assert consumed == total + fee_units(total, rate)


@given(split_buy(), st.sampled_from([Decimal(0), RATE, Decimal("0.0275")]))
def test_a_buy_filled_at_its_limit_consumes_its_whole_hold(case: tuple[int, int, list[tuple[int, int]]],
                                                          rate: Decimal) -> None:
    limit, lots, fills = case
    at_limit = [(limit, size) for _ticks, size in fills]
    plan = hold_plan(BTC_USDC, Side.BUY, BTC_USDC.price(limit) * BTC_USDC.quantity(lots), lots, rate)
    assert _consumed(BTC_USDC, at_limit, rate) == plan.units
