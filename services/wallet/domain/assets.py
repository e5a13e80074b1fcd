"""Assets, their configured precision, and exact amount parsing.

Amounts cross the wire as decimal strings and are kept as integer minor units
(amount × 10^precision) everywhere they are stored or summed, so arithmetic is exact
integer arithmetic and an amount with more decimals than its asset allows is refused,
never rounded.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

# The asset list is the platform's (Matching reads it too); re-exported for the Wallet's modules.
from services.runtime.assets import (
    DEFAULT_ASSET_CONFIG,
    MAX_PRECISION,
    Asset,
    AssetCatalog,
    parse_asset_config,
)
from services.runtime.errors import InvalidArgument
from services.runtime.steps import EXACT, MAX_DECIMAL_TEXT
from services.wallet.domain.reasons import WalletReason

__all__ = [
    "DEFAULT_ASSETS", "DEFAULT_ASSET_CONFIG", "MAX_PRECISION", "MAX_UNITS", "Asset", "AssetCatalog", "format_units",
    "from_units", "parse_amount", "parse_asset_config", "parse_units", "to_units",
]

# The store keeps minor units in BIGINT columns; an amount must fit one.
MAX_UNITS = 2**63 - 1
# ASCII digits only: Decimal() would also accept exponents, "_" separators, "+", spaces,
# NaN/Infinity and non-ASCII digits, none of which belong on the wire.
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")


DEFAULT_ASSETS = parse_asset_config(DEFAULT_ASSET_CONFIG)


def to_units(asset: Asset, amount: Decimal, *, field: str = "amount") -> int:
    """Exact signed minor units of `amount`; refuses NaN/Inf, excess decimals, overflow."""
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise _invalid(WalletReason.INVALID_AMOUNT, field, f"{amount!r} is not a finite decimal")
    scaled = amount.scaleb(asset.precision, context=EXACT)
    if scaled != scaled.to_integral_value(context=EXACT):
        raise _invalid(
            WalletReason.AMOUNT_TOO_PRECISE, field,
            f"{asset.code} allows at most {asset.precision} decimals, got {amount}",
        )
    units = int(scaled)
    if abs(units) > MAX_UNITS:
        raise _invalid(WalletReason.AMOUNT_TOO_LARGE, field, f"{amount} {asset.code} is too large")
    return units


def from_units(asset: Asset, units: int) -> Decimal:
    """The Decimal for `units` minor units, at the asset's full precision (1 → 0.000001)."""
    return Decimal(units).scaleb(-asset.precision, context=EXACT)


def format_units(asset: Asset, units: int) -> str:
    """Wire form with exactly `precision` decimals, e.g. "12.500000"."""
    return f"{from_units(asset, units):f}"


def parse_amount(
    asset: Asset, text: str, *, field: str = "amount", allow_zero: bool = False
) -> Decimal:
    """Parse a wire amount for `asset`: a plain positive decimal within its precision.

    Trailing zeros beyond the precision ("1.5000000" for a 6-decimal asset) are accepted:
    the value is still exact. Returned at the asset's precision, so equal amounts compare
    and print the same.
    """
    if (
        not isinstance(text, str)
        or len(text) > MAX_DECIMAL_TEXT
        or not _PLAIN_DECIMAL.fullmatch(text)
    ):
        raise _invalid(
            WalletReason.INVALID_AMOUNT, field,
            f"{text!r} is not a plain decimal number such as 12.5",
        )
    try:
        amount = Decimal(text)
    except InvalidOperation:  # unreachable after the pattern check; kept as a guard
        raise _invalid(WalletReason.INVALID_AMOUNT, field, f"{text!r} is not a number") from None
    units = to_units(asset, amount, field=field)
    if units < 0 or (units == 0 and not allow_zero):
        raise _invalid(
            WalletReason.AMOUNT_NOT_POSITIVE, field,
            f"must be {'zero or more' if allow_zero else 'greater than zero'}, got {text}",
        )
    return from_units(asset, units)


def parse_units(asset: Asset, text: str, *, field: str = "amount", allow_zero: bool = False) -> int:
    """`parse_amount` straight to minor units, for callers that only store integers."""
    return to_units(asset, parse_amount(asset, text, field=field, allow_zero=allow_zero), field=field)


def _invalid(reason: WalletReason, field: str, description: str) -> InvalidArgument:
    return InvalidArgument(reason, f"invalid {field}: {description}", violations=[(field, description)])
