"""Market definition, its fit with the platform's assets, and the two default markets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from services.runtime.errors import InvalidArgument
from services.runtime.steps import EXACT, is_whole

from .enums import MarketMode, MarketState, SelfTradePrevention
from .reasons import MatchingReason


@dataclass(frozen=True, slots=True)
class Market:
    """A market's static rules. Sizes are decimals in asset units; the engine works in ticks/lots."""

    name: str
    base_asset: str
    quote_asset: str
    tick_size: Decimal
    lot_size: Decimal
    min_quantity: Decimal | None = None
    max_quantity: Decimal | None = None
    mode: MarketMode = MarketMode.CONTINUOUS
    auction_interval_ms: int | None = None
    state: MarketState = MarketState.OPEN
    self_trade_prevention: SelfTradePrevention = SelfTradePrevention.CANCEL_RESTING
    reference_price: Decimal | None = None

    @property
    def min_lots(self) -> int:
        """Smallest order size in lots (at least one lot)."""
        if self.min_quantity is None:
            return 1
        return max(1, int(self.min_quantity // self.lot_size))

    @property
    def max_lots(self) -> int | None:
        if self.max_quantity is None:
            return None
        return int(self.max_quantity // self.lot_size)

    @property
    def reference_ticks(self) -> int | None:
        if self.reference_price is None:
            return None
        return int(self.reference_price // self.tick_size)

    def with_state(self, state: MarketState) -> Market:
        return replace(self, state=state)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable form (decimals as strings, enums as names)."""

        def text(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        return {
            "name": self.name,
            "base_asset": self.base_asset,
            "quote_asset": self.quote_asset,
            "tick_size": str(self.tick_size),
            "lot_size": str(self.lot_size),
            "min_quantity": text(self.min_quantity),
            "max_quantity": text(self.max_quantity),
            "mode": self.mode.name,
            "auction_interval_ms": self.auction_interval_ms,
            "state": self.state.name,
            "self_trade_prevention": self.self_trade_prevention.name,
            "reference_price": text(self.reference_price),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Market:
        def number(value: str | None) -> Decimal | None:
            return None if value is None else Decimal(value)

        return cls(
            name=data["name"],
            base_asset=data["base_asset"],
            quote_asset=data["quote_asset"],
            tick_size=Decimal(data["tick_size"]),
            lot_size=Decimal(data["lot_size"]),
            min_quantity=number(data["min_quantity"]),
            max_quantity=number(data["max_quantity"]),
            mode=MarketMode[data["mode"]],
            auction_interval_ms=data["auction_interval_ms"],
            state=MarketState[data["state"]],
            self_trade_prevention=SelfTradePrevention[data["self_trade_prevention"]],
            reference_price=number(data["reference_price"]),
        )


def require_fitting_assets(market: Market, precisions: Mapping[str, int]) -> None:
    """Refuse a market the Wallet could not hold or settle: both assets must be configured
    (`precisions`: asset code -> decimals, from `settings.assets`), quantities must be whole
    base-asset units, prices whole quote-asset units, and every tick × lot a whole number of
    quote units, so a fill's notional (and the fee on it, runtime/fees.py) never needs rounding.
    """
    unknown = [(field, f"{code!r} is not one of the assets {', '.join(precisions)}")
               for field, code in (("market.base_asset", market.base_asset), ("market.quote_asset", market.quote_asset))
               if code not in precisions]
    if unknown:
        raise InvalidArgument(MatchingReason.UNKNOWN_ASSET, "the market trades an asset the platform does not hold",
                              violations=unknown)
    base, quote = precisions[market.base_asset], precisions[market.quote_asset]
    violations = [
        (field, f"must be a whole number of {asset} units (at most {decimals} decimals)")
        for field, value, asset, decimals in (
            ("market.lot_size", market.lot_size, market.base_asset, base),
            ("market.min_quantity", market.min_quantity, market.base_asset, base),
            ("market.max_quantity", market.max_quantity, market.base_asset, base),
            ("market.tick_size", market.tick_size, market.quote_asset, quote),
        ) if value is not None and not is_whole(value, decimals)]
    if not is_whole(EXACT.multiply(market.tick_size, market.lot_size), quote):
        violations.append(("market.tick_size", (f"times lot_size must be a whole number of {market.quote_asset} "
                                                f"units (at most {quote} decimals)")))
    if violations:
        raise InvalidArgument(MatchingReason.PRECISION_MISMATCH, "the market's sizes do not fit its assets' precision",
                              violations=violations)


def default_markets(auction_interval_ms: int = 1000) -> list[Market]:
    """The two markets every deployment starts with: an energy auction and a continuous asset book.

    Both fit the default assets (USDC:6, GRID:3, BTC:8): tick × lot is one micro-USDC."""
    return [
        Market(
            name="GRID-USDC",
            base_asset="GRID",
            quote_asset="USDC",
            tick_size=Decimal("0.001"),
            lot_size=Decimal("0.001"),
            min_quantity=Decimal("0.001"),
            max_quantity=Decimal("1000000"),
            mode=MarketMode.PERIODIC_AUCTION,
            auction_interval_ms=auction_interval_ms,
            reference_price=Decimal("0.1000"),
        ),
        Market(
            name="BTC-USDC",
            base_asset="BTC",
            quote_asset="USDC",
            tick_size=Decimal("0.01"),
            lot_size=Decimal("0.0001"),
            min_quantity=Decimal("0.0001"),
            max_quantity=Decimal("1000"),
            mode=MarketMode.CONTINUOUS,
        ),
    ]
