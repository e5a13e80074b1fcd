"""Market definition and the two default markets."""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from .enums import MarketMode, MarketState, SelfTradePrevention


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


def default_markets(auction_interval_ms: int = 1000) -> list[Market]:
    """The two markets every deployment starts with: an energy auction and a continuous asset book."""
    return [
        Market(
            name="GRID-USDC",
            base_asset="KWH",
            quote_asset="USDC",
            tick_size=Decimal("0.0001"),
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
            lot_size=Decimal("0.00001"),
            min_quantity=Decimal("0.00001"),
            max_quantity=Decimal("1000"),
            mode=MarketMode.CONTINUOUS,
        ),
    ]
