"""The fee rule Order and Settlement share: an order's fees come to the fee of its whole fill,
however it is split into fills."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from services.runtime.fees import fee_units, fill_fee_units

RATE = Decimal("0.001")


def test_a_fee_is_rounded_up_to_the_smallest_unit() -> None:
    assert fee_units(100_500, RATE) == 101
    assert fee_units(100_000, RATE) == 100
    assert fee_units(0, RATE) == 0


def test_a_fill_is_charged_what_it_adds_to_its_orders_fee() -> None:
    assert fill_fee_units(0, 100_500, RATE) == 101  # 100.5 → 101
    assert fill_fee_units(100_500, 100_500, RATE) == 100  # 201 in all


@given(st.lists(st.integers(min_value=0, max_value=10**12), min_size=1, max_size=50),
       st.sampled_from([Decimal("0"), Decimal("0.001"), Decimal("0.0025"), Decimal("0.3")]))
def test_the_fees_of_any_split_add_up_to_the_fee_of_the_total(fills: list[int], rate: Decimal) -> None:
    before, charged = 0, 0
    for fill in fills:
        charged += fill_fee_units(before, fill, rate)
        before += fill
    assert charged == fee_units(sum(fills), rate)
