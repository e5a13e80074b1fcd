"""Hold arithmetic: what an order holds always covers what its fills consume, however split."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from services.order.domain.enums import OrderType, Side, TimeInForce
from services.order.domain.holds import fill_consumption, hold_plan, max_fills
from services.order.domain.market import MarketRules

RATE = Decimal("0.001")
BTC_USDC = MarketRules("BTC-USDC", "BTC", "USDC", Decimal("0.01"), Decimal("0.00001"), Decimal("0.00001"),
                       Decimal(1000), auction=False, halted=False, reference_price=None,
                       base_decimals=8, quote_decimals=6)
WHOLE = MarketRules("ETH-USDC", "ETH", "USDC", Decimal("0.01"), Decimal("0.01"), None, None, auction=False,
                    halted=False, reference_price=None, base_decimals=8, quote_decimals=4)


def test_a_sell_holds_its_quantity_in_base_units() -> None:
    plan = hold_plan(BTC_USDC, Side.SELL, None, 12_345, 12_345, RATE)
    assert (plan.asset, plan.units) == ("BTC", 12_345_000)


def test_a_buy_on_a_market_with_whole_notionals_holds_notional_plus_fee_reserve() -> None:
    plan = hold_plan(WHOLE, Side.BUY, Decimal("100.00") * Decimal("2.00"), 200, 200, RATE)
    # 200 USDC = 2 000 000 units, fee 2 000, + 199 for the per-fill rounding of fees.
    assert (plan.asset, plan.units) == ("USDC", 2_000_000 + 2_000 + 199)


def test_a_market_buy_holds_its_budget_and_a_fee_reserve_bounded_by_the_book() -> None:
    fills = max_fills(BTC_USDC, OrderType.MARKET, TimeInForce.IOC, None, Decimal(1000), max_book_orders=100)
    assert fills == 100
    plan = hold_plan(BTC_USDC, Side.BUY, Decimal(1000), None, fills, RATE)
    # 1000 USDC + 99 units of notional rounding, then the fee on that (1 000 001) + 99 of fee rounding.
    assert plan.units == 1_000_000_099 + 1_000_001 + 99


def test_a_resting_limit_order_can_fill_once_per_lot() -> None:
    assert max_fills(BTC_USDC, OrderType.LIMIT, TimeInForce.GTC, 500, None, max_book_orders=100) == 500
    assert max_fills(BTC_USDC, OrderType.LIMIT, TimeInForce.IOC, 500, None, max_book_orders=100) == 100


def test_a_sells_fill_consumes_its_quantity_and_a_buys_its_notional_and_fee_rounded_up() -> None:
    assert fill_consumption(BTC_USDC, Side.SELL, Decimal("100.00"), Decimal("0.00001"), RATE) == 1_000
    # 0.001 USDC of notional (1 000 units) + fee 1 unit; 0.00001 × 0.01 rounds up to 1 unit.
    assert fill_consumption(BTC_USDC, Side.BUY, Decimal("100.00"), Decimal("0.00001"), RATE) == 1_001
    assert fill_consumption(BTC_USDC, Side.BUY, Decimal("0.01"), Decimal("0.00001"), RATE) == 2


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


@given(split_buy(), st.sampled_from([BTC_USDC, WHOLE]), st.sampled_from([Decimal(0), RATE, Decimal("0.0275")]))
def test_a_buy_hold_covers_every_split_of_its_fills(case: tuple[int, int, list[tuple[int, int]]],
                                                     market: MarketRules, rate: Decimal) -> None:
    limit, lots, fills = case
    plan = hold_plan(market, Side.BUY, market.price(limit) * market.quantity(lots), lots, lots, rate)
    consumed = sum(fill_consumption(market, Side.BUY, market.price(ticks), market.quantity(size), rate)
                   for ticks, size in fills)
    assert consumed <= plan.units


@given(st.integers(1, 10**6), st.integers(1, 1000))
def test_a_market_buy_hold_covers_its_budget_spent_in_any_number_of_fills(budget_units: int, fills: int) -> None:
    budget = Decimal(budget_units).scaleb(-2)
    bound = max_fills(BTC_USDC, OrderType.MARKET, TimeInForce.IOC, None, budget, max_book_orders=fills)
    plan = hold_plan(BTC_USDC, Side.BUY, budget, None, bound, RATE)
    # The worst split: `bound` fills of equal notional adding up to the budget.
    share = budget / bound
    consumed = bound * fill_consumption(BTC_USDC, Side.BUY, share, Decimal(1), RATE)
    assert consumed <= plan.units


def test_a_buy_hold_covers_fills_of_one_lot_each_at_the_limit_with_every_notional_rounded_up() -> None:
    # 100.01 × 0.00001 = 1000.1 USDC units: each of 100 one-lot fills costs 1001 + a 2-unit fee.
    plan = hold_plan(BTC_USDC, Side.BUY, Decimal("100.01") * Decimal("0.001"), 100, 100, RATE)
    consumed = 100 * fill_consumption(BTC_USDC, Side.BUY, Decimal("100.01"), Decimal("0.00001"), RATE)
    assert consumed == 100_300
    assert plan.units >= consumed
