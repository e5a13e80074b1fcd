"""What an order holds in the Wallet, and what its fills consume of that hold.

The protocol shared with Settlement (services/order/README.md), over the one fee rule of
services/runtime/fees.py (an order's fees are the fee of its whole filled notional, each fill
charged what it adds to that):
- a BUY holds its notional (limit × quantity, or max_notional for a market buy) plus that
  notional's fee, in the quote asset; a SELL holds its quantity in the base asset;
- a BUY's fills consume their notional plus what each adds to the order's fee; a SELL's fills
  consume their quantity in base units;
- when the order is final, Order releases `held − consumed` once, so what stays held is exactly
  what the fills Settlement has not posted yet still need.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal

from services.order.domain.enums import Side
from services.order.domain.market import MarketRules
from services.runtime.fees import fee_units, fill_fee_units, notional_units


@dataclass(frozen=True, slots=True)
class HoldPlan:
    asset: str
    units: int


def base_units(market: MarketRules, quantity: Decimal) -> int:
    return int(quantity.scaleb(market.base_decimals).to_integral_value(rounding=ROUND_CEILING))


def hold_plan(market: MarketRules, side: Side, notional: Decimal | None, lots: int | None,
              fee_rate: Decimal) -> HoldPlan:
    """The hold an order needs. `notional`: limit × quantity, or a market buy's max_notional."""
    if side is Side.SELL:
        if lots is None:
            raise ValueError("a sell order has a quantity")
        return HoldPlan(market.base_asset, base_units(market, market.quantity(lots)))
    if notional is None:
        raise ValueError("a buy order has a notional")
    units = notional_units(notional, market.quote_decimals)
    return HoldPlan(market.quote_asset, units + fee_units(units, fee_rate))


def fill_consumption(market: MarketRules, side: Side, fill_ticks_lots: int, fill_quantity: Decimal,
                     filled_before_ticks_lots: int, fee_rate: Decimal) -> int:
    """What one fill consumes of its order's hold when Settlement posts its trades: for a BUY its
    notional plus what it adds to the order's fee (its order had `filled_before_ticks_lots`)."""
    if side is Side.SELL:
        return base_units(market, fill_quantity)
    fill = market.notional_units(fill_ticks_lots)
    return fill + fill_fee_units(market.notional_units(filled_before_ticks_lots), fill, fee_rate)
