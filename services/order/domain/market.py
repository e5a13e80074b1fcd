"""What the Order service needs to know of a market: its steps and limits, and the precision
of its two assets (the Wallet's smallest units, in which holds are placed)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class MarketRules:
    market_id: str  # "BTC-USDC" (the resource name is `markets/{market_id}`)
    base_asset: str
    quote_asset: str
    tick: Decimal
    lot: Decimal
    min_quantity: Decimal | None
    max_quantity: Decimal | None
    auction: bool
    halted: bool
    reference_price: Decimal | None
    base_decimals: int
    quote_decimals: int

    @property
    def name(self) -> str:
        return f"markets/{self.market_id}"

    @property
    def step_notional(self) -> Decimal:
        """The smallest notional a fill can have: one lot at one tick."""
        return self.tick * self.lot

    @property
    def settleable(self) -> bool:
        """Whether every fill's notional is a whole number of the quote asset's smallest units
        (tick × lot is): the fee rule both Order and Settlement apply needs exact notionals.
        Matching creates no other market; an older one is refused, not rounded."""
        return (self.step_notional.scaleb(self.quote_decimals) % 1) == 0

    def notional_units(self, ticks_times_lots: int) -> int:
        """The notional of `ticks × lots` (a fill's, or an order's fills' sum) in quote units."""
        return int((ticks_times_lots * self.step_notional).scaleb(self.quote_decimals))

    def lots(self, quantity: Decimal) -> int:
        return int(quantity / self.lot)

    def ticks(self, price: Decimal) -> int:
        return int(price / self.tick)

    def quantity(self, lots: int) -> Decimal:
        return lots * self.lot

    def price(self, ticks: int) -> Decimal:
        return ticks * self.tick
