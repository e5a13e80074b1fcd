"""The trading fee rule, shared by the Order service (which holds enough to pay it) and the
Settlement service (which charges it), so the two can never disagree by a unit.

An order's fees = `rate × its filled notional`, rounded UP to the quote asset's smallest unit;
each fill is charged what it adds to that figure (`fill_fee_units`). So however an order is
split into fills — one trade at a time in a continuous market, several trades at once in an
auction clearing, which the order sees as one fill — its fees add up to exactly
`fee_units(filled notional)`: what Order holds for (`fee_units` of the order's notional) and
counts as consumed, and what Settlement charges trade by trade. Rounding each trade up on its
own instead would charge n fills up to n − 1 units more than their total's fee, and an auction
fill's trades more than Order could know of.

Notional is price × quantity in quote units; markets exist only where every tick × lot is a
whole number of quote units, so a notional never needs rounding.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal


def fee_units(notional_units: int, rate: Decimal) -> int:
    """One side's fee for one fill, in the quote asset's smallest units (rounded up)."""
    if notional_units < 0:
        raise ValueError("notional must not be negative")
    return int((Decimal(notional_units) * rate).to_integral_value(rounding=ROUND_CEILING))


def fill_fee_units(filled_before_units: int, fill_units: int, rate: Decimal) -> int:
    """One fill's fee: how much the order's fee grows when the fill adds `fill_units` of
    notional to the `filled_before_units` it already had."""
    if filled_before_units < 0 or fill_units < 0:
        raise ValueError("notional must not be negative")
    return fee_units(filled_before_units + fill_units, rate) - fee_units(filled_before_units, rate)


def notional_units(amount: Decimal, decimals: int) -> int:
    """A fill's notional (price × quantity, in quote) in the quote asset's smallest units,
    rounded UP where tick × lot is finer than that unit: the buyer pays it and the seller gets
    it, so Order (which holds it) and Settlement (which posts it) must round the same way."""
    if amount < 0:
        raise ValueError("notional must not be negative")
    return int(amount.scaleb(decimals).to_integral_value(rounding=ROUND_CEILING))
