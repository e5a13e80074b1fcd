"""The platform's assets and their precision: one list (`settings.assets`, CLEARMESH_ASSETS)
that every service reads, so the Wallet holds what Matching trades.

`CODE:PRECISION[,CODE:PRECISION...]`, e.g. `USDC:6,GRID:3,BTC:8`: an asset's amounts have at
most `precision` decimals (1 minor unit = 10^-precision).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from services.runtime.errors import InvalidArgument

DEFAULT_ASSET_CONFIG = "USDC:6,GRID:3,BTC:8"
MAX_PRECISION = 18
INVALID_ASSET_CONFIG = "INVALID_ASSET_CONFIG"
UNKNOWN_ASSET = "UNKNOWN_ASSET"

ASSET_CODE = re.compile(r"[A-Z][A-Z0-9]{1,15}")


@dataclass(frozen=True, slots=True)
class Asset:
    code: str
    precision: int  # decimals allowed; 1 minor unit = 10^-precision

    def __post_init__(self) -> None:
        if not ASSET_CODE.fullmatch(self.code):
            raise ValueError(f"asset code {self.code!r} must match {ASSET_CODE.pattern}")
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
                UNKNOWN_ASSET,
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
        raise InvalidArgument(INVALID_ASSET_CONFIG, f"invalid asset configuration {text!r}", violations=violations)
    return AssetCatalog(assets)
