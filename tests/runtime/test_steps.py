"""Steps of a decimal (ticks, lots, units): exact at any size, too large beyond the engine's range."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from services.runtime.steps import MAX_STEPS, count_steps, is_whole

HUGE_PRICE = Decimal("489457123092403025620053072282003753540813204312.0548")


def test_a_price_on_the_grid_is_that_many_ticks_exactly() -> None:
    assert count_steps(Decimal("30000.01"), Decimal("0.01")) == (3_000_001, True)


def test_a_price_off_the_grid_is_not_exact() -> None:
    assert count_steps(Decimal("1.005"), Decimal("0.01")) == (100, False)


def test_a_remainder_far_below_the_grid_is_still_seen() -> None:
    assert count_steps(Decimal("1." + "0" * 50 + "1"), Decimal("0.01")) == (100, False)


def test_a_value_beyond_decimals_28_digits_of_steps_is_too_large_not_an_error() -> None:
    assert count_steps(HUGE_PRICE, Decimal("0.01")) is None


def test_the_engines_range_ends_at_max_steps() -> None:
    tick = Decimal("0.01")
    assert count_steps(MAX_STEPS * tick, tick) == (MAX_STEPS, True)
    assert count_steps((MAX_STEPS + 1) * tick, tick) is None


@given(st.integers(0, MAX_STEPS), st.integers(-18, 18), st.integers(1, 999))
def test_whole_steps_count_back_exactly(count: int, exponent: int, digits: int) -> None:
    step = Decimal(digits).scaleb(exponent)
    assert count_steps(count * step, step) == (count, True)


def test_whole_units_are_read_off_the_digits() -> None:
    assert is_whole(Decimal("1.500"), 1)
    assert not is_whole(Decimal("1.55"), 1)
    assert not is_whole(Decimal("0.0001"), 0)
    assert is_whole(Decimal("1E+5"), 0)


def test_whole_units_of_a_huge_value_need_no_division() -> None:
    assert not is_whole(HUGE_PRICE, 2)
    assert is_whole(HUGE_PRICE, 4)
