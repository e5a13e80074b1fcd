"""The trading fee rule, shared by the Order service (which holds enough to pay it) and the
Settlement service (which charges it), so the two can never disagree by a unit.

Fee per side of a trade = `rate × notional`, rounded UP to the quote asset's smallest unit.
Notional is price × quantity in quote units; markets are created only where every
tick × lot is a whole number of quote units, so the notional itself never needs rounding.

Rounding each fill up means the fees of n fills can exceed the fee of their total by up to
n − 1 units; a hold therefore reserves one extra unit per possible fill (`fee_reserve_units`).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal


def fee_units(notional_units: int, rate: Decimal) -> int:
    """One side's fee for one fill, in the quote asset's smallest units (rounded up)."""
    if notional_units < 0:
        raise ValueError("notional must not be negative")
    return int((Decimal(notional_units) * rate).to_integral_value(rounding=ROUND_CEILING))


def fee_reserve_units(notional_units: int, rate: Decimal, max_fills: int) -> int:
    """The most the fees of an order's fills can come to, whatever way it is split into at
    most `max_fills` fills with `notional_units` in all."""
    if max_fills < 1:
        raise ValueError("an order has at least one possible fill")
    return fee_units(notional_units, rate) + max_fills - 1


def notional_units(amount: Decimal, decimals: int) -> int:
    """A fill's notional (price × quantity, in quote) in the quote asset's smallest units,
    rounded UP where tick × lot is finer than that unit: the buyer pays it and the seller gets
    it, so Order (which holds it) and Settlement (which posts it) must round the same way."""
    if amount < 0:
        raise ValueError("notional must not be negative")
    return int(amount.scaleb(decimals).to_integral_value(rounding=ROUND_CEILING))
