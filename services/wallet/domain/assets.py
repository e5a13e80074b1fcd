"""Assets, their configured precision, and exact amount parsing.

Amounts cross the wire as decimal strings and are kept as integer minor units
(amount × 10^precision) everywhere they are stored or summed, so arithmetic is exact
integer arithmetic and an amount with more decimals than its asset allows is refused,
never rounded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Context, Decimal, InvalidOperation

from services.runtime.errors import InvalidArgument
from services.wallet.domain.reasons import WalletReason

DEFAULT_ASSET_CONFIG = "USDC:6,GRID:3,BTC:8"

# The store keeps minor units in BIGINT columns; an amount must fit one.
MAX_UNITS = 2**63 - 1
# Generous enough that scaling a BIGINT-sized amount never rounds.
_EXACT = Context(prec=80)
MAX_PRECISION = 18

_ASSET_CODE = re.compile(r"[A-Z][A-Z0-9]{1,15}")
# ASCII digits only: Decimal() would also accept exponents, "_" separators, "+", spaces,
# NaN/Infinity and non-ASCII digits, none of which belong on the wire.
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")
# Longer than any BIGINT amount at any precision; bounds the work spent on hostile input.
_MAX_AMOUNT_TEXT = 64


@dataclass(frozen=True, slots=True)
class Asset:
    code: str
    precision: int  # decimals allowed; 1 minor unit = 10^-precision

    def __post_init__(self) -> None:
        if not _ASSET_CODE.fullmatch(self.code):
            raise ValueError(f"asset code {self.code!r} must match {_ASSET_CODE.pattern}")
        if not 0 <= self.precision <= MAX_PRECISION:
            raise ValueError(f"precision {self.precision} outside 0..{MAX_PRECISION}")


@dataclass(frozen=True)
class AssetCatalog(Mapping[str, Asset]):
    """The configured assets by code; `resolve` is the validating lookup for requests."""

    by_code: Mapping[str, Asset]

    def __getitem__(self, code: str) -> Asset:
        return self.by_code[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self.by_code)

    def __len__(self) -> int:
        return len(self.by_code)

    def resolve(self, code: str, *, field: str = "asset") -> Asset:
        asset = self.by_code.get(code)
        if asset is None:
            raise InvalidArgument(
                WalletReason.UNKNOWN_ASSET,
                f"unknown asset {code!r}",
                metadata={"asset": str(code)},
                violations=[(field, f"must be one of {', '.join(self.by_code)}")],
            )
        return asset


def parse_asset_config(text: str) -> AssetCatalog:
    """Parse `CODE:PRECISION[,CODE:PRECISION...]`, e.g. `USDC:6,GRID:3,BTC:8`."""
    assets: dict[str, Asset] = {}
    violations: list[tuple[str, str]] = []
    for item in (part.strip() for part in text.split(",")):
        code, sep, precision_text = item.partition(":")
        code, precision_text = code.strip(), precision_text.strip()
        if not sep or not precision_text.isascii() or not precision_text.isdigit():
            violations.append(("assets", f"{item!r} is not CODE:PRECISION"))
            continue
        try:
            asset = Asset(code, int(precision_text))
        except ValueError as exc:
            violations.append(("assets", str(exc)))
            continue
        if code in assets:
            violations.append(("assets", f"asset {code} is listed twice"))
        assets[code] = asset
    if violations:
        raise InvalidArgument(
            WalletReason.INVALID_ASSET_CONFIG, f"invalid asset configuration {text!r}",
            violations=violations,
        )
    return AssetCatalog(assets)


DEFAULT_ASSETS = parse_asset_config(DEFAULT_ASSET_CONFIG)


def to_units(asset: Asset, amount: Decimal, *, field: str = "amount") -> int:
    """Exact signed minor units of `amount`; refuses NaN/Inf, excess decimals, overflow."""
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise _invalid(WalletReason.INVALID_AMOUNT, field, f"{amount!r} is not a finite decimal")
    scaled = amount.scaleb(asset.precision, context=_EXACT)
    if scaled != scaled.to_integral_value(context=_EXACT):
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
    return Decimal(units).scaleb(-asset.precision, context=_EXACT)


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
        or len(text) > _MAX_AMOUNT_TEXT
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
