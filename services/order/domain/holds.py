"""What an order holds in the Wallet, and what each of its fills will consume of that hold.

The protocol shared with Settlement (services/order/README.md):
- a BUY holds its notional (limit × quantity, or max_notional for a market buy) plus the most
  its fees can come to, in the quote asset; a SELL holds its quantity in the base asset;
- each fill consumes, for the buyer, `notional_units(price × quantity) + fee_units(that)` and,
  for the seller, the quantity in base units;
- when the order is final, Order releases `held − Σ consumption` once, so what stays held is
  exactly what the unsettled fills still need.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from services.order.domain.enums import OrderType, Side, TimeInForce
from services.order.domain.market import MarketRules
from services.runtime.fees import fee_reserve_units, fee_units, notional_units


@dataclass(frozen=True, slots=True)
class HoldPlan:
    asset: str
    units: int


def base_units(market: MarketRules, quantity: Decimal) -> int:
    return int(quantity.scaleb(market.base_decimals).to_integral_value(rounding=ROUND_CEILING))


def max_fills(market: MarketRules, order_type: OrderType, time_in_force: TimeInForce, lots: int | None,
              budget: Decimal | None, max_book_orders: int) -> int:
    """How many fills the order can have at most: one per lot; a market buy bounded by its budget
    at least one lot at one tick per fill. An order that never rests trades only against what is
    in the book at once, so never with more orders than a book can hold."""
    bounds = []
    if lots is not None:
        bounds.append(lots)
    if budget is not None:
        bounds.append(int(budget // market.step_notional))
    rests = order_type is OrderType.LIMIT and time_in_force in (TimeInForce.GTC, TimeInForce.GTT)
    if not rests:
        bounds.append(max_book_orders)
    return max(1, min(bounds))


def hold_plan(market: MarketRules, side: Side, notional: Decimal | None, lots: int | None,
              fills: int, fee_rate: Decimal) -> HoldPlan:
    """The hold an order needs. `notional`: limit × quantity, or a market buy's max_notional."""
    if side is Side.SELL:
        if lots is None:
            raise ValueError("a sell order has a quantity")
        return HoldPlan(market.base_asset, base_units(market, market.quantity(lots)))
    if notional is None:
        raise ValueError("a buy order has a notional")
    units = notional_units(notional, market.quote_decimals)
    if market.fractional_notional:
        # Each fill's notional is rounded up on its own: n fills can cost n − 1 units more.
        units += fills - 1
    return HoldPlan(market.quote_asset, units + fee_reserve_units(units, fee_rate, fills))


def fill_consumption(market: MarketRules, side: Side, price: Decimal, quantity: Decimal, fee_rate: Decimal) -> int:
    """What one fill consumes of its order's hold when Settlement posts it."""
    if side is Side.SELL:
        return base_units(market, quantity)
    notional = notional_units(price * quantity, market.quote_decimals)
    return notional + fee_units(notional, fee_rate)
