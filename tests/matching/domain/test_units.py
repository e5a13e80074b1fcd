from decimal import Decimal

import pytest

from services.matching.domain import (
    default_markets,
    lots_to_quantity,
    order_amounts,
    ticks_to_price,
)
from services.runtime.errors import InvalidArgument

BTC = next(m for m in default_markets() if m.name == "BTC-USDC")


def test_price_and_quantity_convert_to_ticks_and_lots() -> None:
    assert order_amounts(BTC, price="30000.01", quantity="0.5") == (3_000_001, 5_000, None)


def test_ticks_and_lots_convert_back_to_decimals() -> None:
    assert ticks_to_price(BTC, 3_000_001) == Decimal("30000.01")
    assert lots_to_quantity(BTC, 5_000) == Decimal("0.5")


def test_price_off_the_tick_grid_is_rejected_with_a_field_violation() -> None:
    with pytest.raises(InvalidArgument) as error:
        order_amounts(BTC, price="1.005", quantity="1")
    assert error.value.violations == [("price", "must be a multiple of tick size 0.01")]


def test_quantity_off_the_lot_grid_is_rejected() -> None:
    with pytest.raises(InvalidArgument) as error:
        order_amounts(BTC, price="1", quantity="0.000001")
    assert error.value.violations == [("quantity", "must be a multiple of lot size 0.0001")]


@pytest.mark.parametrize("quantity", ["0", "-1"])
def test_quantity_must_be_positive(quantity: str) -> None:
    with pytest.raises(InvalidArgument) as error:
        order_amounts(BTC, price="1", quantity=quantity)
    assert error.value.violations == [("quantity", "must be greater than 0")]


def test_quantity_above_the_market_maximum_is_rejected() -> None:
    with pytest.raises(InvalidArgument) as error:
        order_amounts(BTC, price="1", quantity="1000.0001")
    assert error.value.violations == [("quantity", f"must be at most {BTC.max_quantity}")]


def test_every_bad_field_is_reported_at_once() -> None:
    with pytest.raises(InvalidArgument) as error:
        order_amounts(BTC, price="abc", quantity="0.000001")
    assert [field for field, _ in error.value.violations] == ["price", "quantity"]
    assert error.value.reason == "INVALID_ORDER"


def test_budget_rounds_down_to_whole_notional_units() -> None:
    # One unit is tick * lot = 0.01 * 0.0001 = 1e-6 USDC, the quote asset's smallest unit.
    assert order_amounts(BTC, price=None, quantity=None, max_notional="0.0000015") == (None, None, 1)


def test_default_markets_are_an_energy_auction_and_a_continuous_asset_book() -> None:
    grid, btc = default_markets()
    assert (grid.name, grid.mode.name, grid.base_asset) == ("GRID-USDC", "PERIODIC_AUCTION", "GRID")
    assert (btc.name, btc.mode.name) == ("BTC-USDC", "CONTINUOUS")


def test_a_price_too_large_for_the_engine_is_refused_by_name() -> None:
    with pytest.raises(InvalidArgument) as error:
        order_amounts(BTC, price="489457123092403025620053072282003753540813204312.05", quantity="1")
    assert [field for field, _ in error.value.violations] == ["price"]


def test_a_budget_too_large_for_the_engine_is_refused_by_name() -> None:
    with pytest.raises(InvalidArgument) as error:
        order_amounts(BTC, price=None, quantity=None, max_notional="1" + "0" * 40)
    assert [field for field, _ in error.value.violations] == ["max_notional"]
