"""How many steps (ticks, lots, minor units) a decimal is: exactly, whatever its size.

Order, Matching and the Wallet turn prices, quantities and amounts into whole steps and check
that they are whole. Decimal's default context keeps 28 digits: a product beyond them is
silently rounded, and an integer quotient beyond them raises DivisionImpossible instead of
answering, so a price of 10^47 was answered INTERNAL where it deserved INVALID_ARGUMENT (found
by fuzzing CreateMarket through the edge). Here the magnitude is looked at first, so every
division that follows is exact, and a count beyond what the matching engine holds (its auction
counts in int64) is refused as too large instead of computed.
"""

from __future__ import annotations

from decimal import Context, Decimal

# The longest decimal text any service accepts: longer than any BIGINT amount at any precision,
# and it bounds the work spent on hostile input.
MAX_DECIMAL_TEXT = 64
# Exact for a product, sum or rescaling of decimals of MAX_DECIMAL_TEXT characters: never rounds.
EXACT = Context(prec=160)
# The most ticks or lots one price or quantity may be: the engine's int64 with room to add.
MAX_STEPS = 1 << 62
# A quotient of at most this many digits fits Decimal's 28 and is at least MAX_STEPS.
_MAX_QUOTIENT_DIGITS = 20


def count_steps(value: Decimal, step: Decimal) -> tuple[int, bool] | None:
    """(how many whole `step`s `value` holds, whether it is exactly that many), or None when it
    holds more than MAX_STEPS. `step` is positive."""
    if value and value.adjusted() - step.adjusted() >= _MAX_QUOTIENT_DIGITS:
        return None
    count, rest = divmod(value, step)
    if abs(count) > MAX_STEPS:
        return None
    return int(count), rest == 0


def is_whole(value: Decimal, decimals: int) -> bool:
    """Whether `value` is a whole number of 10^-decimals, read off its digits: exact at any size."""
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int), "finite decimals only"
    below = -decimals - exponent  # how many of its last digits stand below 10^-decimals
    return below <= 0 or not any(digits[-below:])
