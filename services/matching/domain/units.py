"""Conversion between decimal strings and the engine's integer units, with validation.

Prices become ticks (multiples of tick_size), quantities become lots (multiples of lot_size),
budgets become notional units of tick_size * lot_size quote. Each helper reports problems as
(field, description) violations so one InvalidArgument can list every bad field at once.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from services.runtime.errors import InvalidArgument
from services.runtime.steps import EXACT, MAX_STEPS, count_steps

from .market import Market
from .reasons import MatchingReason


def _parse(value: str | Decimal, field: str, violations: list[tuple[str, str]]) -> Decimal | None:
    try:
        number = value if isinstance(value, Decimal) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        violations.append((field, "must be a decimal number"))
        return None
    if not number.is_finite():
        violations.append((field, "must be a finite decimal number"))
        return None
    return number


def _steps(
    value: str | Decimal, step: Decimal, field: str, step_name: str, violations: list[tuple[str, str]]
) -> int | None:
    number = _parse(value, field, violations)
    if number is None:
        return None
    if number <= 0:
        violations.append((field, "must be greater than 0"))
        return None
    steps = count_steps(number, step)
    if steps is None:
        violations.append((field, f"is too large: at most {MAX_STEPS} times the {step_name} {step}"))
        return None
    count, exact = steps
    if not exact:
        violations.append((field, f"must be a multiple of {step_name} {step}"))
        return None
    return count


def price_to_ticks(market: Market, price: str | Decimal, violations: list[tuple[str, str]], field: str = "price") -> int | None:
    """Ticks for `price`, or None after appending a violation."""
    return _steps(price, market.tick_size, field, "tick size", violations)


def quantity_to_lots(
    market: Market, quantity: str | Decimal, violations: list[tuple[str, str]], field: str = "quantity"
) -> int | None:
    """Lots for `quantity` within the market's min/max, or None after appending a violation."""
    lots = _steps(quantity, market.lot_size, field, "lot size", violations)
    if lots is None:
        return None
    if market.min_quantity is not None and lots * market.lot_size < market.min_quantity:
        violations.append((field, f"must be at least {market.min_quantity}"))
        return None
    if market.max_quantity is not None and lots * market.lot_size > market.max_quantity:
        violations.append((field, f"must be at most {market.max_quantity}"))
        return None
    return lots


def notional_to_units(
    market: Market, notional: str | Decimal, violations: list[tuple[str, str]], field: str = "max_notional"
) -> int | None:
    """A quote budget in units of tick_size*lot_size, rounded down: a budget may never be exceeded."""
    number = _parse(notional, field, violations)
    if number is None:
        return None
    if number <= 0:
        violations.append((field, "must be greater than 0"))
        return None
    steps = count_steps(number, EXACT.multiply(market.tick_size, market.lot_size))
    if steps is None:
        violations.append((field, f"is too large: at most {MAX_STEPS} lots at one tick"))
        return None
    return steps[0]


def ticks_to_price(market: Market, ticks: int) -> Decimal:
    return ticks * market.tick_size


def lots_to_quantity(market: Market, lots: int) -> Decimal:
    return lots * market.lot_size


def units_to_notional(market: Market, units: int) -> Decimal:
    return units * market.tick_size * market.lot_size


def raise_if_invalid(violations: list[tuple[str, str]]) -> None:
    if violations:
        described = "; ".join(f"{field} {text}" for field, text in violations)
        raise InvalidArgument(MatchingReason.INVALID_ORDER, f"invalid order: {described}", violations=violations)


def order_amounts(
    market: Market,
    *,
    price: str | Decimal | None,
    quantity: str | Decimal | None,
    max_notional: str | Decimal | None = None,
) -> tuple[int | None, int | None, int | None]:
    """(price_ticks, quantity_lots, max_notional_units) for an order; raises InvalidArgument listing every bad field."""
    violations: list[tuple[str, str]] = []
    ticks = None if price in (None, "") else price_to_ticks(market, price, violations)
    lots = None if quantity in (None, "") else quantity_to_lots(market, quantity, violations)
    budget = None if max_notional in (None, "") else notional_to_units(market, max_notional, violations)
    raise_if_invalid(violations)
    return ticks, lots, budget
