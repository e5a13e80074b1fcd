"""Assets: configured precision, strict amount parsing, exact minor units."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.runtime.errors import InvalidArgument
from services.wallet.domain import (
    DEFAULT_ASSETS, Asset, WalletReason, format_units, from_units, parse_amount,
    parse_asset_config, parse_units, to_units,
)

USDC = DEFAULT_ASSETS["USDC"]


def test_default_assets_are_usdc_6_grid_3_btc_8() -> None:
    assert {code: asset.precision for code, asset in DEFAULT_ASSETS.items()} == {"USDC": 6, "GRID": 3, "BTC": 8}


def test_config_string_is_parsed_in_order() -> None:
    catalog = parse_asset_config("ETH:18, GRID:3")
    assert list(catalog) == ["ETH", "GRID"]
    assert catalog["ETH"] == Asset("ETH", 18)


@pytest.mark.parametrize("config", ["USDC", "USDC:x", "USDC:6,USDC:6", "usdc:6", "USDC:-1", "USDC:19", ""])
def test_malformed_config_is_rejected(config: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_asset_config(config)
    assert caught.value.reason == WalletReason.INVALID_ASSET_CONFIG


def test_unknown_asset_is_invalid_argument_naming_the_field() -> None:
    with pytest.raises(InvalidArgument) as caught:
        DEFAULT_ASSETS.resolve("DOGE", field="legs[0].asset")
    assert caught.value.reason == WalletReason.UNKNOWN_ASSET
    assert caught.value.violations[0][0] == "legs[0].asset"


def test_amount_is_parsed_at_the_asset_precision() -> None:
    assert parse_amount(USDC, "12.5") == Decimal("12.5")
    assert str(parse_amount(USDC, "12.5")) == "12.500000"


def test_amount_with_more_decimals_than_precision_is_refused_not_rounded() -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_amount(USDC, "1.0000001")
    assert caught.value.reason == WalletReason.AMOUNT_TOO_PRECISE
    assert caught.value.violations[0][0] == "amount"


def test_trailing_zeros_beyond_precision_are_exact_and_accepted() -> None:
    assert parse_units(USDC, "1.50000000") == 1_500_000


@pytest.mark.parametrize(
    "text", ["", "abc", "1e3", "1E-2", "NaN", "Infinity", "-inf", "+1", " 1", "1 ", "1_000", "1,5", ".5", "5.", "١٢", "0x10", "1" * 65]
)
def test_anything_but_a_plain_decimal_is_invalid(text: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_amount(USDC, text)
    assert caught.value.reason == WalletReason.INVALID_AMOUNT


@pytest.mark.parametrize("text", ["0", "0.000000", "-1", "-0.5"])
def test_zero_and_negative_amounts_are_refused(text: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_amount(USDC, text)
    assert caught.value.reason == WalletReason.AMOUNT_NOT_POSITIVE


def test_zero_is_accepted_where_allowed() -> None:
    assert parse_amount(USDC, "0", allow_zero=True) == 0


def test_amount_beyond_bigint_minor_units_is_refused() -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_amount(USDC, "9223372036854.775808")
    assert caught.value.reason == WalletReason.AMOUNT_TOO_LARGE


def test_largest_bigint_amount_is_accepted() -> None:
    assert parse_units(USDC, "9223372036854.775807") == 2**63 - 1


def test_units_round_trip_exactly() -> None:
    btc = DEFAULT_ASSETS["BTC"]
    assert to_units(btc, Decimal("0.00000001")) == 1
    assert from_units(btc, 1) == Decimal("0.00000001")
    assert format_units(btc, 150_000_000) == "1.50000000"
    assert to_units(btc, Decimal("-2.5")) == -250_000_000


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("Infinity"), Decimal("sNaN")])
def test_non_finite_decimals_have_no_units(value: Decimal) -> None:
    with pytest.raises(InvalidArgument) as caught:
        to_units(USDC, value)
    assert caught.value.reason == WalletReason.INVALID_AMOUNT
